"""Every write to events: plan, update, cancel, register, attendance and badge imports, reminders.

Invariants:
- create/update/cancel write an audit entry in the same transaction; a change attendees must see
  raises `sequence` by one and re-sends the invitation after commit (task, by ids);
- registering is idempotent per (event, email) (unique constraint): registering twice returns the
  first registration and sends nothing new;
- touchpoints (channel = the event kind, department marketing, campaign = the campaign's UTM
  code, content = the event slug): `<kind>_registered` once per registration, `<kind>_attended`
  when attendance first becomes true, `<kind>_no_show` when attendance is closed without it —
  each guarded by a conditional UPDATE of `attended`, so re-importing a file adds nothing;
- imports store each valid row and report each invalid one; an unreadable file stores nothing;
- the lead rule moves attendees who are subscribers to lead through the leads lifecycle service.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage
from tandem.crm.validation import clean_email
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.events import mail
from tandem.marketing.events.models import (
    EventKind,
    EventReminder,
    InvitationSent,
    MarketingEvent,
    Registration,
)
from tandem.marketing.validation import clean_text, visible_ref

log = logging.getLogger("tandem.marketing")
EVENT_FIELDS = {
    "kind",
    "title",
    "slug",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "join_url",
    "organizer_name",
    "organizer_email",
    "campaign_id",
    "reminder_hours",
}
VISIBLE_TO_ATTENDEES = {"title", "description", "starts_at", "ends_at", "location", "join_url"}


def parse_datetime(field: str, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value or "").strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                {field: [_("Not a date and time: %(v)s") % {"v": text[:40]}]}
            ) from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _clean(data: dict[str, Any], current: MarketingEvent | None, actor: Actor) -> dict[str, Any]:
    unknown = set(data) - EVENT_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def take(key: str, fn: Any) -> None:
        if key in data or current is None:
            try:
                out[key] = fn(data.get(key))
            except InvalidInput as exc:
                errors.update(exc.errors)
            except ValueError as exc:
                errors[key] = [str(exc)]

    def kind(v: Any) -> str:
        if v not in EventKind.values:
            raise InvalidInput({"kind": [_("Choose webinar or conference.")]})
        return str(v)

    def required(key: str, limit: int) -> Any:
        def fn(v: Any) -> str:
            return clean_text(v, field=key, limit=limit, required=_("This field is required."))

        return fn

    def email(v: Any) -> str:
        text = clean_text(v, field="organizer_email", limit=254)
        try:
            return clean_email(text)
        except ValueError:
            raise InvalidInput({"organizer_email": [_("Enter a valid email address.")]}) from None

    def url(v: Any) -> str:
        text = clean_text(v, field="join_url", limit=1000)
        if text and (not text.startswith(("https://", "http://")) or len(text) > 1000):
            raise InvalidInput({"join_url": [_("Enter an http:// or https:// address.")]})
        return text

    def reminders(v: Any) -> list[int]:
        if v in (None, ""):
            return [24, 1]
        items = v if isinstance(v, list) else str(v)[:100].replace(";", ",").split(",")
        try:
            hours = sorted(
                {int(str(h).strip()) for h in items[:20] if str(h).strip()}, reverse=True
            )
        except ValueError:
            raise InvalidInput(
                {"reminder_hours": [_("Hours as whole numbers, e.g. 24, 1.")]}
            ) from None
        if any(h < 1 or h > 24 * 30 for h in hours) or len(hours) > 5:
            raise InvalidInput({"reminder_hours": [_("Up to 5 reminders, 1 to 720 hours before.")]})
        return hours

    take("kind", kind)
    take("title", required("title", 200))
    take("organizer_name", required("organizer_name", 100))
    take("organizer_email", email)
    take("starts_at", lambda v: parse_datetime("starts_at", v))
    take("ends_at", lambda v: parse_datetime("ends_at", v))
    take("join_url", url)
    take("reminder_hours", reminders)
    for key, limit in (("description", 5000), ("location", 300)):
        if key in data:
            take(key, lambda v, key=key, limit=limit: clean_text(v, field=key, limit=limit))
    if "campaign_id" in data:
        take(
            "campaign_id",
            lambda v: visible_ref(
                actor, Campaign, v, field="campaign_id", missing=_("No such campaign.")
            ),
        )
    if current is None:
        take("slug", lambda v: clean_text(v, field="slug", limit=100))
        out["slug"] = slugify(str(out.get("slug") or out.get("title") or ""))[:100]
        if not out["slug"] and "slug" not in errors:
            errors["slug"] = [_("An event needs an address (letters, digits, hyphens).")]
    elif "slug" in data and data["slug"] != current.slug:
        errors["slug"] = [_("The registration address cannot change.")]
    starts = out.get("starts_at", current.starts_at if current else None)
    ends = out.get("ends_at", current.ends_at if current else None)
    if starts and ends and ends <= starts and "ends_at" not in errors:
        errors["ends_at"] = [_("The event must end after it starts.")]
    if errors:
        raise InvalidInput(errors)
    return out


def event_create(*, actor: Actor, **data: Any) -> MarketingEvent:
    cleaned = _clean(data, None, actor)
    try:
        with transaction.atomic():
            event = MarketingEvent.objects.create(created_by=actor.user, **cleaned)
            record_change(
                actor=actor, action="create", instance=event, changes=diff({}, snapshot(event))
            )
    except IntegrityError:
        raise InvalidInput(
            {"slug": [_("The address %(s)s is already used.") % {"s": cleaned["slug"]}]}
        ) from None
    return event


def _resend_after_commit(event_id: int) -> None:
    from tandem.core.tasks import enqueue_on_commit
    from tandem.marketing.events import tasks

    enqueue_on_commit(tasks.event_invitations_send, event_id)


@transaction.atomic
def event_update(*, actor: Actor, event: MarketingEvent, **data: Any) -> MarketingEvent:
    cleaned = _clean(data, event, actor)
    locked = MarketingEvent.objects.select_for_update().get(pk=event.pk)
    if locked.status == MarketingEvent.Status.CANCELLED:
        raise InvalidInput(_("A cancelled event cannot change."))
    before = snapshot(locked)
    for key, value in cleaned.items():
        setattr(locked, key, value)
    fields = list(cleaned)
    visible = {k for k in VISIBLE_TO_ATTENDEES if before.get(k) != snapshot(locked).get(k)}
    if visible:
        locked.sequence += 1
        fields.append("sequence")
    locked.save(update_fields=fields)
    changes = diff(before, snapshot(locked))
    if changes:
        record_change(actor=actor, action="update", instance=locked, changes=changes)
    if {"starts_at", "reminder_hours"} & set(changes):
        EventReminder.objects.filter(registration__event=locked, claimed_at__isnull=True).delete()
        for registration in locked.registrations.all():
            _plan_reminders(locked, registration)
    if visible:
        _resend_after_commit(locked.pk)
    return locked


@transaction.atomic
def event_cancel(*, actor: Actor, event: MarketingEvent) -> MarketingEvent:
    """Cancel: SEQUENCE + 1, METHOD:CANCEL to every registrant, pending reminders dropped."""
    updated = MarketingEvent.objects.filter(
        pk=event.pk, status=MarketingEvent.Status.SCHEDULED
    ).update(status=MarketingEvent.Status.CANCELLED, sequence=F("sequence") + 1)
    event.refresh_from_db()
    if updated:
        record_change(
            actor=actor,
            action="update",
            instance=event,
            changes={
                "status": ["scheduled", "cancelled"],
                "sequence": [event.sequence - 1, event.sequence],
            },
        )
        EventReminder.objects.filter(registration__event=event, claimed_at__isnull=True).delete()
        _resend_after_commit(event.pk)
    return event


# --- registration ---------------------------------------------------------------------------


def _touch(event: MarketingEvent, registration: Registration, what: str, at: dt.datetime) -> None:
    crm.touchpoint_record(
        channel=event.kind,
        kind=f"{event.kind}_{what}",
        department="marketing",
        contact=registration.contact,
        occurred_at=at,
        campaign=event.campaign.utm_code if event.campaign_id and event.campaign else "",
        content=event.slug,
        source="event",
        properties={"event": event.pk, "registration": registration.pk},
    )


def _contact_for(email: str, name: str) -> Contact:
    found = crm.contact_duplicates_of(email=email)
    if found:
        return Contact.objects.get(pk=found[0])
    first, _sep, last = name.strip().partition(" ")
    return crm.contact_create(
        actor=Actor.system(),
        first_name=first[:100],
        last_name=last[:100],
        email=email,
        lifecycle_stage=LifecycleStage.SUBSCRIBER,
    )


def _plan_reminders(event: MarketingEvent, registration: Registration) -> None:
    now = timezone.now()
    rows = [
        EventReminder(
            registration=registration,
            hours_before=hours,
            due_at=event.starts_at - dt.timedelta(hours=hours),
        )
        for hours in event.reminder_hours
        if event.starts_at - dt.timedelta(hours=hours) > now
    ]
    EventReminder.objects.bulk_create(rows, ignore_conflicts=True)


def _registration(
    event: MarketingEvent, *, email: str, name: str, company: str, source: str, at: dt.datetime
) -> tuple[Registration, bool]:
    """The registration of `email` (created with its touchpoint if new); (row, created)."""
    existing = Registration.objects.filter(event=event, email=email).first()
    if existing is not None:
        return existing, False
    contact = _contact_for(email, name)
    try:
        with transaction.atomic():
            registration = Registration.objects.create(
                event=event,
                contact=contact,
                email=email,
                name=name[:200],
                company=company[:200],
                source=source,
                registered_at=at,
            )
    except IntegrityError:  # registered concurrently: the stored row wins
        return Registration.objects.get(event=event, email=email), False
    _touch(event, registration, "registered", at)
    return registration, True


def register(
    *, event: MarketingEvent, email: str, name: str = "", company: str = ""
) -> tuple[Registration, bool]:
    """Register someone on the public page; the invitation goes out after commit."""
    errors: dict[str, list[str]] = {}
    try:
        email = clean_email(email[:254])
    except ValueError:
        errors["email"] = [_("Enter a valid email address.")]
    if not name.strip():
        errors["name"] = [_("Tell us your name.")]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        locked = MarketingEvent.objects.select_for_update().get(pk=event.pk)
        if locked.status != MarketingEvent.Status.SCHEDULED or locked.ends_at <= timezone.now():
            raise InvalidInput(_("Registration for this event is closed."), code="closed")
        registration, created = _registration(
            locked,
            email=email,
            name=name.strip(),
            company=company.strip(),
            source=Registration.Source.PAGE,
            at=timezone.now(),
        )
        if created:
            _plan_reminders(locked, registration)
            from tandem.core.tasks import enqueue_on_commit
            from tandem.marketing.events import tasks

            enqueue_on_commit(tasks.invitation_send, registration.pk)
    return registration, created


# --- invitations and reminders (called by tasks, outside transactions) -----------------------


def invitation_deliver(*, registration_id: int) -> bool:
    """Send the current version of the invitation (REQUEST, or CANCEL for a cancelled event) once;
    returns whether a message was sent."""
    registration = Registration.objects.select_related("event").get(pk=registration_id)
    event = registration.event
    method = "CANCEL" if event.status == MarketingEvent.Status.CANCELLED else "REQUEST"
    try:
        with transaction.atomic():
            claim = InvitationSent.objects.create(
                registration=registration, sequence=event.sequence, method=method
            )
    except IntegrityError:
        return False
    try:
        mail.deliver(mail.invitation_bytes(event, registration, method), to=registration.email)
    except Exception:
        claim.delete()  # not sent: a retry may send it
        raise
    return True


def invitations_deliver(*, event_id: int) -> int:
    ids = list(
        Registration.objects.filter(event_id=event_id).order_by("pk").values_list("pk", flat=True)
    )
    return sum(1 for pk in ids if invitation_deliver(registration_id=pk))


def reminders_send_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Send due reminders; each is claimed with a conditional UPDATE first."""
    now = now or timezone.now()
    sent = 0
    due = EventReminder.objects.filter(
        claimed_at__isnull=True,
        due_at__lte=now,
        registration__event__status=MarketingEvent.Status.SCHEDULED,
        registration__event__starts_at__gt=now,
    ).values_list("pk", flat=True)[:limit]
    for pk in list(due):
        if not EventReminder.objects.filter(pk=pk, claimed_at__isnull=True).update(claimed_at=now):
            continue  # another worker has it
        reminder = EventReminder.objects.select_related("registration__event").get(pk=pk)
        registration = reminder.registration
        try:
            mail.deliver(
                mail.reminder_bytes(registration.event, registration, reminder.hours_before),
                to=registration.email,
            )
        except Exception:
            EventReminder.objects.filter(pk=pk).update(claimed_at=None)
            log.exception("reminder %s not sent", pk)
            continue
        EventReminder.objects.filter(pk=pk).update(sent_at=timezone.now())
        sent += 1
    return sent
