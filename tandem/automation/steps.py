"""What each kind of step does: one function per kind, each calling the app that owns the change.

A step function gets the enrolment (its contact loaded), the node and the moment, and returns a
`Result`: the outcome written to the history, the arrow to follow (or None: the flow ends there
and the enrolment completes), an optional delay before the next step, an optional message to
queue (email or webhook), or `defer_until` (quiet hours: run this same step again later, nothing
recorded). Steps run inside the runner's transaction: whatever they write commits with the step's
history row or not at all.

Invariants:
- consent is checked at every send (here, when the step runs, and again by the runner just
  before the message leaves); a contact who withdrew consent leaves the flow at the send;
- at most `Policy.emails_per_window` flow emails per contact in `window_days`, across every
  flow: a send over the cap is skipped (recorded) and the flow goes on;
- an email due in the contact's quiet hours (their time zone: `custom["time_zone"]`, else the
  organisation's) waits for the end of them;
- a refusal by the owning app (InvalidInput: a stage move not allowed) is recorded as the
  step's outcome and the flow goes on; any other error rolls the step back for a retry;
- an email step with `from_owner` (a sales sequence's) is the flow owner's email: `{rep_name}`
  is the owner's name when the step runs, replies go to the owner (`email_sender`), and the
  timeline records `sequence_email_sent` (sales) instead of `flow_email_sent` (marketing);
- `start_flow` enrols the contact in the other flow at most once per enrolment and step (its
  trigger key names them), and never in a paused flow or the flow itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from tandem.automation import graph as g
from tandem.automation.models import Enrolment, FlowMessage, MessageState, Policy
from tandem.core.audit import Actor
from tandem.core.business_days import add_business_days
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import ConsentState, Contact


@dataclass
class Message:
    kind: str
    to: str
    subject: str = ""
    body: str = ""


@dataclass
class Result:
    outcome: str
    label: str | None = "next"
    delay: dt.timedelta | None = None
    run_at: dt.datetime | None = None
    message: Message | None = None
    defer_until: dt.datetime | None = None
    end: str | None = None  # "exited": leave the flow at once
    goal: bool = False
    wait_for: str = ""


StepFn = Callable[[Enrolment, g.Node, dt.datetime], Result]
STEPS: dict[str, StepFn] = {}


def step(kind: str) -> Callable[[StepFn], StepFn]:
    def register(fn: StepFn) -> StepFn:
        STEPS[kind] = fn
        return fn

    return register


def zone_of(contact: Contact) -> zoneinfo.ZoneInfo:
    for name in ((contact.custom or {}).get("time_zone"), Organisation.current().time_zone):
        if isinstance(name, str) and name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def quiet_until(contact: Contact, now: dt.datetime, policy: Policy) -> dt.datetime | None:
    """The end of the quiet hours `now` falls in (contact's zone), or None outside them."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return None
    local = now.astimezone(zone_of(contact))
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(end), tzinfo=local.tzinfo)


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts` (a contact's holdout or split side never changes)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def rep_name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def fill(text: str, contact: Contact, rep: User | None = None) -> str:
    """The placeholders in `text` filled for `contact` (and `{rep_name}` with `rep`'s name when
    given). The company and the rep are read only when the text names them: the runner calls
    this for every email of a batch, and each would be a query of its own."""
    if "{" not in text:
        return text
    text = (
        text.replace("{first_name}", contact.first_name)
        .replace("{last_name}", contact.last_name)
        .replace("{email}", contact.email)
    )
    if "{company}" in text:
        account = contact.account if contact.account_id else None
        text = text.replace("{company}", account.name if account is not None else "")
    if rep is not None and "{rep_name}" in text:
        text = text.replace("{rep_name}", rep_name(rep))
    return text


COUNTED = [MessageState.QUEUED, MessageState.SENDING, MessageState.SENT, MessageState.UNKNOWN]


@dataclass
class Batch:
    """What the steps of one claimed batch share: the policy, read once, and the flow emails
    each of the batch's contacts had in the window (one grouped query, kept up to date as the
    batch queues more)."""

    contact_ids: list[int]
    now: dt.datetime
    policy: Policy = field(default_factory=lambda: Policy.current())
    emails: dict[int, int] | None = None

    def emails_of(self, contact_id: int) -> int:
        if self.emails is None:
            self.emails = dict.fromkeys(self.contact_ids, 0)
            rows = FlowMessage.objects.filter(
                contact_id__in=self.contact_ids,
                kind=FlowMessage.Kind.EMAIL,
                created_at__gt=self.now - dt.timedelta(days=self.policy.window_days),
                state__in=COUNTED,
            ).values_list("contact_id", flat=True)
            for contact in rows:
                self.emails[contact] = self.emails.get(contact, 0) + 1
        return self.emails.get(contact_id, 0)

    def email_queued(self, contact_id: int) -> None:
        self.emails_of(contact_id)
        assert self.emails is not None
        self.emails[contact_id] = self.emails.get(contact_id, 0) + 1


current_batch: ContextVar[Batch | None] = ContextVar("automation_batch", default=None)


def _system() -> Actor:
    return Actor.system()


@step("send_email")
def send_email(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    config = g.SendEmail.model_validate(node.config)
    contact = enrolment.contact
    if contact.consent == ConsentState.WITHDRAWN:
        return Result(_("consent withdrawn: left the flow"), end="exited")
    if not contact.email:
        return Result(_("no email address: skipped"))
    batch = current_batch.get() or Batch([contact.pk], now)
    later = quiet_until(contact, now, batch.policy)
    if later is not None:
        return Result(_("quiet hours"), defer_until=later)
    if batch.emails_of(contact.pk) >= batch.policy.emails_per_window:
        return Result(_("skipped: frequency cap"))
    batch.email_queued(contact.pk)
    named = "{rep_name}" in config.subject or "{rep_name}" in config.body
    rep = enrolment.flow.owner if config.from_owner and named else None
    return Result(
        _("email queued"),
        message=Message(
            kind=FlowMessage.Kind.EMAIL,
            to=contact.email,
            subject=fill(config.subject, contact, rep)[:200],
            body=fill(config.body, contact, rep),
        ),
    )


@dataclass
class Sender:
    """How a queued flow email leaves and is recorded (see `email_sender`)."""

    reply_to: list[str]
    touchpoint_kind: str
    department: str
    user: User | None


def email_sender(enrolment: Enrolment, node: g.Node) -> Sender:
    """The reply-to address and timeline record of the email `node` queued for `enrolment`."""
    if node.kind == "send_email" and g.SendEmail.model_validate(node.config).from_owner:
        owner = enrolment.flow.owner
        return Sender(
            reply_to=[owner.email] if owner is not None and owner.email else [],
            touchpoint_kind="sequence_email_sent",
            department=Department.SALES,
            user=owner,
        )
    return Sender([], "flow_email_sent", Department.MARKETING, None)


@step("wait")
def wait(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.Wait.model_validate(node.config)
    extra = dt.timedelta(hours=c.hours, minutes=c.minutes)
    if c.business_days:
        at = add_business_days(now, c.days) + extra
        return Result(
            _("waiting %(n)d business days, until %(at)s") % {"n": c.days, "at": at.isoformat()},
            run_at=at,
        )
    delay = dt.timedelta(days=c.days) + extra
    return Result(_("waiting %(d)s") % {"d": delay}, delay=delay)


@step("wait_until")
def wait_until(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.WaitUntil.model_validate(node.config)
    local = now.astimezone(zone_of(enrolment.contact))
    at = local.replace(hour=c.hour, minute=0, second=0, microsecond=0)
    while at <= local or (c.weekday is not None and at.weekday() != c.weekday):
        at += dt.timedelta(days=1)
    return Result(_("waiting until %(at)s") % {"at": at.isoformat()}, run_at=at)


@step("wait_event")
def wait_event(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.WaitEvent.model_validate(node.config)
    if enrolment.waiting_for:
        if enrolment.event_seen:
            return Result(_("%(kind)s happened") % {"kind": c.touchpoint_kind}, label="event")
        return Result(_("timed out"), label="timeout")
    return Result(
        _("waiting for %(kind)s") % {"kind": c.touchpoint_kind},
        label=None,
        delay=dt.timedelta(days=c.timeout_days),
        wait_for=c.touchpoint_kind,
    )


@step("branch")
def branch(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.marketing import services as marketing
    from tandem.marketing.models import Segment

    c = g.Branch.model_validate(node.config)
    if c.segment_id is not None:
        segment = Segment.objects.filter(pk=c.segment_id).first()
        if segment is None:
            return Result(_("segment missing: no"), label="no")
    else:
        segment = Segment(kind=Segment.Kind.DYNAMIC, definition=c.definition or {})
    hit = marketing.segments.segment_members(segment).filter(pk=enrolment.contact_id).exists()
    return Result(_("yes") if hit else _("no"), label="yes" if hit else "no")


@step("split")
def split(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.Split.model_validate(node.config)
    side = (
        "a"
        if stable_fraction(enrolment.flow_id, node.id, enrolment.contact_id) * 100 < c.percent_a
        else "b"
    )
    return Result(side.upper(), label=side)


def _refused(run: Callable[[], Any], done: str) -> Result:
    try:
        run()
    except InvalidInput as exc:
        return Result(_("refused: %(why)s") % {"why": str(exc.message)[:150]})
    return Result(done)


@step("update_field")
def update_field(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.UpdateField.model_validate(node.config)
    contact = enrolment.contact
    if c.field == "custom":
        data: dict[str, Any] = {"custom": {**(contact.custom or {}), c.key: c.value}}
    else:
        data = {c.field: c.value}
    return _refused(
        lambda: crm.contact_update(actor=_system(), contact=contact, **data),
        _("%(field)s set") % {"field": c.key or c.field},
    )


@step("set_stage")
def set_stage(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.leads import services as leads

    c = g.SetStage.model_validate(node.config)
    return _refused(
        lambda: leads.lifecycle_move(
            actor=_system(),
            contact=enrolment.contact,
            stage=c.stage,
            reason=_("Flow “%(name)s”") % {"name": enrolment.flow.name},
        ),
        _("stage %(stage)s") % {"stage": c.stage},
    )


@step("add_to_list")
def add_to_list(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.marketing import services as marketing
    from tandem.marketing.models import Segment

    c = g.AddToList.model_validate(node.config)
    segment = Segment.objects.filter(pk=c.segment_id, kind=Segment.Kind.STATIC).first()
    if segment is None:
        return Result(_("list missing: skipped"))
    return _refused(
        lambda: marketing.segments.static_members_add(
            actor=_system(), segment=segment, contact_ids=[enrolment.contact_id]
        ),
        _("added to %(name)s") % {"name": segment.name},
    )


@step("assign_owner")
def assign_owner(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.AssignOwner.model_validate(node.config)
    return _refused(
        lambda: crm.contact_update(actor=_system(), contact=enrolment.contact, owner=c.user_id),
        _("owner set"),
    )


@step("handoff")
def handoff(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.leads import services as leads

    c = g.Handoff.model_validate(node.config)
    return _refused(
        lambda: leads.handoff_create(
            actor=_system(),
            contact=enrolment.contact,
            trigger="mql",
            note=c.note or _("Flow “%(name)s”") % {"name": enrolment.flow.name},
            source_ref=f"flow:{enrolment.flow_id}",
            now=now,
        ),
        _("handed off to sales"),
    )


@step("create_task")
def create_task(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.sales import services as sales

    c = g.CreateTask.model_validate(node.config)
    contact = enrolment.contact
    flow_owner = enrolment.flow.owner
    owner = flow_owner if c.assign_to == "flow_owner" else contact.owner or flow_owner
    if owner is None:
        return Result(_("nobody owns the contact: no task"))
    sales.task_create(
        actor=Actor.system(),
        owner=owner,
        contact=contact,
        title=fill(c.title, contact, flow_owner),
        due_on=(now + dt.timedelta(days=c.due_in_days)).date(),
        kind=c.task_kind,
    )
    return Result(_("task for %(user)s") % {"user": owner.get_username()})


@step("notify")
def notify(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.leads import services as leads

    c = g.Notify.model_validate(node.config)
    user = User.objects.filter(pk=c.user_id, is_active=True).first()
    if user is None:
        return Result(_("user missing: nobody notified"))
    text = fill(c.text, enrolment.contact)
    leads.notify(
        user=user, kind="automation", text=lambda: text, url=f"/automation/{enrolment.flow_id}/"
    )
    return Result(_("notified %(user)s") % {"user": user.get_username()})


@step("webhook")
def webhook(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    c = g.Webhook.model_validate(node.config)
    contact = enrolment.contact
    body = {
        "type": "flow.step",
        "flow": {"id": enrolment.flow_id, "name": enrolment.flow.name},
        "step": node.id,
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
        },
        "occurred_at": now.isoformat(),
    }
    return Result(
        _("webhook queued"),
        message=Message(kind=FlowMessage.Kind.WEBHOOK, to=c.url, body=json.dumps(body)),
    )


@step("start_flow")
def start_flow(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    from tandem.automation.models import Flow, FlowStatus
    from tandem.automation.services import enrol

    c = g.StartFlow.model_validate(node.config)
    target = Flow.objects.filter(pk=c.flow_id).first()
    if target is None or target.pk == enrolment.flow_id:
        return Result(_("no such other flow: skipped"))
    if target.status != FlowStatus.ACTIVE:
        return Result(_("“%(name)s” is not active: skipped") % {"name": target.name})
    started = enrol(
        flow=target,
        contact_id=enrolment.contact_id,
        trigger_key=f"flow-enrolment:{enrolment.pk}:{node.id}",
        now=now,
    )
    if started is None:
        return Result(_("already in “%(name)s”: left as is") % {"name": target.name})
    return Result(_("enrolled in “%(name)s”") % {"name": target.name})


@step("goal")
def goal(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    return Result(_("goal reached"), goal=True)


@step("exit")
def exit_step(enrolment: Enrolment, node: g.Node, now: dt.datetime) -> Result:
    return Result(_("left the flow"), label=None)
