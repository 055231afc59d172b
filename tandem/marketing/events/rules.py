"""The rule that turns an event's registrants into leads (and, if it says so, hands them to sales).

A rule (`EventLeadRule`) belongs to one event or to every event of a kind (the event's own rule
wins). It says who qualifies — statuses (registered with no attendance recorded / attended /
no-show), a minimum of minutes attended (attendees only: webinar attendance files carry the
duration; a badge scan has none, so it does not meet a minimum), an optional minimum score in a
score group (`leads.ContactScore.total`) — and what happens: the lifecycle stage to set (lead or
MQL, through `leads.services.lifecycle_move`, only where the lifecycle allows the move), the
lead source (a `<kind>_lead` touchpoint with `source` = the lead source, which the leads
quality report groups by), and an optional hand-off to sales (`leads.services.handoff_create`,
trigger "manual": routed to a rep with the SLA clock running).

Invariants:
- each registration is handled at most once: its `EventLeadOutcome` row is inserted first (unique
  on the registration) in the same transaction as the stage move, touchpoint and hand-off, so a
  second run (or a concurrent one) creates no second lead, touchpoint or hand-off, and a
  registration whose handling failed is left for the next run with nothing half-written;
- a hand-off is only made for contacts not already past MQL (subscriber, lead, MQL, recycled);
- the rule runs after each attendance or badge import (if `auto`), and on demand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import ContactScore, HandoffTrigger, ScoringModel
from tandem.leads.services import handoff_create, is_allowed, lifecycle_move
from tandem.marketing.events.models import (
    EventKind,
    EventLeadOutcome,
    EventLeadRule,
    MarketingEvent,
    Registration,
    RegistrationStatus,
)

log = logging.getLogger("tandem.marketing")
RULE_FIELDS = {
    "statuses",
    "min_minutes",
    "min_score",
    "scoring_model_id",
    "stage",
    "lead_source",
    "handoff",
    "auto",
}
RULE_STAGES = ("", LifecycleStage.LEAD, LifecycleStage.MQL)
HANDOFF_FROM = {
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.RECYCLED,
}
MAX_MINUTES = 7 * 24 * 60


@dataclass
class RuleRun:
    """What one run did: registrations handled, stage moves, hand-offs, and failures."""

    handled: int = 0
    moved: int = 0
    handed_off: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def rule_for(event: MarketingEvent) -> EventLeadRule | None:
    """The event's own rule, else the rule for its kind, else None."""
    own = EventLeadRule.objects.filter(event=event).first()
    if own is not None:
        return own
    return EventLeadRule.objects.filter(event__isnull=True, event_kind=event.kind).first()


def default_rule() -> EventLeadRule:
    """What "Make attendees leads" does without a configured rule: attendees become leads."""
    return EventLeadRule(statuses=[RegistrationStatus.ATTENDED], stage=LifecycleStage.LEAD)


def _flag(value: Any) -> bool:
    return value in (True, "1", "on", "true", "yes")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - RULE_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "statuses" in data:
        statuses = data["statuses"]
        if isinstance(statuses, str):
            statuses = [statuses]
        if (
            not isinstance(statuses, list | tuple)
            or not statuses
            or any(s not in RegistrationStatus.values for s in statuses)
        ):
            errors["statuses"] = [_("Choose who qualifies: registered, attended or no-show.")]
        else:
            out["statuses"] = [s for s in RegistrationStatus.values if s in statuses]
    for name, kind in (("min_minutes", int), ("min_score", float)):
        if name not in data:
            continue
        value = data[name]
        if value in (None, ""):
            out[name] = None
            continue
        try:
            number = kind(str(value).strip())
        except ValueError:
            errors[name] = [_("Enter a number.")]
            continue
        if number < 0 or (name == "min_minutes" and number > MAX_MINUTES) or number > 1e9:
            errors[name] = [_("Out of range.")]
        else:
            out[name] = number
    if "scoring_model_id" in data:
        value = data["scoring_model_id"]
        if value in (None, ""):
            out["scoring_model_id"] = None
        elif not str(value).isdigit() or not ScoringModel.objects.filter(pk=value).exists():
            errors["scoring_model_id"] = [_("No such score group.")]
        else:
            out["scoring_model_id"] = int(value)
    if "stage" in data:
        stage = data["stage"] or ""
        if stage not in RULE_STAGES:
            errors["stage"] = [_("A rule can set the stage to lead or MQL (or leave it).")]
        out["stage"] = stage
    if "lead_source" in data:
        source = str(data["lead_source"] or "").strip()
        if len(source) > 60:
            errors["lead_source"] = [_("At most 60 characters.")]
        out["lead_source"] = source
    for name in ("handoff", "auto"):
        if name in data:
            out[name] = _flag(data[name])
    if errors:
        raise InvalidInput(errors)
    return out


