"""Hand-offs from marketing to sales, with their service-level clocks, and their settings.

Invariants:
- a contact has at most one open hand-off (pending or accepted): creating one while another is
  open returns the open one (the contact row is locked, and a unique constraint backs it up);
- a hand-off's clocks are in business hours of the assigned rep's calendar: accept or reject
  within `HandoffPolicy.accept_within_hours`, first contact within `first_contact_within_hours`
  of accepting;
- a rejection has a reason from `RejectionReason` (and a note when the reason is "other") and
  returns the lead to marketing: recycled into nurture or disqualified;
- a breach is handled once: the row is claimed with a conditional UPDATE on its breach count,
  then re-routed to another rep (never one who already had it) and the head is notified;
- every change writes the audit log and a `HandoffEvent` in the same transaction; emails go out
  after commit;
- routing, acceptance and rejection also go on the contact's timeline (kinds `handoff_routed`,
  `handoff_accepted`, `handoff_rejected`, channel "lifecycle"): bookkeeping that earns no
  attribution credit and no engagement score.

The lifecycle operations (`lifecycle_move`, `lifecycle_correct`, `is_allowed`,
`allowed_targets`, `time_in_stages`) live in `tandem.leads.lifecycle` and are re-exported here:
this module is what other apps import to change a contact's stage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Role, User
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage, Touchpoint
from tandem.leads import routing
from tandem.leads.lifecycle import allowed_targets as allowed_targets
from tandem.leads.lifecycle import is_allowed, lifecycle_move
from tandem.leads.lifecycle import lifecycle_correct as lifecycle_correct
from tandem.leads.lifecycle import time_in_stages as time_in_stages
from tandem.leads.models import (
    OPEN_HANDOFF,
    RECORD_CHANNELS,
    ContactScore,
    Handoff,
    HandoffEvent,
    HandoffPolicy,
    HandoffStatus,
    HandoffTrigger,
    RejectionOutcome,
    RejectionReason,
    RoutedBy,
    ScoringModel,
)
from tandem.leads.notify import notify
from tandem.leads.sla import calendar_for

S = LifecycleStage
BEFORE_MQL = {S.SUBSCRIBER, S.LEAD, S.RECYCLED, S.DISQUALIFIED}
FIRST_CONTACT_CHANNELS = {"phone", "email", "meeting", "linkedin", "messenger", "visit"}


def heads() -> list[User]:
    return list(User.objects.filter(role=Role.HEAD, is_active=True).order_by("pk"))


def _url(handoff: Handoff) -> str:
    return reverse("leads:handoff_detail", args=[handoff.pk])


def _event(
    handoff: Handoff, kind: str, actor: Actor, detail: str = "", at: dt.datetime | None = None
) -> None:
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=kind,
        actor=actor.user,
        rep=handoff.assigned_to,
        detail=detail[:500],
        at=at or timezone.now(),
    )


def _handoff_touch(
    handoff: Handoff, actor: Actor, *, kind: str, department: str, at: dt.datetime, **extra: Any
) -> None:
    """The hand-off's step on the contact's timeline (bookkeeping: it earns no credit, no score)."""
    crm.touchpoint_record(
        channel="lifecycle",
        kind=kind,
        department=department,
        contact=handoff.contact,
        occurred_at=at,
        actor=actor.user,
        source="tandem",
        properties={"handoff": handoff.pk, "rep": handoff.assigned_to_id, **extra},
    )


def _assign(handoff: Handoff, route: routing.Route, actor: Actor, now: dt.datetime) -> None:
    """Put the hand-off on the route's rep with a fresh acceptance clock, and tell them."""
    policy = HandoffPolicy.current()
    handoff.assigned_to = route.rep
    handoff.routed_by = route.routed_by
    handoff.territory = route.territory
    handoff.status = HandoffStatus.PENDING
    handoff.accepted_at = None
    handoff.first_contact_due_at = None
    if route.rep is None:
        handoff.assigned_at = None
        handoff.accept_due_at = None
    else:
        handoff.assigned_at = now
        handoff.accept_due_at = calendar_for(route.rep).add_business_hours(
            now, policy.accept_within_hours
        )
    handoff.save(
        update_fields=[
            "assigned_to",
            "routed_by",
            "territory",
            "status",
            "accepted_at",
            "first_contact_due_at",
            "assigned_at",
            "accept_due_at",
        ]
    )
    _event(handoff, "routed", actor, route.routed_by, at=now)
    _handoff_touch(
        handoff,
        actor,
        kind="handoff_routed",
        department=Department.MARKETING,
        at=now,
        routed_by=route.routed_by,
    )
    contact = handoff.contact
    name = str(contact)
    if route.rep is not None:
        if contact.owner_id != route.rep.pk:
            crm.contact_update(actor=actor, contact=contact, owner_id=route.rep.pk)
        notify(
            user=route.rep,
            kind="handoff_assigned",
            url=_url(handoff),
            text=lambda: (
                _("New lead for you: %(name)s. Accept or reject it in time.") % {"name": name}
            ),
            email_subject=lambda: _("New lead: %(name)s") % {"name": name},
        )
    else:
        for head in heads():
            notify(
                user=head,
                kind="handoff_unassigned",
                url=_url(handoff),
                text=lambda: _("No rep could take the lead %(name)s: assign it.") % {"name": name},
                email_subject=lambda: _("Unassigned lead: %(name)s") % {"name": name},
            )


