"""Sequences (cadences): steps a rep enrols contacts in, advanced by a periodic task.

A step is an automatic email, a task for the rep (call, message on LinkedIn) or a wait of N
business days (the organisation's working weekdays, less its holidays). Task and email steps are
followed at once by the next step; a wait delays the next step.

Invariants:
- each step of an enrolment runs at most once: `enrolment_advance` claims step k with one
  conditional UPDATE (`next_step = k`, due, active → `next_step = k + 1`) and does the step's work
  in the same transaction; the rows it creates are unique per (enrolment, step);
- an email is sent after commit, by a task that claims the queued row (queued → sending), so a
  retried task never sends twice;
- an enrolment stops (and no later step runs) on reply, meeting booked or unsubscribe:
  `sequence_stop_for_contact` is what other apps call; a contact whose consent is withdrawn is
  stopped at their next email step;
- one active enrolment per (sequence, contact) (a unique constraint);
- before each advance, `sequences_stop_on_signals` stops enrolments whose contact replied
  (a touchpoint of kind `email_reply`), booked or had a meeting (`meeting`, `meeting_booked`)
  since enrolling, or withdrew consent — so the signal needs no call from the app that saw it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.automation.models import Enrolment as FlowEnrolment
from tandem.automation.models import EnrolmentStatus as FlowStatus
from tandem.core.access import scoped
from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Holiday, Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import ConsentState, Contact, Touchpoint
from tandem.sales.models import (
    Enrolment,
    EnrolmentStatus,
    SalesTask,
    Sequence,
    SequenceEmail,
    SequenceStep,
    StepKind,
    StopReason,
    TaskKind,
)

log = logging.getLogger(__name__)
MAX_STEPS = 50
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --- business days --------------------------------------------------------------------------


def org_zone(org: Organisation | None = None) -> zoneinfo.ZoneInfo:
    name = (org or Organisation.current()).time_zone or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def add_business_days(moment: dt.datetime, days: int) -> dt.datetime:
    """`moment` moved forward by `days` working days of the organisation, at the same local time.

    A working day is a weekday with business hours that is not a holiday. Zero days: unchanged.
    """
    if days <= 0:
        return moment
    org = Organisation.current()
    zone = org_zone(org)
    local = moment.astimezone(zone)
    working = {i for i, name in enumerate(WEEKDAYS) if org.business_hours.get(name)}
    if not working:
        working = set(range(5))
    horizon = local.date() + dt.timedelta(days=days * 7 + 60)
    holidays = set(
        Holiday.objects.filter(date__gt=local.date(), date__lte=horizon).values_list(
            "date", flat=True
        )
    )
    day = local.date()
    left = days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() in working and day not in holidays:
            left -= 1
    result = dt.datetime.combine(day, local.time().replace(tzinfo=None))
    return result.replace(tzinfo=zone)


def local_today(user: User | None) -> dt.date:
    zone = org_zone()
    if user is not None and user.time_zone:
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo(user.time_zone)
    return timezone.now().astimezone(zone).date()


# --- authoring and enrolling ----------------------------------------------------------------


def _clean_step(position: int, row: dict[str, Any]) -> SequenceStep:
    kind = row.get("kind")
    if kind not in StepKind.values:
        raise InvalidInput({"steps": [_("step %(n)d: unknown kind") % {"n": position + 1}]})
    wait = row.get("wait_days", 0) or 0
    if isinstance(wait, bool) or not isinstance(wait, int) or not 0 <= wait <= 365:
        raise InvalidInput(
            {"steps": [_("step %(n)d: wait 0 to 365 business days") % {"n": position + 1}]}
        )
    subject = str(row.get("subject") or "").strip()
    body = str(row.get("body") or "").strip()
    if kind == StepKind.WAIT and wait < 1:
        raise InvalidInput(
            {"steps": [_("step %(n)d: a wait needs at least one day") % {"n": position + 1}]}
        )
    if kind == StepKind.EMAIL and (not subject or not body):
        raise InvalidInput(
            {"steps": [_("step %(n)d: an email needs a subject and a text") % {"n": position + 1}]}
        )
    if len(subject) > 200 or len(body) > 20000:
        raise InvalidInput(
            {"steps": [_("step %(n)d: subject or text too long") % {"n": position + 1}]}
        )
    return SequenceStep(
        position=position,
        kind=kind,
        wait_days=wait if kind == StepKind.WAIT else 0,
        subject=subject,
        body=body,
    )


@transaction.atomic
def sequence_create(*, actor: Actor, name: str, steps: Iterable[dict[str, Any]]) -> Sequence:
    name = str(name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": [_("is required (at most 200 characters)")]})
    rows = list(steps)
    if not rows or len(rows) > MAX_STEPS:
        raise InvalidInput({"steps": [_("a sequence has 1 to %(n)d steps") % {"n": MAX_STEPS}]})
    cleaned = [_clean_step(i, row) for i, row in enumerate(rows)]
    sequence = Sequence.objects.create(name=name, owner=actor.user)
    for step in cleaned:
        step.sequence = sequence
    SequenceStep.objects.bulk_create(cleaned)
    record_change(
        actor=actor,
        action="create",
        instance=sequence,
        changes={"name": [None, name], "steps": [None, [s.kind for s in cleaned]]},
    )
    return sequence


def _running_in_flow(sequence: Sequence, contact_ids: list[int]) -> set[int]:
    """Contacts whose enrolment in the sequence was moved to its flow (automation's migration
    0003) and is still active there: enrolling them again would run the steps twice."""
    moved = dict(
        Enrolment.objects.filter(
            sequence=sequence, contact_id__in=contact_ids, status=EnrolmentStatus.MOVED
        ).values_list("pk", "contact_id")
    )
    if not moved:
        return set()
    keys = [f"sales-enrolment:{pk}" for pk in moved]
    return set(
        FlowEnrolment.objects.filter(trigger_key__in=keys, status=FlowStatus.ACTIVE).values_list(
            "contact_id", flat=True
        )
    )


@transaction.atomic
def sequence_enrol(
    *, actor: Actor, sequence: Sequence, contact_ids: Iterable[int]
) -> list[Enrolment]:
    """Enrol contacts the actor may see; one already active in this sequence (or in the flow
    it was carried over to) is left as is.

    Only the sequence's owner (or someone who may change every sequence: a head, an admin)
    enrols: a teammate sees the sequence but may not send its emails in the owner's name.
    """
    if (
        actor.user is not None
        and not scoped(actor.user, Sequence, "change").filter(pk=sequence.pk).exists()
    ):
        raise InvalidInput(
            {
                "sequence": [
                    _("only the sequence's owner, a head of sales or an admin may enrol contacts")
                ]
            },
            code="forbidden",
        )
    if not sequence.active:
        raise InvalidInput({"sequence": [_("this sequence is paused")]})
    ids = sorted({int(i) for i in contact_ids})
    visible = scoped(actor.user, Contact) if actor.user is not None else Contact.objects.all()
    found = set(visible.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            {"contact_ids": [_("no such contact: %(ids)s") % {"ids": ", ".join(map(str, missing))}]}
        )
    created: list[Enrolment] = []
    now = timezone.now()
    in_flow = _running_in_flow(sequence, ids)
    for contact_id in ids:
        if contact_id in in_flow:
            continue  # carried over to the sequence's flow, still running there
        try:
            with transaction.atomic():
                enrolment = Enrolment.objects.create(
                    sequence=sequence,
                    contact_id=contact_id,
                    enrolled_by=actor.user,
                    next_run_at=now,
                    enrolled_at=now,
                )
        except IntegrityError:
            continue  # already active in this sequence
        record_change(
            actor=actor,
            action="create",
            instance=enrolment,
            changes={"sequence": [None, sequence.pk], "contact": [None, contact_id]},
        )
        created.append(enrolment)
    return created


def _stop(enrolments: Iterable[Enrolment], reason: str, actor: Actor) -> int:
    stopped = 0
    now = timezone.now()
    for enrolment in enrolments:
        done = Enrolment.objects.filter(pk=enrolment.pk, status=EnrolmentStatus.ACTIVE).update(
            status=EnrolmentStatus.STOPPED, stop_reason=reason, ended_at=now, next_run_at=None
        )
        if done:
            stopped += 1
            record_change(
                actor=actor,
                action="update",
                instance=enrolment,
                changes={"status": ["active", "stopped"], "stop_reason": [None, reason]},
            )
    return stopped


@transaction.atomic
def sequence_stop_for_contact(contact_id: int, reason: str, *, actor: Actor | None = None) -> int:
    """Stop every active enrolment of the contact (reply, meeting booked, unsubscribe…).

    Other apps call this; it returns how many enrolments stopped (0 if none was active).
    """
    if reason not in StopReason.values:
        raise InvalidInput({"reason": [_("unknown reason")]})
    active = Enrolment.objects.filter(contact_id=contact_id, status=EnrolmentStatus.ACTIVE)
    return _stop(list(active), reason, actor or Actor.system())


@transaction.atomic
def enrolment_stop(*, actor: Actor, enrolment: Enrolment) -> int:
    return _stop([enrolment], StopReason.MANUAL, actor)


# --- advancing ------------------------------------------------------------------------------


def _fill(template: str, contact: Contact, rep: User | None) -> str:
    values = {
        "{first_name}": contact.first_name,
        "{last_name}": contact.last_name,
        "{company}": contact.account.name if contact.account_id and contact.account else "",
        "{rep_name}": rep.get_full_name() or rep.username if rep else "",
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


@transaction.atomic
def enrolment_advance(enrolment_id: int, *, now: dt.datetime | None = None) -> bool:
    """Run the due step of one enrolment; False if it was not due, or another worker had it."""
    now = now or timezone.now()
    enrolment = (
        Enrolment.objects.select_related("sequence", "contact__account", "enrolled_by")
        .filter(pk=enrolment_id)
        .first()
    )
    if enrolment is None:
        return False
    k = enrolment.next_step
    steps = list(enrolment.sequence.steps.all())
    step = steps[k] if k < len(steps) else None
    finished = k + 1 >= len(steps)
    next_run = (
        add_business_days(now, step.wait_days) if step and step.kind == StepKind.WAIT else now
    )
    claimed = Enrolment.objects.filter(
        pk=enrolment_id, status=EnrolmentStatus.ACTIVE, next_step=k, next_run_at__lte=now
    ).update(
        next_step=k + 1,
        next_run_at=None if finished else next_run,
        status=EnrolmentStatus.FINISHED if finished else EnrolmentStatus.ACTIVE,
        ended_at=now if finished else None,
    )
    if not claimed or step is None:
        return False
    contact = enrolment.contact
    owner = enrolment.enrolled_by or enrolment.sequence.owner
    if step.kind == StepKind.EMAIL:
        if not contact.email:
            _stop([enrolment], StopReason.NO_EMAIL, Actor.system())
            return True
        if contact.consent == ConsentState.WITHDRAWN:
            _stop([enrolment], StopReason.UNSUBSCRIBED, Actor.system())
            return True
        email, created = SequenceEmail.objects.get_or_create(
            enrolment=enrolment,
            step=step,
            defaults={
                "to": contact.email,
                "subject": _fill(step.subject, contact, owner)[:200],
                "body": _fill(step.body, contact, owner),
            },
        )
        if created:
            from tandem.sales.tasks import send_sequence_email

            email_id = email.pk
            transaction.on_commit(lambda: send_sequence_email.enqueue(email_id))
    elif step.kind in (StepKind.CALL, StepKind.LINKEDIN) and owner is not None:
        title = (
            _("Call %(name)s") if step.kind == StepKind.CALL else _("Message %(name)s on LinkedIn")
        ) % {"name": str(contact)}
        if step.body:
            title = f"{title}: {_fill(step.body, contact, owner)}"
        SalesTask.objects.get_or_create(
            enrolment=enrolment,
            step=step,
            defaults={
                "owner": owner,
                "contact": contact,
                "kind": step.kind,
                "title": title[:300],
                "due_on": local_today(owner),
            },
        )
    return True


REPLY_KINDS = ("email_reply",)
MEETING_KINDS = ("meeting", "meeting_booked")


@transaction.atomic
def sequences_stop_on_signals() -> int:
    """Stop active enrolments on the timeline's signals (set-based; see the module docstring)."""
    active = Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE)

    def signalled(kinds: tuple[str, ...]) -> Exists:
        return Exists(
            Touchpoint.objects.filter(
                contact_id=OuterRef("contact_id"),
                kind__in=kinds,
                occurred_at__gte=OuterRef("enrolled_at"),
                is_bot=False,
            )
        )

    stopped = 0
    for reason, condition in (
        (StopReason.REPLIED, Q(signalled(REPLY_KINDS))),
        (StopReason.MEETING_BOOKED, Q(signalled(MEETING_KINDS))),
        (StopReason.UNSUBSCRIBED, Q(contact__consent=ConsentState.WITHDRAWN)),
    ):
        stopped += _stop(list(active.filter(condition)), reason, Actor.system())
    return stopped