@transaction.atomic
def rule_save(
    *, actor: Actor, event: MarketingEvent | None = None, event_kind: str = "", **data: Any
) -> EventLeadRule:
    """Create or change the rule of an event (or of every event of `event_kind`)."""
    if (event is None) == (not event_kind):
        raise InvalidInput(_("A rule is for one event or for one kind of event."))
    if event is None and event_kind not in EventKind.values:
        raise InvalidInput({"event_kind": [_("Choose a kind of event.")]})
    cleaned = _clean(data)
    target = {"event": event} if event is not None else {"event__isnull": True}
    rule = (
        EventLeadRule.objects.select_for_update()
        .filter(**target, event_kind="" if event is not None else event_kind)
        .first()
    )
    merged_score = cleaned.get("min_score", rule.min_score if rule else None)
    merged_model = cleaned.get("scoring_model_id", rule.scoring_model_id if rule else None)
    if merged_score is not None and merged_model is None:
        default = ScoringModel.objects.filter(product_line="").values_list("pk", flat=True).first()
        if default is None:
            raise InvalidInput({"scoring_model_id": [_("Choose the score group to compare.")]})
        cleaned["scoring_model_id"] = default
    if rule is None:
        rule = EventLeadRule.objects.create(
            event=event,
            event_kind="" if event is not None else event_kind,
            updated_by=actor.user,
            **cleaned,
        )
        record_change(actor=actor, action="create", instance=rule, changes=diff({}, snapshot(rule)))
        return rule
    before = snapshot(rule)
    for key, value in cleaned.items():
        setattr(rule, key, value)
    rule.updated_by = actor.user
    rule.save()
    changes = diff(before, snapshot(rule))
    changes.pop("updated_by", None)
    if changes:
        record_change(actor=actor, action="update", instance=rule, changes=changes)
    return rule


def qualifying(event: MarketingEvent, rule: EventLeadRule) -> QuerySet[Registration]:
    """The event's registrations the rule selects that no run has handled yet."""
    wanted = Q(pk__in=[])
    statuses = set(rule.statuses or [])
    if RegistrationStatus.REGISTERED in statuses:
        wanted |= Q(attended__isnull=True)
    if RegistrationStatus.NO_SHOW in statuses:
        wanted |= Q(attended=False)
    if RegistrationStatus.ATTENDED in statuses:
        attended = Q(attended=True)
        if rule.min_minutes:
            attended &= Q(minutes__gte=rule.min_minutes)
        wanted |= attended
    qs = Registration.objects.filter(wanted, event=event, lead_outcome__isnull=True)
    if rule.min_score is not None and rule.scoring_model_id is not None:
        qs = qs.filter(
            Exists(
                ContactScore.objects.filter(
                    contact=OuterRef("contact"),
                    scoring_model_id=rule.scoring_model_id,
                    total__gte=rule.min_score,
                )
            )
        )
    return qs.select_related("contact").order_by("pk")


def _handle(actor: Actor, event: MarketingEvent, rule: EventLeadRule, reg: Registration) -> str:
    """One registration, in one transaction; returns "", "moved", "handoff" or "both"."""
    source = rule.lead_source or "event"
    with transaction.atomic():
        try:
            with transaction.atomic():
                outcome = EventLeadOutcome.objects.create(
                    registration=reg,
                    rule=rule if rule.pk else None,
                    contact_id=reg.contact_id,
                    lead_source=source,
                )
        except IntegrityError:
            return "skip"  # another run handled it
        contact = Contact.objects.get(pk=reg.contact_id)
        reason = (_("Qualified at %(title)s") % {"title": event.title})[:500]
        crm.touchpoint_record(
            channel=event.kind,
            kind=f"{event.kind}_lead",
            department="marketing",
            contact=contact,
            campaign=event.campaign.utm_code if event.campaign_id and event.campaign else "",
            content=event.slug,
            source=source,
            actor=actor.user,
            properties={"event": event.pk, "registration": reg.pk, "rule": rule.pk},
        )
        moved = False
        if rule.stage and is_allowed(contact.lifecycle_stage, rule.stage):
            moved = lifecycle_move(actor=actor, contact=contact, stage=rule.stage, reason=reason)
        handoff = None
        if rule.handoff and contact.lifecycle_stage in HANDOFF_FROM:
            handoff = handoff_create(
                actor=actor,
                contact=contact,
                trigger=HandoffTrigger.MANUAL,
                scoring_model=rule.scoring_model,
                note=reason,
                source_ref=f"event:{event.pk}",
            )
        outcome.moved_to = rule.stage if moved else ""
        outcome.handoff = handoff
        outcome.save(update_fields=["moved_to", "handoff"])
    return {(False, False): "", (True, False): "moved", (False, True): "handoff"}.get(
        (moved, handoff is not None), "both"
    )


def rule_apply(
    *, actor: Actor, event: MarketingEvent, rule: EventLeadRule | None = None
) -> RuleRun:
    """Apply the event's rule (or the given one) to every registration it has not handled."""
    rule = rule or rule_for(event) or default_rule()
    run = RuleRun()
    for registration in list(qualifying(event, rule)):
        try:
            what = _handle(actor, event, rule, registration)
        except InvalidInput as exc:
            log.info("lead rule: registration %s not handled: %s", registration.pk, exc)
            run.failed.append((registration.pk, exc.message))
            continue
        if what == "skip":
            continue
        run.handled += 1
        run.moved += what in ("moved", "both")
        run.handed_off += what in ("handoff", "both")
    return run


def rule_apply_after_import(*, actor: Actor, event: MarketingEvent) -> RuleRun | None:
    """Called by the attendance and badge imports: runs a configured rule marked `auto`."""
    rule = rule_for(event)
    if rule is None or not rule.auto:
        return None
    return rule_apply(actor=actor, event=event, rule=rule)