@transaction.atomic
def handoff_create(
    *,
    actor: Actor,
    contact: Contact,
    trigger: str,
    scoring_model: ScoringModel | None = None,
    note: str = "",
    source_ref: str = "",
    now: dt.datetime | None = None,
) -> Handoff:
    """Hand the contact to sales (or return its open hand-off): MQL stage, routed, clocked."""
    if trigger not in HandoffTrigger.values:
        raise InvalidInput({"trigger": [_("Unknown hand-off trigger.")]})
    if len(note) > 1000:
        raise InvalidInput({"note": [_("At most 1000 characters.")]})
    now = now or timezone.now()
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("account__owner")
        .get(pk=contact.pk)
    )
    existing = Handoff.objects.filter(contact=contact, status__in=OPEN_HANDOFF).first()
    if existing is not None:
        return existing
    if contact.lifecycle_stage in BEFORE_MQL:
        lifecycle_move(
            actor=actor,
            contact=contact,
            stage=S.MQL,
            at=now,
            reason=str(HandoffTrigger(trigger).label),
        )
    handoff = Handoff.objects.create(
        contact=contact,
        scoring_model=scoring_model,
        trigger=trigger,
        note=note.strip(),
        source_ref=source_ref[:100],
        routed_by=RoutedBy.NOBODY,
        created_at=now,
    )
    record_change(
        actor=actor, action="create", instance=handoff, changes=diff({}, snapshot(handoff))
    )
    _assign(handoff, routing.route(contact), actor, now)
    return handoff


@transaction.atomic
def handoff_by_hand(
    *, actor: Actor, contact: Contact, note: str = "", now: dt.datetime | None = None
) -> Handoff:
    """Marketing hands the contact to sales from its record ("Hand off to sales"). Unlike an
    automatic hand-off, a second one is refused with a reason (code `handoff_open`) rather
    than answered with the open one, and so is a customer (code `customer`)."""
    locked = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
    open_one = (
        Handoff.objects.filter(contact=locked, status__in=OPEN_HANDOFF)
        .select_related("assigned_to")
        .first()
    )
    if open_one is not None:
        raise InvalidInput(
            _("This contact already has an open hand-off (%(status)s).")
            % {"status": open_one.get_status_display()},
            code="handoff_open",
        )
    if locked.lifecycle_stage == S.CUSTOMER:
        raise InvalidInput(
            _("This contact is a customer already; customers are not handed to sales."),
            code="customer",
        )
    return handoff_create(
        actor=actor, contact=locked, trigger=HandoffTrigger.MANUAL, note=note, now=now
    )


def handoff_request_from_quote(
    *,
    contact_id: int,
    actor: Actor | None = None,
    product_line: str = "",
    note: str = "",
    source_ref: str = "",
) -> Handoff:
    """For the sales app: a buyer asked for a quote, so a rep must take the lead now."""
    contact = Contact.objects.get(pk=contact_id)
    model = ScoringModel.objects.filter(product_line=product_line).first()
    return handoff_create(
        actor=actor or Actor.system(),
        contact=contact,
        trigger=HandoffTrigger.QUOTE_REQUEST,
        scoring_model=model,
        note=note,
        source_ref=source_ref,
    )


