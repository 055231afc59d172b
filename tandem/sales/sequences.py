"""Sequences (cadences): a sales-facing view of automation flows, run by automation's runner.

A sequence is the rep's definition (its `SequenceStep` rows, audited) and the automation flow it
is published as (`Sequence.flow`, built by `automation.library.sequence_graph`): an automatic
email in the owner's name (reply-to the owner, `{rep_name}` filled when it is sent), a task for
the owner (call, message on LinkedIn) on "My tasks", or a wait of N business days (the
organisation's working weekdays, less its holidays, in its time zone). There is one runner:
automation's (`tandem.automation.runner`); this module only writes definitions and enrolments.

Invariants:
- a sequence and its flow are created in one transaction; the sequence keeps its flow's
  definition (`Flow.managed_by`): only this module changes its graph, versions and status,
  the automation builder and API show it read-only; editing the steps publishes a new
  flow version: new enrolments take it, running ones finish on the version they started on;
- only the sequence's owner, a head of sales or an admin enrols, only contacts the actor may
  see, never into a paused sequence (its flow is paused too); a contact active in the sequence
  is left as is and may be enrolled again once they left (the flow's re-entry "after exit");
- an enrolment stops (no later step runs) on a reply (`email_reply`), a meeting (`meeting`,
  `meeting_booked`) since enrolling — automation's `stop_on` — or withdrawn consent (at the next
  email); `sequence_stop_for_contact` is what other apps call to stop it at once;
- each step runs at most once per enrolment and each email leaves at most once (the runner's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.automation import services as automation
from tandem.automation.models import Enrolment as FlowEnrolment
from tandem.automation.models import EnrolmentStatus as FlowEnrolmentStatus
from tandem.automation.models import Flow, FlowStatus, ManagedBy, Reentry, StepRun
from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.business_days import add_business_days, local_today, org_zone
from tandem.core.errors import InvalidInput
from tandem.core.models import Department
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.sales.models import (
    SalesTask,
    Sequence,
    SequenceStep,
    StepKind,
    StopReason,
    TaskKind,
)

__all__ = [
    "MAX_STEPS",
    "add_business_days",
    "enrolment_stop",
    "local_today",
    "org_zone",
    "sequence_create",
    "sequence_enrol",
    "sequence_enrolment_history",
    "sequence_enrolments",
    "sequence_set_active",
    "sequence_steps_update",
    "sequence_stop_for_contact",
    "task_complete",
]

MAX_STEPS = 50
# how this module tells automation's services that the change comes from the sequence, which
# keeps its flow's definition (the builder and automation's API refuse to change such a flow)
MANAGER = ManagedBy.SALES_SEQUENCE


def marker(sequence_id: int) -> str:
    """How a sequence's flow names it in its description (automation's migration 0003 too)."""
    return f"[sales sequence {sequence_id}]"


# --- authoring ------------------------------------------------------------------------------


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


def _clean_steps(steps: Iterable[dict[str, Any]]) -> list[SequenceStep]:
    rows = list(steps)
    if not rows or len(rows) > MAX_STEPS:
        raise InvalidInput({"steps": [_("a sequence has 1 to %(n)d steps") % {"n": MAX_STEPS}]})
    return [_clean_step(i, row) for i, row in enumerate(rows)]


def _may_change(actor: Actor, sequence: Sequence) -> None:
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


@transaction.atomic
def sequence_create(*, actor: Actor, name: str, steps: Iterable[dict[str, Any]]) -> Sequence:
    """The sequence, its steps and its flow (published, active), in one transaction."""
    name = str(name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": [_("is required (at most 200 characters)")]})
    cleaned = _clean_steps(steps)
    sequence = Sequence.objects.create(name=name, owner=actor.user)
    for step in cleaned:
        step.sequence = sequence
    SequenceStep.objects.bulk_create(cleaned)
    flow = automation.flow_create(
        actor=actor,
        name=name,
        graph=automation.sequence_graph(cleaned),
        description=f"{marker(sequence.pk)} {_('the flow of a sales sequence')}",
        reentry=Reentry.AFTER_EXIT,
        manager=MANAGER,
    )
    automation.flow_publish(actor=actor, flow=flow, manager=MANAGER)
    Sequence.objects.filter(pk=sequence.pk).update(flow=flow)
    sequence.flow = flow
    record_change(
        actor=actor,
        action="create",
        instance=sequence,
        changes={
            "name": [None, name],
            "steps": [None, [s.kind for s in cleaned]],
            "flow": [None, flow.pk],
        },
    )
    return sequence


def _flow_of(sequence: Sequence) -> Flow:
    if sequence.flow_id is None:
        raise InvalidInput({"sequence": [_("this sequence has no flow to run it")]})
    return Flow.objects.get(pk=sequence.flow_id)


@transaction.atomic
def sequence_steps_update(
    *, actor: Actor, sequence: Sequence, steps: Iterable[dict[str, Any]]
) -> Sequence:
    """Replace the steps and publish them as the flow's next version (running enrolments keep
    the version they started on)."""
    _may_change(actor, sequence)
    cleaned = _clean_steps(steps)
    sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
    before = [s.kind for s in sequence.steps.all()]
    SequenceStep.objects.filter(sequence=sequence).delete()
    for step in cleaned:
        step.sequence = sequence
    SequenceStep.objects.bulk_create(cleaned)
    flow = _flow_of(sequence)
    graph = automation.sequence_graph(cleaned)
    automation.flow_graph_save(actor=actor, flow=flow, graph=graph, manager=MANAGER)
    version = automation.flow_publish(actor=actor, flow=flow, manager=MANAGER)
    if not sequence.active:
        automation.flow_set_status(
            actor=actor, flow=flow, status=FlowStatus.PAUSED, manager=MANAGER
        )
    record_change(
        actor=actor,
        action="update",
        instance=sequence,
        changes={"steps": [before, [s.kind for s in cleaned]], "version": [None, version.number]},
    )
    return sequence


@transaction.atomic
def sequence_set_active(*, actor: Actor, sequence: Sequence, active: bool) -> Sequence:
    """Pause (nobody new is enrolled; running enrolments go on) or resume, with its flow."""
    _may_change(actor, sequence)
    sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
    before = snapshot(sequence, ["active"])
    sequence.active = active
    sequence.save(update_fields=["active"])
    status = FlowStatus.ACTIVE if active else FlowStatus.PAUSED
    automation.flow_set_status(actor=actor, flow=_flow_of(sequence), status=status, manager=MANAGER)
    record_change(
        actor=actor,
        action="update",
        instance=sequence,
        changes=diff(before, snapshot(sequence, ["active"])),
    )
    return sequence


# --- enrolling and stopping -----------------------------------------------------------------


@transaction.atomic
def sequence_enrol(
    *,
    actor: Actor,
    sequence: Sequence,
    contact_ids: Iterable[int],
    now: dt.datetime | None = None,
) -> list[FlowEnrolment]:
    """Enrol contacts the actor may see in the sequence's flow; one already active in it is left
    as is.

    Only the sequence's owner (or someone who may change every sequence: a head, an admin)
    enrols: a teammate sees the sequence but may not send its emails in the owner's name.
    `now` dates the enrolment (the demo's clock); its first step is due then.
    """
    _may_change(actor, sequence)
    flow = _flow_of(sequence)
    if not sequence.active or flow.status != FlowStatus.ACTIVE:
        raise InvalidInput({"sequence": [_("this sequence is paused")]})
    ids = sorted({int(i) for i in contact_ids})
    visible = scoped(actor.user, Contact) if actor.user is not None else Contact.objects.all()
    found = set(visible.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            {"contact_ids": [_("no such contact: %(ids)s") % {"ids": ", ".join(map(str, missing))}]}
        )
    created: list[FlowEnrolment] = []
    now = now or timezone.now()
    key = f"sequence:{actor.user.pk if actor.user else 0}:{now.isoformat()}"
    for contact_id in ids:
        enrolment = automation.enrol(flow=flow, contact_id=contact_id, trigger_key=key, now=now)
        if enrolment is None:
            continue  # already active in this sequence
        record_change(
            actor=actor,
            action="create",
            instance=enrolment,
            changes={"sequence": [None, sequence.pk], "contact": [None, contact_id]},
        )
        created.append(enrolment)
    return created


def sequence_enrolments(sequence: Sequence) -> QuerySet[FlowEnrolment]:
    """The enrolments of the sequence's flow, newest first (the caller scopes the contacts)."""
    return FlowEnrolment.objects.filter(flow=sequence.flow, is_test=False).order_by(
        "-enrolled_at", "-pk"
    )


_TASK_KINDS = {StepKind.CALL, StepKind.LINKEDIN}


def sequence_enrolment_history(enrolment: FlowEnrolment) -> list[dict[str, Any]]:
    """What each step of one enrolment did, in order, in the sequence's words: its number
    (node `s<k>` is step k of the version the enrolment runs on), its kind (email, wait, call,
    LinkedIn), the runner's outcome, when, and the email's delivery state. Readable by whoever
    sees the sequence and the contact, without the automation builder."""
    nodes = {n.get("id"): n for n in (enrolment.version.graph or {}).get("nodes", [])}
    rows: list[dict[str, Any]] = []
    for run in (
        StepRun.objects.filter(enrolment=enrolment).select_related("message").order_by("seq")
    ):
        node = nodes.get(run.node, {})
        config = node.get("config") or {}
        if run.kind == "send_email":
            label = str(StepKind.EMAIL.label)
        elif run.kind == "wait":
            label = str(StepKind.WAIT.label)
        elif run.kind == "create_task" and config.get("task_kind") in _TASK_KINDS:
            label = str(StepKind(config["task_kind"]).label)
        else:
            label = _("End") if run.kind == "exit" else run.kind
        number = run.node[1:] if run.node[:1] == "s" and run.node[1:].isdigit() else ""
        message = getattr(run, "message", None)
        rows.append(
            {
                "seq": run.seq,
                "number": number,
                "label": label,
                "outcome": run.outcome,
                "at": run.at,
                "email_state": message.get_state_display() if message is not None else "",
            }
        )
    return rows


REASON_TEXT: dict[str, str] = {
    StopReason.REPLIED: "stopped: replied",
    StopReason.MEETING_BOOKED: "stopped: meeting booked",
    StopReason.UNSUBSCRIBED: "stopped: unsubscribed",
    StopReason.BOUNCED: "stopped: email bounced",
    StopReason.MANUAL: "stopped by a rep",
    StopReason.NO_EMAIL: "stopped: no email address",
}


def _stop(enrolments: Iterable[FlowEnrolment], reason: str, actor: Actor) -> int:
    return sum(
        automation.enrolment_exit(actor=actor, enrolment=e, reason=REASON_TEXT[reason])
        for e in enrolments
    )


@transaction.atomic
def sequence_stop_for_contact(contact_id: int, reason: str, *, actor: Actor | None = None) -> int:
    """Stop every active sequence enrolment of the contact (reply, meeting booked,
    unsubscribe…). Other apps call this; it returns how many stopped (0 if none was active)."""
    if reason not in StopReason.values:
        raise InvalidInput({"reason": [_("unknown reason")]})
    active = FlowEnrolment.objects.filter(
        contact_id=contact_id,
        status=FlowEnrolmentStatus.ACTIVE,
        flow__sequence__isnull=False,
    )
    return _stop(list(active), reason, actor or Actor.system())


@transaction.atomic
def enrolment_stop(*, actor: Actor, enrolment: FlowEnrolment) -> int:
    return _stop([enrolment], StopReason.MANUAL, actor)


# --- tasks ----------------------------------------------------------------------------------


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