def sequences_advance(*, now: dt.datetime | None = None, limit: int = 10000) -> int:
    """Run every due step (each in its own transaction); returns how many steps ran."""
    now = now or timezone.now()
    sequences_stop_on_signals()
    ran = 0
    for _round in range(MAX_STEPS + 1):
        due = list(
            Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE, next_run_at__lte=now)
            .order_by("next_run_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        progressed = 0
        for enrolment_id in due:
            if enrolment_advance(enrolment_id, now=now):
                progressed += 1
        ran += progressed
        if not progressed:
            break
    return ran


def sequence_email_send(email_id: int) -> bool:
    """Send one queued sequence email; True if this call sent it. Safe to call twice."""
    claimed = SequenceEmail.objects.filter(pk=email_id, state=SequenceEmail.State.QUEUED).update(
        state=SequenceEmail.State.SENDING
    )
    if not claimed:
        return False
    email = SequenceEmail.objects.select_related(
        "enrolment__contact__account", "enrolment__enrolled_by"
    ).get(pk=email_id)
    enrolment = email.enrolment
    if enrolment.status == EnrolmentStatus.STOPPED:
        SequenceEmail.objects.filter(pk=email_id).update(
            state=SequenceEmail.State.FAILED, error="enrolment stopped"
        )
        return False
    rep = enrolment.enrolled_by
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[rep.email] if rep and rep.email else None,
        headers={"X-Tandem-Sequence-Email": str(email.pk)},
    )
    try:
        message.send()
    except Exception as exc:  # an SMTP or network failure: recorded, never lost
        log.warning("sequence email %s failed: %s", email_id, exc)
        SequenceEmail.objects.filter(pk=email_id).update(
            state=SequenceEmail.State.FAILED, error=str(exc)[:300]
        )
        return False
    with transaction.atomic():
        SequenceEmail.objects.filter(pk=email_id).update(
            state=SequenceEmail.State.SENT, sent_at=timezone.now()
        )
        crm.touchpoint_record(
            channel="email",
            kind="sequence_email_sent",
            department=Department.SALES,
            contact=enrolment.contact,
            actor=rep,
            content=email.subject,
            properties={"sequence_id": enrolment.sequence_id, "enrolment_id": enrolment.pk},
            source="tandem.sales",
        )
    return True


@transaction.atomic
def task_complete(*, actor: Actor, task: SalesTask) -> SalesTask:
    now = timezone.now()
    if SalesTask.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now):
        task.done_at = now
        record_change(
            actor=actor,
            action="update",
            instance=task,
            changes={"done_at": [None, now.isoformat()]},
        )
        if task.contact_id and task.kind in (TaskKind.CALL, TaskKind.LINKEDIN):
            crm.touchpoint_record(
                channel="phone" if task.kind == TaskKind.CALL else "linkedin",
                kind=f"sales_{task.kind}",
                department=Department.SALES,
                contact=Contact.objects.get(pk=task.contact_id),
                actor=actor.user,
                content=task.title[:200],
                source="tandem.sales",
            )
    return task
