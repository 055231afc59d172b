"""What starts a flow, read from the apps that own the events.

Each trigger kind reads the append-only record its owning app keeps — the timeline's touchpoints
(crm: any touchpoint, website forms, trainings and visits once field reports them), segment
entered/left events (marketing writes them for automation: `segment_events_after`), lifecycle
stage history and hand-off events (leads), deal stage visits (sales) — after the flow's cursor,
and enrols each contact with a trigger key naming the source row. Scores and anniversaries are
states, not events: every contact over the threshold, or whose date falls today in the
organisation's time zone, is enrolled with a key that makes it once (per year for dates).
An incoming signed webhook enrols through `api.py` directly.

The same pass resumes enrolments waiting for an event that happened, and ends enrolments whose
flow stops on a signal (a reply, a meeting: `stop_on`; or `consent_withdrawn`, the contact's
consent state) — the sales sequences' rules.

Invariants:
- reading twice, or two dispatchers at once, never enrols twice: one enrolment per
  (flow, contact, trigger key) is a unique constraint;
- a new flow starts at its source's latest row: history is not replayed;
- a paused or draft flow enrols nobody; its cursor does not move, so nothing is lost meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import models, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from tandem.automation import graph as g
from tandem.automation.models import Enrolment, EnrolmentStatus, Flow, FlowStatus, TriggerCursor
from tandem.automation.services import enrol
from tandem.core.models import Organisation
from tandem.crm.models import ConsentState, Contact, Touchpoint

BATCH = 2000
# in `stop_on`: the contact's consent is withdrawn (a state the consent ledger keeps, not a
# touchpoint); a sales sequence stops on it at once, not only at its next email
CONSENT_WITHDRAWN = "consent_withdrawn"
# trigger kind -> the touchpoint kind its owning app writes (programmes: a training attended;
# field: a visit checked out with its report)
TOUCHPOINT_KINDS = {
    "form_submitted": "form_submitted",
    "training_completed": "training_attended",
    "visit_reported": "visit_completed",
}


def _source(kind: str) -> type[models.Model] | None:
    from tandem.leads.models import HandoffEvent, StageHistory
    from tandem.marketing.models import SegmentEvent
    from tandem.sales.models import DealStageVisit

    if kind == "touchpoint" or kind in TOUCHPOINT_KINDS:
        return Touchpoint
    return {
        "segment_entered": SegmentEvent,
        "segment_left": SegmentEvent,
        "lifecycle_changed": StageHistory,
        "handoff_sla_breached": HandoffEvent,
        "deal_stage": DealStageVisit,
    }.get(kind)


def latest_id(kind: str) -> int:
    model = _source(kind)
    if model is None:
        return 0
    return int(model._default_manager.aggregate(m=Max("pk"))["m"] or 0)


def _rows(trigger: g.Trigger, after: int) -> tuple[list[tuple[int, int]], int]:
    """(contact id, source row id) pairs after the cursor, and the new cursor."""
    from tandem.leads.models import HandoffEvent, StageHistory
    from tandem.marketing.models import SegmentEvent
    from tandem.sales.models import DealContact, DealStageVisit

    kind = trigger.kind
    pairs: list[tuple[int, int]] = []
    if kind == "touchpoint" or kind in TOUCHPOINT_KINDS:
        ids = list(
            Touchpoint.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return [], after
        wanted = TOUCHPOINT_KINDS.get(kind, trigger.touchpoint_kind)
        rows = Touchpoint.objects.filter(pk__in=ids, contact__isnull=False, is_bot=False)
        if wanted:
            rows = rows.filter(kind=wanted)
        if kind == "form_submitted" and trigger.form:
            rows = rows.filter(properties__form=trigger.form)
        pairs = [(int(c), int(i)) for i, c in rows.values_list("pk", "contact_id")]
        return pairs, ids[-1]
    if kind in ("segment_entered", "segment_left"):
        events = list(SegmentEvent.objects.filter(pk__gt=after).order_by("pk")[:BATCH])
        want = "entered" if kind == "segment_entered" else "left"
        pairs = [
            (e.contact_id, e.pk)
            for e in events
            if e.kind == want and (trigger.segment_id is None or e.segment_id == trigger.segment_id)
        ]
        return pairs, events[-1].pk if events else after
    if kind == "lifecycle_changed":
        stays = list(StageHistory.objects.filter(pk__gt=after).order_by("pk")[:BATCH])
        pairs = [
            (s.contact_id, s.pk) for s in stays if not trigger.stage or s.stage == trigger.stage
        ]
        return pairs, stays[-1].pk if stays else after
    if kind == "handoff_sla_breached":
        breaches = list(
            HandoffEvent.objects.filter(pk__gt=after)
            .select_related("handoff")
            .order_by("pk")[:BATCH]
        )
        pairs = [(b.handoff.contact_id, b.pk) for b in breaches if b.kind == "breached"]
        return pairs, breaches[-1].pk if breaches else after
    if kind == "deal_stage":
        visits = list(DealStageVisit.objects.filter(pk__gt=after).order_by("pk")[:BATCH])
        hits = [
            v
            for v in visits
            if trigger.deal_stage_id is None or v.stage_id == trigger.deal_stage_id
        ]
        people = DealContact.objects.filter(deal_id__in={v.deal_id for v in hits})
        by_deal: dict[int, list[int]] = {}
        for deal_id, contact_id in people.values_list("deal_id", "contact_id"):
            by_deal.setdefault(deal_id, []).append(contact_id)
        pairs = [(c, v.pk) for v in hits for c in by_deal.get(v.deal_id, [])]
        return pairs, visits[-1].pk if visits else after
    return [], after


def _states(trigger: g.Trigger, now: dt.datetime) -> list[tuple[int, str]]:
    """Contacts a state trigger (score, anniversary) holds for now, with their trigger key."""
    from tandem.leads.models import ContactScore

    if trigger.kind == "score_above" and trigger.threshold is not None:
        ids = ContactScore.objects.filter(total__gte=trigger.threshold).values_list(
            "contact_id", flat=True
        )
        return [(int(c), "score") for c in ids.distinct()]
    if trigger.kind == "anniversary" and trigger.date_field:
        import zoneinfo

        try:
            zone = zoneinfo.ZoneInfo(Organisation.current().time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        today = now.astimezone(zone).date()
        out = []
        rows = Contact.objects.filter(custom__has_key=trigger.date_field)
        for pk, custom in rows.values_list("pk", "custom"):
            value = str((custom or {}).get(trigger.date_field, ""))[:10]
            if len(value) == 10 and value[5:] == today.strftime("%m-%d"):
                out.append((int(pk), f"date:{today.year}"))
        return out
    return []


def _enrol_all(flow: Flow, pairs: Iterable[tuple[int, str]], now: dt.datetime) -> int:
    return sum(
        enrol(flow=flow, contact_id=c, trigger_key=key, now=now) is not None for c, key in pairs
    )


def flow_dispatch(flow_id: int, *, now: dt.datetime | None = None) -> int:
    """Read one active flow's trigger source and enrol; returns how many were enrolled."""
    now = now or timezone.now()
    enrolled = 0
    with transaction.atomic():
        flow = (
            Flow.objects.select_for_update(of=("self",))
            .select_related("live_version")
            .get(pk=flow_id)
        )
        if flow.status != FlowStatus.ACTIVE or flow.live_version is None:
            return 0
        trigger = g.validate_graph(flow.live_version.graph).trigger
        if trigger.kind in ("score_above", "anniversary"):
            return _enrol_all(flow, _states(trigger, now), now)
        cursor, _created = TriggerCursor.objects.get_or_create(flow=flow)
        for _round in range(100):
            pairs, last = _rows(trigger, cursor.last_id)
            if last == cursor.last_id:
                break
            enrolled += _enrol_all(flow, ((c, f"{trigger.kind}:{i}") for c, i in pairs), now)
            TriggerCursor.objects.filter(pk=cursor.pk).update(last_id=last)
            cursor.last_id = last
    return enrolled