def _locked_open(handoff: Handoff, status: str) -> Handoff:
    locked = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("contact", "assigned_to")
        .get(pk=handoff.pk)
    )
    if locked.status != status:
        raise InvalidInput(
            _("This hand-off is %(status)s; it cannot be changed that way.")
            % {"status": locked.get_status_display()},
            code="wrong_state",
        )
    return locked


def _check_rep(handoff: Handoff, actor: Actor) -> None:
    user = actor.user
    if user is None or not (user.sees_everything or handoff.assigned_to_id == user.pk):
        raise InvalidInput(_("Only the assigned rep or the head can do this."), code="forbidden")


def _sales_actor_department(actor: Actor) -> str:
    return (actor.user.department if actor.user else None) or Department.SALES


@transaction.atomic
def handoff_accept(*, actor: Actor, handoff: Handoff, now: dt.datetime | None = None) -> Handoff:
    now = now or timezone.now()
    handoff = _locked_open(handoff, HandoffStatus.PENDING)
    _check_rep(handoff, actor)
    if handoff.assigned_to is None:
        raise InvalidInput(_("Assign the hand-off to a rep first."), code="unassigned")
    before = snapshot(handoff)
    policy = HandoffPolicy.current()
    handoff.status = HandoffStatus.ACCEPTED
    handoff.accepted_at = now
    handoff.first_contact_due_at = calendar_for(handoff.assigned_to).add_business_hours(
        now, policy.first_contact_within_hours
    )
    handoff.save(update_fields=["status", "accepted_at", "first_contact_due_at"])
    record_change(
        actor=actor, action="update", instance=handoff, changes=diff(before, snapshot(handoff))
    )
    _event(handoff, "accepted", actor, at=now)
    _handoff_touch(handoff, actor, kind="handoff_accepted", department=Department.SALES, at=now)
    contact = handoff.contact
    if is_allowed(contact.lifecycle_stage, S.SAL) and contact.lifecycle_stage in (
        BEFORE_MQL | {S.MQL}
    ):
        lifecycle_move(
            actor=actor, contact=contact, stage=S.SAL, at=now, reason=_("Accepted by sales")
        )
    return handoff


@transaction.atomic
def handoff_reject(
    *,
    actor: Actor,
    handoff: Handoff,
    reason: str,
    note: str = "",
    outcome: str = RejectionOutcome.RECYCLE,
    now: dt.datetime | None = None,
) -> Handoff:
    errors: dict[str, list[str]] = {}
    note = (note or "").strip()
    if reason not in RejectionReason.values:
        errors["reason"] = [_("Choose a reason from the list.")]
    if reason == RejectionReason.OTHER and not note:
        errors["note"] = [_("Say why, when the reason is “other”.")]
    if len(note) > 1000:
        errors["note"] = [_("At most 1000 characters.")]
    if outcome not in RejectionOutcome.values:
        errors["outcome"] = [_("Choose recycle or disqualify.")]
    if errors:
        raise InvalidInput(errors)
    now = now or timezone.now()
    handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
    if handoff.status not in OPEN_HANDOFF:
        raise InvalidInput(_("This hand-off is closed already."), code="wrong_state")
    _check_rep(handoff, actor)
    before = snapshot(handoff)
    rep_id = handoff.assigned_to_id
    handoff.status = HandoffStatus.REJECTED
    handoff.rejected_at = now
    handoff.rejection_reason = reason
    handoff.rejection_note = note
    handoff.rejection_outcome = outcome
    handoff.save(
        update_fields=[
            "status",
            "rejected_at",
            "rejection_reason",
            "rejection_note",
            "rejection_outcome",
        ]
    )
    routing.release_seat(rep_id)
    record_change(
        actor=actor, action="update", instance=handoff, changes=diff(before, snapshot(handoff))
    )
    _event(handoff, "rejected", actor, f"{reason}: {note}", at=now)
    _handoff_touch(
        handoff,
        actor,
        kind="handoff_rejected",
        department=Department.SALES,
        at=now,
        reason=reason,
        outcome=outcome,
    )
    contact = handoff.contact
    target = S.RECYCLED if outcome == RejectionOutcome.RECYCLE else S.DISQUALIFIED
    label = str(RejectionReason(reason).label)
    if is_allowed(contact.lifecycle_stage, target):
        lifecycle_move(
            actor=actor,
            contact=contact,
            stage=target,
            at=now,
            reason=_("Rejected by sales: %(reason)s") % {"reason": label},
        )
    if contact.owner_id is not None and contact.owner_id == rep_id:
        crm.contact_update(actor=actor, contact=contact, owner_id=None)
    return handoff


