"""Product trainings: a curriculum per product, sessions (on site, at a centre, online),
attendees from client accounts, attendance and assessment, certificates (PDF, public
verification link) and reminders to recertify.

Invariants:
- a contact attends a session at most once (unique row); a session holds at most `capacity`;
- marking someone as attended writes one touchpoint (department `field`, channel `training`,
  kind `training_attended`) through crm's `touchpoint_record`, the first time only, so it
  counts in scoring and attribution exactly once; passing the assessment writes
  `training_passed` once and earns the loyalty points of the member's programmes once;
- a certificate exists exactly when the attendee passed; its token is random (192 bits) and
  is the only way to it from outside; it is valid until `expires_on`;
- a reminder to recertify is sent at most once per certificate: the sender claims the row with a
  conditional UPDATE of `reminder_sent_at` before sending.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from fpdf import FPDF

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.mail_headers import one_line
from tandem.core.models import Department, Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.programmes import loyalty
from tandem.programmes.models import (
    Attendance,
    AttendanceStatus,
    Curriculum,
    EarnSource,
    Membership,
    SessionMode,
    TrainingSession,
    new_token,
)
from tandem.sales.models import Product

REMIND_DAYS_BEFORE = 30
FONT = "DejaVuSans"


@transaction.atomic
def curriculum_create(
    *,
    actor: Actor,
    product: Product,
    name: str,
    modules: str = "",
    pass_mark: int = 70,
    valid_months: int = 24,
) -> Curriculum:
    if not 0 <= pass_mark <= 100:
        raise InvalidInput({"pass_mark": [_("A pass mark is between 0 and 100.")]})
    if valid_months < 1:
        raise InvalidInput({"valid_months": [_("A certificate is valid at least a month.")]})
    curriculum = Curriculum.objects.create(
        product=product, name=name, modules=modules, pass_mark=pass_mark, valid_months=valid_months
    )
    record_change(
        actor=actor, action="create", instance=curriculum, changes=diff({}, snapshot(curriculum))
    )
    return curriculum


@transaction.atomic
def session_create(
    *,
    actor: Actor,
    curriculum: Curriculum,
    mode: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    location: str = "",
    host_account: Account | None = None,
    trainer: User | None = None,
    capacity: int = 20,
) -> TrainingSession:
    errors: dict[str, list[str]] = {}
    if mode not in SessionMode.values:
        errors["mode"] = [_("Choose on site, centre or online.")]
    if ends_at <= starts_at:
        errors["ends_at"] = [_("A session ends after it starts.")]
    if capacity < 1:
        errors["capacity"] = [_("A session has at least one place.")]
    if mode == SessionMode.ON_SITE and host_account is None:
        errors["host_account"] = [_("A session on site is at a client's: choose the account.")]
    if errors:
        raise InvalidInput(errors)
    session = TrainingSession.objects.create(
        curriculum=curriculum,
        mode=mode,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        host_account=host_account,
        trainer=trainer or actor.user,
        capacity=capacity,
    )
    record_change(
        actor=actor, action="create", instance=session, changes=diff({}, snapshot(session))
    )
    return session


@transaction.atomic
def attendee_register(*, actor: Actor, session_id: int, contact: Contact) -> Attendance:
    session = TrainingSession.objects.select_for_update().get(pk=session_id)
    existing = Attendance.objects.filter(session=session, contact=contact).first()
    if existing is not None:
        return existing
    if contact.account_id is None:
        raise InvalidInput({"contact": [_("Attendees come from client accounts.")]})
    taken = Attendance.objects.filter(session=session).aggregate(n=Count("id"))["n"]
    if taken >= session.capacity:
        raise InvalidInput({"contact": [_("The session is full.")]}, code="full")
    attendance = Attendance.objects.create(
        session=session, contact=contact, account_id=contact.account_id
    )
    record_change(
        actor=actor, action="create", instance=attendance, changes=diff({}, snapshot(attendance))
    )
    return attendance


def _touch(attendance: Attendance, kind: str, actor: Actor, at: dt.datetime) -> None:
    session = attendance.session
    crm.touchpoint_record(
        channel="training",
        kind=kind,
        department=Department.FIELD,
        contact=attendance.contact,
        occurred_at=at,
        content=session.curriculum.name,
        actor=actor.user,
        source="programmes",
        properties={
            "session": session.pk,
            "attendance": attendance.pk,
            "mode": session.mode,
            "product": session.curriculum.product_id,
        },
    )


@transaction.atomic
def attendance_mark(*, actor: Actor, attendance_id: int, attended: bool) -> Attendance:
    attendance = (
        Attendance.objects.select_for_update()
        .select_related("session__curriculum", "contact")
        .get(pk=attendance_id)
    )
    before = attendance.status
    status = AttendanceStatus.ATTENDED if attended else AttendanceStatus.NO_SHOW
    if attendance.passed and not attended:
        raise InvalidInput(_("A certified attendee attended."))
    if before == status:
        return attendance
    attendance.status = status
    attendance.save(update_fields=["status"])
    if attended and not crm_touched(attendance, "training_attended"):
        _touch(attendance, "training_attended", actor, attendance.session.ends_at)
    record_change(
        actor=actor, action="update", instance=attendance, changes={"status": [before, status]}
    )
    return attendance


def crm_touched(attendance: Attendance, kind: str) -> bool:
    """Whether this attendance already wrote a touchpoint of `kind` (so it is written once)."""
    return Touchpoint.objects.filter(
        contact_id=attendance.contact_id,
        kind=kind,
        source="programmes",
        properties__attendance=attendance.pk,
    ).exists()


@transaction.atomic
def assessment_record(*, actor: Actor, attendance_id: int, score: int) -> Attendance:
    """Record the assessment; passing issues the certificate (once) and earns loyalty points."""
    if not 0 <= score <= 100:
        raise InvalidInput({"score": [_("A score is between 0 and 100.")]})
    attendance = (
        Attendance.objects.select_for_update()
        .select_related("session__curriculum", "contact")
        .get(pk=attendance_id)
    )
    if attendance.status != AttendanceStatus.ATTENDED:
        raise InvalidInput({"score": [_("Only someone who attended is assessed.")]})
    before = snapshot(attendance)
    curriculum = attendance.session.curriculum
    attendance.score = score
    passed = score >= curriculum.pass_mark
    if passed and not attendance.passed:
        attendance.passed = True
        attendance.certificate_token = new_token()
        zone = timezone.get_current_timezone()
        certified = attendance.session.ends_at.astimezone(zone).date()
        attendance.certified_on = certified
        attendance.expires_on = loyalty.add_months(certified, curriculum.valid_months)
        _touch(attendance, "training_passed", actor, attendance.session.ends_at)
        _earn(actor, attendance)
    attendance.save(
        update_fields=["score", "passed", "certificate_token", "certified_on", "expires_on"]
    )
    record_change(
        actor=actor,
        action="update",
        instance=attendance,
        changes=diff(before, snapshot(attendance)),
    )
    return attendance


def _earn(actor: Actor, attendance: Attendance) -> None:
    if attendance.account_id is None:
        return
    for membership_id in Membership.objects.filter(
        account_id=attendance.account_id, programme__active=True
    ).values_list("pk", flat=True):
        loyalty.points_earn(
            actor=actor,
            membership_id=membership_id,
            source=EarnSource.TRAINING,
            source_key=f"certificate:{attendance.pk}",
            amount=Decimal("1"),
            at=attendance.session.ends_at,
            note=attendance.session.curriculum.name,
        )


# --- certificates -----------------------------------------------------------------------------


def certificate_valid(attendance: Attendance, on: dt.date | None = None) -> bool:
    on = on or timezone.localdate()
    return bool(attendance.passed and attendance.expires_on and on < attendance.expires_on)


def _font_path() -> Path:
    """DejaVu Sans, shipped by sales for its quotes (Latin and Cyrillic)."""
    return Path(apps.get_app_config("sales").path) / "fonts" / "DejaVuSans.ttf"


def certificate_pdf(attendance: Attendance, verify_url: str) -> bytes:
    """The certificate as a one-page PDF with the verification link printed on it."""
    if not attendance.passed or not attendance.certificate_token:
        raise InvalidInput(_("No certificate: the attendee has not passed."))
    session = attendance.session
    contact = attendance.contact
    pdf = FPDF(orientation="landscape", unit="pt", format="A4")
    pdf.set_title(_("Certificate"))
    pdf.set_creator("Tandem")
    pdf.add_font(FONT, "", str(_font_path()))
    pdf.set_margins(left=60, top=60, right=60)
    pdf.add_page()
    pdf.set_font(FONT, size=14)
    pdf.cell(0, 30, Organisation.current().name, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(FONT, size=30)
    pdf.cell(0, 60, _("Certificate of training"), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(FONT, size=22)
    name = f"{contact.first_name} {contact.last_name}".strip() or contact.email
    pdf.cell(0, 44, name, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font(FONT, size=14)
    pdf.multi_cell(
        0,
        22,
        _("passed “%(curriculum)s” (%(product)s) with %(score)d%% on %(date)s.")
        % {
            "curriculum": session.curriculum.name,
            "product": session.curriculum.product.name,
            "score": attendance.score or 0,
            "date": attendance.certified_on,
        },
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        30,
        _("Valid until %(date)s") % {"date": attendance.expires_on},
        new_x="LMARGIN",
        new_y="NEXT",
        align="C",
    )
    pdf.set_font(FONT, size=10)
    pdf.ln(20)
    pdf.cell(0, 16, _("Verify this certificate:"), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.cell(0, 16, verify_url, new_x="LMARGIN", new_y="NEXT", align="C", link=verify_url)
    return bytes(pdf.output())


def verify_path(attendance: Attendance) -> str:
    return reverse("programmes:certificate_verify", args=[attendance.certificate_token])


def base_url() -> str:
    return (getattr(settings, "TANDEM_BASE_URL", "") or "http://localhost:8000").rstrip("/")


def recertification_reminders_send(*, today: dt.date | None = None) -> int:
    """Remind each certified attendee whose certificate ends within REMIND_DAYS_BEFORE days, once.
    Returns the number of reminders sent."""
    today = today or timezone.localdate()
    due = Attendance.objects.filter(
        passed=True,
        reminder_sent_at__isnull=True,
        expires_on__lte=today + dt.timedelta(days=REMIND_DAYS_BEFORE),
        expires_on__gte=today,
    ).exclude(contact__email="")
    sent = 0
    language = Organisation.current().language or settings.LANGUAGE_CODE
    for pk in due.values_list("pk", flat=True):
        claimed = Attendance.objects.filter(pk=pk, reminder_sent_at__isnull=True).update(
            reminder_sent_at=timezone.now()
        )
        if not claimed:
            continue
        attendance = Attendance.objects.select_related("contact", "session__curriculum").get(pk=pk)
        with translation.override(language):
            subject = one_line(
                _("Your certificate “%(name)s” ends on %(date)s")
                % {"name": attendance.session.curriculum.name, "date": attendance.expires_on}
            )
            body = _(
                "Hello %(name)s,\n\nyour certificate for “%(curriculum)s” is valid until "
                "%(date)s. Ask us for a place in a recertification session.\n\n"
                "The certificate: %(url)s\n"
            ) % {
                "name": attendance.contact.first_name or attendance.contact.email,
                "curriculum": attendance.session.curriculum.name,
                "date": attendance.expires_on,
                "url": base_url() + verify_path(attendance),
            }
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [attendance.contact.email])
        sent += 1
    return sent