def events_resume(*, now: dt.datetime | None = None) -> int:
    """Wake enrolments waiting for a touchpoint that has happened (they take the "event" arrow)."""
    now = now or timezone.now()
    happened = Touchpoint.objects.filter(
        contact_id=OuterRef("contact_id"),
        kind=OuterRef("waiting_for"),
        occurred_at__gte=OuterRef("waiting_since"),
        is_bot=False,
    )
    return (
        Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE, event_seen=False)
        .exclude(waiting_for="")
        .filter(Exists(happened))
        .update(event_seen=True, next_run_at=now)
    )


def stop_on_signals(*, now: dt.datetime | None = None) -> int:
    """End active enrolments whose flow stops on a signal the contact gave since enrolling
    (a paused flow too: pausing stops enrolling, and its running enrolments still advance)."""
    now = now or timezone.now()
    stopped = 0
    running = [FlowStatus.ACTIVE, FlowStatus.PAUSED]
    for flow in Flow.objects.filter(status__in=running).select_related("live_version"):
        kinds: set[str] = set()
        for graph in flow.versions.filter(published_at__isnull=False).values_list(
            "graph", flat=True
        ):
            kinds |= set(graph.get("stop_on") or [])
        for kind in sorted(kinds):
            if kind == CONSENT_WITHDRAWN:  # a state, not a touchpoint: whenever it is so
                stopped += (
                    Enrolment.objects.filter(flow=flow, status=EnrolmentStatus.ACTIVE)
                    .filter(contact__consent=ConsentState.WITHDRAWN)
                    .update(
                        status=EnrolmentStatus.EXITED,
                        ended_at=now,
                        next_run_at=None,
                        exit_reason=f"stopped: {kind}",
                    )
                )
                continue
            signal = Touchpoint.objects.filter(
                contact_id=OuterRef("contact_id"),
                kind=kind,
                occurred_at__gte=OuterRef("enrolled_at"),
                is_bot=False,
            )
            stopped += (
                Enrolment.objects.filter(flow=flow, status=EnrolmentStatus.ACTIVE)
                .filter(Exists(signal))
                .update(
                    status=EnrolmentStatus.EXITED,
                    ended_at=now,
                    next_run_at=None,
                    exit_reason=f"stopped: {kind}"[:200],
                )
            )
    return stopped


def dispatch_all(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    stop_on_signals(now=now)
    enrolled = 0
    for flow_id in Flow.objects.filter(status=FlowStatus.ACTIVE).values_list("pk", flat=True):
        enrolled += flow_dispatch(flow_id, now=now)
    events_resume(now=now)
    return enrolled