@transaction.atomic
def handoff_mark_contacted(
    *,
    actor: Actor,
    handoff: Handoff,
    channel: str = "phone",
    note: str = "",
    now: dt.datetime | None = None,
) -> Handoff:
    """The rep reached the lead: stops the first-contact clock; the contact goes on the timeline."""
    if channel not in FIRST_CONTACT_CHANNELS:
        raise InvalidInput({"channel": [_("Choose how you contacted the lead.")]})
    now = now or timezone.now()
    handoff = _locked_open(handoff, HandoffStatus.ACCEPTED)
    _check_rep(handoff, actor)
    before = snapshot(handoff)
    handoff.status = HandoffStatus.CONTACTED
    handoff.contacted_at = now
    handoff.save(update_fields=["status", "contacted_at"])
    routing.release_seat(handoff.assigned_to_id)
    record_change(
        actor=actor, action="update", instance=handoff, changes=diff(before, snapshot(handoff))
    )
    _event(handoff, "contacted", actor, channel, at=now)
    crm.touchpoint_record(
        channel=channel,
        kind="first_contact",
        department=_sales_actor_department(actor),
        contact=handoff.contact,
        occurred_at=now,
        actor=actor.user,
        source="tandem",
        properties={"handoff": handoff.pk, "note": note[:500]},
    )
    return handoff


@transaction.atomic
def handoff_assign(
    *, actor: Actor, handoff: Handoff, rep: User, now: dt.datetime | None = None
) -> Handoff:
    """The head puts an open hand-off on a rep of their choice; the acceptance clock restarts."""
    if actor.user is None or not actor.user.sees_everything:
        raise InvalidInput(_("Only the head can assign hand-offs."), code="forbidden")
    if not rep.is_active or rep.role != Role.SALES_REP:
        raise InvalidInput({"rep": [_("Choose an active sales rep.")]})
    now = now or timezone.now()
    handoff = (
        Handoff.objects.select_for_update(of=("self",)).select_related("contact").get(pk=handoff.pk)
    )
    if handoff.status not in OPEN_HANDOFF:
        raise InvalidInput(_("This hand-off is closed already."), code="wrong_state")
    before = snapshot(handoff)
    routing.release_seat(handoff.assigned_to_id)
    routing.take_seat(rep)
    _assign(handoff, routing.Route(rep, RoutedBy.HEAD), actor, now)
    record_change(
        actor=actor, action="update", instance=handoff, changes=diff(before, snapshot(handoff))
    )
    return handoff


# --- the SLA clock --------------------------------------------------------------------------


def _due(now: dt.datetime) -> Q:
    return Q(status=HandoffStatus.PENDING, accept_due_at__lte=now) | Q(
        status=HandoffStatus.ACCEPTED, first_contact_due_at__lte=now
    )


def _close_contacted(now: dt.datetime) -> int:
    """Accepted hand-offs whose rep already reached the lead (a sales touchpoint by the rep after
    accepting) are contacted, not breached: each is claimed with a conditional UPDATE."""
    rep_touch = Touchpoint.objects.filter(
        contact_id=OuterRef("contact_id"),
        actor_id=OuterRef("assigned_to_id"),
        department=Department.SALES,
        occurred_at__gte=OuterRef("accepted_at"),
        is_bot=False,
    ).exclude(channel__in=RECORD_CHANNELS)
    first = rep_touch.order_by().values("contact_id").annotate(at=Min("occurred_at")).values("at")
    rows = Handoff.objects.filter(status=HandoffStatus.ACCEPTED).filter(Exists(rep_touch))
    closed = 0
    for pk, rep_id, at in rows.annotate(at=first[:1]).values_list("pk", "assigned_to_id", "at"):
        with transaction.atomic():
            if Handoff.objects.filter(pk=pk, status=HandoffStatus.ACCEPTED).update(
                status=HandoffStatus.CONTACTED, contacted_at=at or now
            ):
                routing.release_seat(rep_id)
                HandoffEvent.objects.create(
                    handoff_id=pk, kind="contacted", rep_id=rep_id, at=at or now, detail="timeline"
                )
                closed += 1
    return closed


