"""Sending a template to a segment: recipients, eligibility at send time, resumable delivery, A/B.

Invariants:
- recipients are materialised once, when the send leaves "draft" (a conditional UPDATE decides
  which caller does it); one row per contact (unique constraint);
- each row is claimed (pending -> claimed) with a conditional UPDATE before delivery and marked
  sent after: a row that is not pending is never delivered, so a send that crashed and is run
  again mails nobody twice. If delivery raises, the claim is released (nothing was accepted) and
  the run stops; a process killed mid-delivery leaves "claimed", which is never resent;
- eligibility is checked right before each message (suppressed, unsubscribed/no consent,
  frequency cap), so an unsubscribe takes effect for a queued send at once;
- A/B: the test share gets subjects A and B alternately; the rest wait for the winner, chosen by
  rule (unique opens or clicks by people; a tie keeps A).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable
from typing import Any

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.email import message, render
from tandem.marketing.models import (
    EmailRecipient,
    EmailSend,
    EmailTemplate,
    Segment,
    SubscriptionType,
    Suppression,
)
from tandem.marketing.segments.services import segment_members
from tandem.tracking.models import ConsentRecord

R = EmailRecipient.Status
STALE_CLAIM = dt.timedelta(minutes=15)


@transaction.atomic
def template_save(
    *, actor: Actor, name: str, subject: str, html: str, template: EmailTemplate | None = None
) -> EmailTemplate:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("This field is required.")]
    if not subject.strip():
        errors["subject"] = [_("This field is required.")]
    if errors:
        raise InvalidInput(errors)
    render.check_template(subject, field="subject")
    render.check_template(html)
    action = "create" if template is None else "update"
    template = template or EmailTemplate(created_by=actor.user)
    template.name, template.subject, template.html = name.strip()[:200], subject[:300], html
    template.save()
    record_change(actor=actor, action=action, instance=template, changes=snapshot(template))
    return template


def preview(*, template: EmailTemplate, contact: Contact | None) -> render.Rendered:
    return render.render(
        subject=template.subject, html=template.html, context=render.contact_context(contact)
    )


def test_send(*, template: EmailTemplate, contact: Contact | None, to: str, from_email: str) -> str:
    """Send one rendered copy marked [Test] to `to`; returns its Message-ID."""
    rendered = preview(template=template, contact=contact)
    raw, message_id = message.build(
        from_email=from_email,
        from_name="",
        to=to,
        subject=f"[{_('Test')}] {rendered.subject}",
        html=rendered.html,
        text=rendered.text,
        token="test",  # noqa: S106 - not a secret: the test copy has no recipient row
    )
    get_connection().send_messages([message.RawEmail(raw, envelope_from=from_email, to=to)])
    return message_id


@transaction.atomic
def send_create(
    *,
    actor: Actor,
    name: str,
    template: EmailTemplate,
    segment: Segment,
    subscription_type: SubscriptionType,
    from_email: str,
    **options: Any,
) -> EmailSend:
    allowed = {"from_name", "campaign", "subject_b", "ab_test_percent", "ab_winner_rule",
               "ab_wait_minutes", "frequency_cap", "frequency_days"}  # fmt: skip
    unknown = set(options) - allowed
    if unknown:
        raise InvalidInput({k: [_("Unknown option.")] for k in sorted(unknown)})
    if "@" not in from_email:
        raise InvalidInput({"from_email": [_("Enter a valid email address.")]})
    if not 0 <= int(options.get("ab_test_percent", 0)) <= 100:
        raise InvalidInput({"ab_test_percent": [_("Enter a share from 0 to 100.")]})
    if options.get("subject_b"):
        render.check_template(str(options["subject_b"]), field="subject_b")
    send = EmailSend.objects.create(
        name=name.strip()[:200] or template.name,
        template=template,
        segment=segment,
        subscription_type=subscription_type,
        from_email=from_email,
        created_by=actor.user,
        **options,
    )
    record_change(actor=actor, action="create", instance=send, changes=snapshot(send))
    return send


def _rank(send_id: int, contact_id: int) -> str:
    return hashlib.sha256(f"{send_id}:{contact_id}".encode()).hexdigest()


@transaction.atomic
def send_start(*, send_id: int) -> bool:
    """Draft -> sending/testing, materialising recipients; False if already started."""
    send = EmailSend.objects.select_for_update().get(pk=send_id)
    if send.status != EmailSend.Status.DRAFT:
        return False
    people = list(
        segment_members(send.segment).exclude(email="").values_list("pk", "email").order_by("pk")
    )
    people.sort(key=lambda p: _rank(send.pk, p[0]))
    testing = bool(send.subject_b) and send.ab_test_percent > 0
    test_n = math.ceil(len(people) * send.ab_test_percent / 100) if testing else len(people)
    rows = []
    for index, (pk, address) in enumerate(people):
        variant = ("a" if index % 2 == 0 else "b") if testing and index < test_n else ""
        rows.append(EmailRecipient(send=send, contact_id=pk, email=address, variant=variant))
    EmailRecipient.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    send.status = EmailSend.Status.TESTING if testing else EmailSend.Status.SENDING
    send.started_at = timezone.now()
    send.save(update_fields=["status", "started_at"])
    return True


def _skip_reason(send: EmailSend, recipient: EmailRecipient, now: dt.datetime) -> str:
    if Suppression.objects.filter(email=recipient.email.lower()).exists():
        return "suppressed"
    state = consent.consent_state(
        contact_id=recipient.contact_id, purpose=send.subscription_type.key
    )
    if state == ConsentRecord.State.WITHDRAWN:
        return "unsubscribed"
    if state not in consent.SUBSCRIBED:
        return "no_consent"
    if send.frequency_cap:
        recent = (
            EmailRecipient.objects.filter(
                contact_id=recipient.contact_id,
                status=R.SENT,
                sent_at__gte=now - dt.timedelta(days=send.frequency_days),
            )
            .exclude(send_id=send.pk)
            .count()
        )
        if recent >= send.frequency_cap:
            return "frequency_cap"
    return ""


def send_run(*, send_id: int, after_each: Callable[[int], None] | None = None) -> dict[str, int]:
    """Deliver every pending recipient that may be sent now. Safe to run again after a crash.
    `after_each(n)` is called after each delivered message (progress; tests use it to crash)."""
    send_start(send_id=send_id)
    send = EmailSend.objects.select_related("template", "subscription_type").get(pk=send_id)
    if send.status not in (EmailSend.Status.SENDING, EmailSend.Status.TESTING):
        return {}
    EmailRecipient.objects.filter(
        send=send, status=R.CLAIMED, claimed_at__lt=timezone.now() - STALE_CLAIM
    ).update(status=R.UNKNOWN)
    due = Q(send=send, status=R.PENDING)
    if send.status == EmailSend.Status.TESTING:
        due &= ~Q(variant="")
    delivered = 0
    compiled = {
        "a": render.compile_templates(subject=send.template.subject, html=send.template.html),
        "b": render.compile_templates(
            subject=send.subject_b or send.template.subject, html=send.template.html
        ),
    }
    connection = get_connection()
    connection.open()
    try:
        while True:
            batch = list(EmailRecipient.objects.filter(due).order_by("pk")[:200])
            if not batch:
                break
            for recipient in batch:
                if _deliver_one(send, recipient, connection, compiled):
                    delivered += 1
                    if after_each is not None:
                        after_each(delivered)
    finally:
        connection.close()
    if send.status == EmailSend.Status.SENDING:
        EmailSend.objects.filter(pk=send.pk, status=EmailSend.Status.SENDING).update(
            status=EmailSend.Status.SENT, finished_at=timezone.now()
        )
    return {"delivered": delivered}


def _deliver_one(
    send: EmailSend,
    recipient: EmailRecipient,
    connection: Any,
    compiled: dict[str, render.Compiled],
) -> bool:
    now = timezone.now()
    claimed = EmailRecipient.objects.filter(pk=recipient.pk, status=R.PENDING).update(
        status=R.CLAIMED, claimed_at=now
    )
    if claimed != 1:
        return False  # another worker has it
    reason = _skip_reason(send, recipient, now)
    if reason:
        EmailRecipient.objects.filter(pk=recipient.pk).update(status=R.SKIPPED, skip_reason=reason)
        return False
    variant = recipient.variant or send.ab_winner or "a"
    contact = Contact.objects.select_related("account").get(pk=recipient.contact_id)
    rendered = render.render_compiled(compiled[variant], render.contact_context(contact))
    raw, message_id = message.build(
        from_email=send.from_email,
        from_name=send.from_name,
        to=recipient.email,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        token=recipient.token,
    )
    envelope = message.verp_address(recipient.token)
    try:
        connection.send_messages(
            [message.RawEmail(raw, envelope_from=envelope, to=recipient.email)]
        )
    except Exception:
        # Not accepted by the server: release the claim so a later run sends it.
        EmailRecipient.objects.filter(pk=recipient.pk, status=R.CLAIMED).update(
            status=R.PENDING, claimed_at=None
        )
        raise
    EmailRecipient.objects.filter(pk=recipient.pk, status=R.CLAIMED).update(
        status=R.SENT, sent_at=timezone.now(), message_id=message_id[:200], variant=variant
    )
    return True


@transaction.atomic
def ab_choose_winner(*, send_id: int) -> str:
    """Pick the subject that won the test by the send's rule and release the rest."""
    send = EmailSend.objects.select_for_update().get(pk=send_id)
    if send.status != EmailSend.Status.TESTING:
        return send.ab_winner
    field = "opened_at" if send.ab_winner_rule == EmailSend.WinnerRule.OPENS else "clicked_at"
    rows = (
        EmailRecipient.objects.filter(send=send, status=R.SENT, variant__in=["a", "b"])
        .values("variant")
        .annotate(sent=Count("pk"), hits=Count(field))
    )
    rate = {r["variant"]: (r["hits"] / r["sent"] if r["sent"] else 0.0) for r in rows}
    send.ab_winner = "b" if rate.get("b", 0.0) > rate.get("a", 0.0) else "a"
    send.status = EmailSend.Status.SENDING
    send.save(update_fields=["ab_winner", "status"])
    return send.ab_winner


def suppress(*, email: str, reason: str, detail: str = "") -> bool:
    """Add an address to the suppression list (idempotent); True if it was new."""
    _row, created = Suppression.objects.get_or_create(
        email=email.strip().lower()[:254], defaults={"reason": reason, "detail": detail[:300]}
    )
    return created