def handoff_check_sla(*, now: dt.datetime | None = None) -> int:
    """Escalate every hand-off whose clock ran out; returns how many were escalated.

    Safe to run from several workers at once: each row is claimed by a conditional UPDATE."""
    now = now or timezone.now()
    _close_contacted(now)
    due = list(Handoff.objects.filter(_due(now)).values_list("pk", "breaches"))
    return sum(
        1 for pk, seen in due if handoff_escalate(handoff_id=pk, seen_breaches=seen, now=now)
    )


@transaction.atomic
def handoff_escalate(*, handoff_id: int, seen_breaches: int, now: dt.datetime) -> bool:
    claimed = Handoff.objects.filter(_due(now), pk=handoff_id, breaches=seen_breaches).update(
        breaches=F("breaches") + 1
    )
    if not claimed:
        return False
    system = Actor.system()
    handoff = Handoff.objects.select_related("contact__account__owner", "assigned_to").get(
        pk=handoff_id
    )
    before = snapshot(handoff)
    late_rep = handoff.assigned_to
    what = (
        _("not accepted in time")
        if handoff.status == HandoffStatus.PENDING
        else _("not contacted in time")
    )
    _event(handoff, "breached", system, str(what), at=now)
    routing.release_seat(handoff.assigned_to_id)
    tried = set(
        handoff.events.filter(kind="routed", rep__isnull=False).values_list("rep_id", flat=True)
    )
    policy = HandoffPolicy.current()
    if handoff.breaches > policy.max_escalations:
        route = routing.Route(None, RoutedBy.NOBODY)
    else:
        route = routing.route(handoff.contact, exclude=tried)
    _assign(handoff, route, system, now)
    record_change(
        actor=system, action="update", instance=handoff, changes=diff(before, snapshot(handoff))
    )
    name = str(handoff.contact)
    rep_name = str(late_rep.get_full_name() or late_rep.username) if late_rep else "—"
    new_name = (route.rep.get_full_name() or route.rep.username) if route.rep else "—"
    for head in heads():
        notify(
            user=head,
            kind="handoff_breached",
            url=_url(handoff),
            text=lambda: (
                _("SLA breach: the lead %(name)s was %(what)s by %(rep)s; now with %(new)s.")
                % {"name": name, "what": what, "rep": rep_name, "new": new_name}
            ),
            email_subject=lambda: _("SLA breach: %(name)s") % {"name": name},
        )
    return True


# --- MQLs from scores -----------------------------------------------------------------------


def mql_promote_due(*, scoring_model_id: int, limit: int = 1000) -> int:
    """Hand over every contact whose score reached the model's MQL threshold and that is not with
    sales yet; one transaction per contact. Returns how many hand-offs were created."""
    model = ScoringModel.objects.get(pk=scoring_model_id)
    open_handoff = Handoff.objects.filter(
        contact_id=OuterRef("contact_id"), status__in=OPEN_HANDOFF
    )
    due = (
        ContactScore.objects.filter(
            scoring_model=model,
            total__gte=model.mql_threshold,
            contact__lifecycle_stage__in=[S.SUBSCRIBER, S.LEAD],
        )
        .exclude(Exists(open_handoff))
        .order_by("-total", "contact_id")
        .values_list("contact_id", flat=True)[:limit]
    )
    created = 0
    for contact_id in list(due):
        contact = Contact.objects.get(pk=contact_id)
        handoff = handoff_create(
            actor=Actor.system(), contact=contact, trigger=HandoffTrigger.MQL, scoring_model=model
        )
        created += int(handoff.trigger == HandoffTrigger.MQL)
    return created


# The dispute operations (`disputes.dispute_open`, `dispute_post`, `dispute_decide`) live in
# `tandem.leads.disputes`; other apps reach them as `services.disputes`.
from tandem.leads import disputes as disputes  # noqa: E402
