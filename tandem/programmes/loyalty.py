"""Loyalty programmes: earning rules, tiers, the points ledger, rewards (trips too), redemption
with approval, statements, and the reversal of a refunded purchase.

Every change of a balance is one `PointsEntry` written by `_post`, which locks the membership
row, appends the entry with the running balance and moves `Membership.balance` by the same
amount, in one transaction with the audit entry.

Invariants:
- the ledger balances: `membership.balance == sum(entry.points)` and each `balance_after` is the
  running sum; no balance is ever negative (a redemption beyond the balance is refused, a
  reversal or expiry takes at most what is there; the database checks it too);
- an earning is unique per (membership, source key) — a won deal line, a certificate, an event
  attendance or a referral earns once; an entry is reversed at most once;
- a rule's cap holds per calendar period (month, quarter, year in the organisation's time zone):
  earnings under a rule in one period, net of their reversals, never exceed `cap_points`;
- points expire first in, first out: at time t the expired total is what was earned with
  `expires_at <= t` less everything already taken out (redeemed, expired, reversed);
- a reward to a member in the medical industry passes `compliance.compliance_check` for the
  organisation (HCO) and each traveller (HCP) when requested and again when approved; approval
  records the transfers of value.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation
from tandem.crm.models import Account, Contact, Industry, Touchpoint
from tandem.programmes import compliance
from tandem.programmes.models import (
    CapPeriod,
    EarningRule,
    EarnSource,
    EntryKind,
    LoyaltyProgramme,
    Membership,
    PointsEntry,
    RecipientKind,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Tier,
)
from tandem.sales.models import DealLine, DealStatus

DateOrTime = TypeVar("DateOrTime", dt.date, dt.datetime)


def add_months(value: DateOrTime, months: int) -> DateOrTime:
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return value.replace(year=year, month=month, day=min(value.day, last))


# --- set-up -----------------------------------------------------------------------------------


def _audit_create(actor: Actor, instance: object) -> None:
    record_change(
        actor=actor,
        action="create",
        instance=instance,  # type: ignore[arg-type]
        changes=diff({}, snapshot(instance)),  # type: ignore[arg-type]
    )


@transaction.atomic
def programme_create(
    *,
    actor: Actor,
    name: str,
    currency: str = "EUR",
    points_valid_months: int = 24,
    tier_window_months: int = 12,
) -> LoyaltyProgramme:
    if LoyaltyProgramme.objects.filter(name=name).exists():
        raise InvalidInput({"name": [_("A programme with this name exists.")]})
    programme = LoyaltyProgramme.objects.create(
        name=name,
        currency=currency.upper(),
        points_valid_months=points_valid_months,
        tier_window_months=tier_window_months,
    )
    _audit_create(actor, programme)
    return programme


@transaction.atomic
def earning_rule_create(
    *,
    actor: Actor,
    programme: LoyaltyProgramme,
    source: str,
    points: int,
    product_id: int | None = None,
    cap_points: int | None = None,
    cap_period: str = CapPeriod.YEAR,
) -> EarningRule:
    if source not in EarnSource.values:
        raise InvalidInput({"source": [_("Unknown source of points.")]})
    if cap_period not in CapPeriod.values:
        raise InvalidInput({"cap_period": [_("Choose month, quarter or year.")]})
    if product_id is not None and source != EarnSource.PURCHASE:
        raise InvalidInput({"product": [_("Only purchases are of a product.")]})
    if points < 1:
        raise InvalidInput({"points": [_("A rule earns at least one point.")]})
    rule = EarningRule.objects.create(
        programme=programme,
        source=source,
        points=points,
        product_id=product_id,
        cap_points=cap_points,
        cap_period=cap_period,
    )
    _audit_create(actor, rule)
    return rule


@transaction.atomic
def tier_create(
    *, actor: Actor, programme: LoyaltyProgramme, name: str, threshold: int, valid_months: int = 12
) -> Tier:
    if Tier.objects.filter(programme=programme, threshold=threshold).exists():
        raise InvalidInput({"threshold": [_("Another tier has this threshold.")]})
    tier = Tier.objects.create(
        programme=programme, name=name, threshold=threshold, valid_months=valid_months
    )
    _audit_create(actor, tier)
    return tier


@transaction.atomic
def reward_create(
    *,
    actor: Actor,
    programme: LoyaltyProgramme,
    name: str,
    kind: str,
    nature: str,
    points_cost: int,
    unit_cost: Decimal = Decimal("0"),
    destination: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    capacity: int | None = None,
) -> Reward:
    errors: dict[str, list[str]] = {}
    if kind == RewardKind.TRIP:
        if starts_on is None or ends_on is None:
            errors["starts_on"] = [_("A trip has dates.")]
        elif ends_on < starts_on:
            errors["ends_on"] = [_("A trip ends after it starts.")]
        if not capacity:
            errors["capacity"] = [_("A trip has a number of places.")]
    if points_cost < 1:
        errors["points_cost"] = [_("A reward costs at least one point.")]
    if errors:
        raise InvalidInput(errors)
    reward = Reward.objects.create(
        programme=programme,
        name=name,
        kind=kind,
        nature=nature,
        points_cost=points_cost,
        unit_cost=unit_cost,
        destination=destination,
        starts_on=starts_on,
        ends_on=ends_on,
        capacity=capacity,
    )
    _audit_create(actor, reward)
    return reward


@transaction.atomic
def member_enrol(
    *,
    actor: Actor,
    programme: LoyaltyProgramme,
    account: Account,
    country: str,
    joined_at: dt.datetime | None = None,
) -> Membership:
    code = country.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidInput({"country": [_("Enter a two-letter country code (ISO 3166).")]})
    membership, created = Membership.objects.get_or_create(
        programme=programme,
        account=account,
        defaults={"country": code, "joined_at": joined_at or timezone.now()},
    )
    if created:
        _audit_create(actor, membership)
    return membership


# --- the ledger -------------------------------------------------------------------------------


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(Organisation.current().time_zone or "UTC")


def period_bounds(at: dt.datetime, period: str, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month, quarter or year around `at`, in `zone`: [start, end)."""
    local = at.astimezone(zone)
    if period == CapPeriod.MONTH:
        start, months = local.replace(day=1), 1
    elif period == CapPeriod.QUARTER:
        start, months = local.replace(month=3 * ((local.month - 1) // 3) + 1, day=1), 3
    else:
        start, months = local.replace(month=1, day=1), 12
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, add_months(start, months)


def _post(
    membership_id: int,
    *,
    kind: str,
    points: int,
    at: dt.datetime,
    **fields: object,
) -> PointsEntry:
    """Append one entry and move the balance by the same amount (the caller is atomic)."""
    membership = Membership.objects.select_for_update().get(pk=membership_id)
    balance = membership.balance + points
    if balance < 0:
        raise InvalidInput(
            {"points": [_("Not enough points: the balance is %(n)d.") % {"n": membership.balance}]},
            code="insufficient_points",
        )
    entry = PointsEntry.objects.create(
        membership=membership,
        kind=kind,
        points=points,
        balance_after=balance,
        occurred_at=at,
        **fields,
    )
    membership.balance = balance
    membership.save(update_fields=["balance"])
    return entry


def _net_earned(membership_id: int, earned: dict[str, Any], reversed_: dict[str, Any]) -> int:
    """A membership's points of EARN entries matching `earned` (lookups on the entry), net of
    the REVERSE entries whose reversed entry matches `reversed_` (lookups on that entry): the
    two filters are given apart because the callers' windows differ."""
    earn = (
        PointsEntry.objects.filter(
            membership_id=membership_id, kind=EntryKind.EARN, **earned
        ).aggregate(n=Sum("points"))["n"]
        or 0
    )
    back = (
        PointsEntry.objects.filter(
            membership_id=membership_id,
            kind=EntryKind.REVERSE,
            **{f"reverses__{lookup}": value for lookup, value in reversed_.items()},
        ).aggregate(n=Sum("points"))["n"]
        or 0
    )
    return int(earn + back)


def _earned_under_rule(
    membership_id: int, rule: EarningRule, start: dt.datetime, end: dt.datetime
) -> int:
    """Points earned under `rule` in [start, end), net of the reversals of those entries."""
    window = {"rule": rule, "occurred_at__gte": start, "occurred_at__lt": end}
    return _net_earned(membership_id, window, window)


def _rule_for(programme_id: int, source: str, product_id: int | None) -> EarningRule | None:
    rules = EarningRule.objects.filter(programme_id=programme_id, source=source, active=True)
    if product_id is not None:
        specific = rules.filter(product_id=product_id).order_by("-points", "id").first()
        if specific is not None:
            return specific
    return rules.filter(product__isnull=True).order_by("-points", "id").first()


@transaction.atomic
def points_earn(
    *,
    actor: Actor,
    membership_id: int,
    source: str,
    source_key: str,
    amount: Decimal = Decimal("1"),
    product_id: int | None = None,
    at: dt.datetime | None = None,
    note: str = "",
) -> PointsEntry | None:
    """Earn under the programme's rule for `source` (per event, or per currency unit of a
    purchase), within the rule's cap for the period. Returns the entry, the existing one when
    `source_key` already earned, or None when no rule applies or the cap is used up."""
    at = at or timezone.now()
    membership = Membership.objects.select_related("programme").get(pk=membership_id)
    existing = PointsEntry.objects.filter(
        membership_id=membership_id, kind=EntryKind.EARN, source_key=source_key
    ).first()
    if existing is not None:
        return existing
    rule = _rule_for(membership.programme_id, source, product_id)
    if rule is None or amount <= 0:
        return None
    points = math.floor(amount * rule.points)
    if rule.cap_points is not None:
        start, end = period_bounds(at, rule.cap_period, _zone())
        room = rule.cap_points - _earned_under_rule(membership_id, rule, start, end)
        points = min(points, max(room, 0))
    if points <= 0:
        return None
    expires = add_months(at, membership.programme.points_valid_months)
    entry = _post(
        membership_id,
        kind=EntryKind.EARN,
        points=points,
        at=at,
        rule=rule,
        source_key=source_key[:80],
        expires_at=expires,
        note=note[:300],
    )
    _tier_refresh(membership_id, at)
    record_change(actor=actor, action="create", instance=entry, changes=diff({}, snapshot(entry)))
    return entry


@transaction.atomic
def referral_record(
    *, actor: Actor, membership_id: int, referred: Account, at: dt.datetime | None = None
) -> PointsEntry | None:
    """A member brought a new account: earn the programme's referral points (once per referred
    account in a programme; None when no rule applies or the cap is used up)."""
    membership = Membership.objects.get(pk=membership_id)
    if referred.pk == membership.account_id:
        raise InvalidInput({"account": [_("A member does not refer itself.")]})
    key = f"referral:{referred.pk}"
    taken = PointsEntry.objects.filter(
        membership__programme_id=membership.programme_id, kind=EntryKind.EARN, source_key=key
    ).exclude(membership_id=membership_id)
    if taken.exists():
        raise InvalidInput({"account": [_("Another member referred this account.")]})
    return points_earn(
        actor=actor,
        membership_id=membership_id,
        source=EarnSource.REFERRAL,
        source_key=key,
        at=at,
        note=referred.name[:300],
    )


@transaction.atomic
def points_reverse(
    *, actor: Actor, entry_id: int, note: str = "", at: dt.datetime | None = None
) -> PointsEntry:
    """Undo one entry with a new one of the opposite sign. Taking back an earning takes at most
    the balance (points already spent stay spent; the shortfall is noted)."""
    at = at or timezone.now()
    original = PointsEntry.objects.get(pk=entry_id)
    if original.kind == EntryKind.REVERSE:
        raise InvalidInput(_("A reversal is not reversed; record a new entry instead."))
    if PointsEntry.objects.filter(reverses=original).exists():
        raise InvalidInput(_("This entry has been reversed already."), code="already_reversed")
    membership = Membership.objects.select_for_update().get(pk=original.membership_id)
    points = -original.points
    if points < 0 and -points > membership.balance:
        shortfall = -points - membership.balance
        points = -membership.balance
        note = f"{note} ({_('%(n)d points had been spent') % {'n': shortfall}})".strip()
    entry = _post(
        membership.pk,
        kind=EntryKind.REVERSE,
        points=points,
        at=at,
        reverses=original,
        note=note[:300],
    )
    record_change(actor=actor, action="create", instance=entry, changes=diff({}, snapshot(entry)))
    return entry


def purchase_refund(*, actor: Actor, deal_line_id: int, note: str = "") -> list[PointsEntry]:
    """Reverse what a won deal line earned (the purchase was refunded); nothing if it earned
    nothing or was reversed already."""
    reversals = []
    with transaction.atomic():
        earned = PointsEntry.objects.filter(
            kind=EntryKind.EARN, source_key=f"deal_line:{deal_line_id}"
        ).exclude(reversals__isnull=False)
        for entry in earned:
            reversals.append(
                points_reverse(actor=actor, entry_id=entry.pk, note=note or _("Purchase refunded"))
            )
    return reversals


@transaction.atomic
def points_expire(
    *, actor: Actor, membership_id: int, at: dt.datetime | None = None
) -> PointsEntry | None:
    """Expire, first in first out, what was earned before its expiry and not yet taken out."""
    at = at or timezone.now()
    membership = Membership.objects.select_for_update().get(pk=membership_id)
    due = (
        PointsEntry.objects.filter(
            membership=membership, kind=EntryKind.EARN, expires_at__lte=at
        ).aggregate(n=Sum("points"))["n"]
        or 0
    )
    taken = (
        PointsEntry.objects.filter(membership=membership, points__lt=0).aggregate(n=Sum("points"))[
            "n"
        ]
        or 0
    )
    points = min(int(due + taken), membership.balance)
    if points <= 0:
        return None
    entry = _post(membership.pk, kind=EntryKind.EXPIRE, points=-points, at=at)
    record_change(actor=actor, action="create", instance=entry, changes=diff({}, snapshot(entry)))
    return entry


# --- tiers ------------------------------------------------------------------------------------


def qualifying_points(membership_id: int, at: dt.datetime, window_months: int) -> int:
    """Points earned in the window before `at`, net of their reversals."""
    start = add_months(at, -window_months)
    return _net_earned(
        membership_id,
        {"occurred_at__gt": start, "occurred_at__lte": at},
        {"kind": EntryKind.EARN, "occurred_at__gt": start},
    )


def _tier_refresh(membership_id: int, at: dt.datetime) -> None:
    membership = Membership.objects.select_related("programme", "tier").get(pk=membership_id)
    points = qualifying_points(membership_id, at, membership.programme.tier_window_months)
    reached = (
        Tier.objects.filter(programme_id=membership.programme_id, threshold__lte=points)
        .order_by("-threshold")
        .first()
    )
    today = at.astimezone(_zone()).date()
    current = tier_of(membership, today)
    if reached is not None and (current is None or reached.threshold >= current.threshold):
        membership.tier = reached
        membership.tier_expires_on = add_months(today, reached.valid_months)
        membership.save(update_fields=["tier", "tier_expires_on"])


def tier_of(membership: Membership, on: dt.date) -> Tier | None:
    """The member's tier on a day: the one reached, until it expires."""
    if membership.tier_id is None or membership.tier_expires_on is None:
        return None
    return membership.tier if on < membership.tier_expires_on else None


# --- rewards ----------------------------------------------------------------------------------


def _check_recipients(
    membership: Membership, reward: Reward, travellers: Sequence[Contact]
) -> None:
    account = membership.account
    if account.industry != Industry.MEDICAL:
        return
    compliance.compliance_check(
        country=membership.country, nature=reward.nature, recipient_kind=RecipientKind.HCO
    )
    for _person in travellers[:1]:
        compliance.compliance_check(
            country=membership.country, nature=reward.nature, recipient_kind=RecipientKind.HCP
        )


def places_taken(reward: Reward) -> int:
    return int(
        Redemption.objects.filter(reward=reward)
        .exclude(status=RedemptionStatus.REJECTED)
        .aggregate(n=Sum("quantity"))["n"]
        or 0
    )


@transaction.atomic
def redemption_request(
    *,
    actor: Actor,
    membership_id: int,
    reward_id: int,
    quantity: int = 1,
    travellers: Sequence[Contact] = (),
    at: dt.datetime | None = None,
) -> Redemption:
    """Ask for a reward: the points are taken at once (given back if it is rejected)."""
    at = at or timezone.now()
    membership = Membership.objects.select_related("account", "programme").get(pk=membership_id)
    reward = Reward.objects.select_for_update().filter(pk=reward_id).first()
    if reward is None or reward.programme_id != membership.programme_id or not reward.active:
        raise InvalidInput({"reward": [_("This reward is not offered to this member.")]})
    if reward.kind == RewardKind.TRIP:
        if not travellers:
            raise InvalidInput({"travellers": [_("Name who travels.")]})
        if any(person.account_id != membership.account_id for person in travellers):
            raise InvalidInput({"travellers": [_("Travellers are people of the member account.")]})
        quantity = len(travellers)
        if reward.starts_on is not None and reward.starts_on <= at.astimezone(_zone()).date():
            raise InvalidInput({"reward": [_("This trip has started already.")]})
        free = (reward.capacity or 0) - places_taken(reward)
        if quantity > free:
            raise InvalidInput(
                {
                    "travellers": [
                        _("Only %(n)d places are left on this trip.") % {"n": max(free, 0)}
                    ]
                },
                code="no_places",
            )
    if quantity < 1:
        raise InvalidInput({"quantity": [_("Ask for at least one.")]})
    _check_recipients(membership, reward, travellers)
    redemption = Redemption.objects.create(
        membership=membership,
        reward=reward,
        quantity=quantity,
        points=reward.points_cost * quantity,
        cost=reward.unit_cost * quantity,
        requested_by=actor.user,
        requested_at=at,
    )
    if travellers:
        redemption.travellers.set(travellers)
    _post(
        membership.pk,
        kind=EntryKind.REDEEM,
        points=-redemption.points,
        at=at,
        redemption=redemption,
        note=reward.name[:300],
    )
    record_change(
        actor=actor,
        action="create",
        instance=redemption,
        changes={
            **diff({}, snapshot(redemption)),
            "travellers": [None, [t.pk for t in travellers]],
        },
    )
    return redemption


def _decide(redemption_id: int) -> Redemption:
    redemption = (
        Redemption.objects.select_for_update()
        .select_related("membership__account", "reward")
        .get(pk=redemption_id)
    )
    if redemption.status != RedemptionStatus.REQUESTED:
        raise InvalidInput(_("This request has been decided already."), code="decided")
    return redemption


@transaction.atomic
def redemption_approve(*, actor: Actor, redemption_id: int) -> Redemption:
    """Approve: the rules are checked again, and for a medical member each traveller (or the
    organisation) gets a transfer of value of the reward's cost."""
    redemption = _decide(redemption_id)
    membership, reward = redemption.membership, redemption.reward
    travellers = list(redemption.travellers.all())
    _check_recipients(membership, reward, travellers)
    if membership.account.industry == Industry.MEDICAL:
        on = reward.starts_on or timezone.localdate()
        recipients: list[Contact | None] = [*travellers] or [None] * redemption.quantity
        for person in recipients:
            compliance.transfer_record(
                actor=actor,
                account=membership.account,
                contact=person,
                country=membership.country,
                nature=reward.nature,
                value=reward.unit_cost,
                currency=membership.programme.currency,
                occurred_on=on,
                description=reward.name,
                redemption=redemption,
            )
    redemption.status = RedemptionStatus.APPROVED
    redemption.decided_by = actor.user
    redemption.decided_at = timezone.now()
    redemption.save(update_fields=["status", "decided_by", "decided_at"])
    record_change(
        actor=actor,
        action="update",
        instance=redemption,
        changes={"status": [RedemptionStatus.REQUESTED, RedemptionStatus.APPROVED]},
    )
    return redemption


@transaction.atomic
def redemption_reject(*, actor: Actor, redemption_id: int, reason: str) -> Redemption:
    """Reject: the points come back with a reversal of the redemption's entry."""
    redemption = _decide(redemption_id)
    redemption.status = RedemptionStatus.REJECTED
    redemption.decided_by = actor.user
    redemption.decided_at = timezone.now()
    redemption.reason = reason[:300]
    redemption.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    debit = PointsEntry.objects.get(redemption=redemption, kind=EntryKind.REDEEM)
    points_reverse(actor=actor, entry_id=debit.pk, note=_("Request rejected"))
    record_change(
        actor=actor,
        action="update",
        instance=redemption,
        changes={
            "status": [RedemptionStatus.REQUESTED, RedemptionStatus.REJECTED],
            "reason": [None, reason],
        },
    )
    return redemption


# --- statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    membership: Membership
    start: dt.date
    end: dt.date
    opening: int
    entries: list[PointsEntry]
    closing: int
    tier: Tier | None


def statement(membership: Membership, start: dt.date, end: dt.date) -> Statement:
    """The entries of [start, end] (days in the organisation's time zone), with the balance
    before and after: opening + sum(entries) == closing."""
    zone = _zone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    before = (
        PointsEntry.objects.filter(membership=membership, occurred_at__lt=since)
        .order_by("-occurred_at", "-id")
        .first()
    )
    opening = before.balance_after if before is not None else 0
    entries = list(
        PointsEntry.objects.filter(
            membership=membership, occurred_at__gte=since, occurred_at__lt=until
        ).order_by("occurred_at", "id")
    )
    closing = opening + sum(e.points for e in entries)
    return Statement(membership, start, end, opening, entries, closing, tier_of(membership, end))


# --- earning from other apps' records -----------------------------------------------------------


def loyalty_sync(*, actor: Actor | None = None, since: dt.datetime | None = None) -> int:
    """Earn for every won deal line and event attendance of member accounts since they joined
    (idempotent: each source earns once). Returns the number of entries written."""
    actor = actor or Actor.system()
    written = 0
    members = Membership.objects.filter(programme__active=True).select_related("programme")
    for membership in members:
        start = max(membership.joined_at, since) if since else membership.joined_at
        lines = DealLine.objects.filter(
            deal__account_id=membership.account_id,
            deal__status=DealStatus.WON,
            deal__closed_at__gte=start,
            deal__currency=membership.programme.currency,
        ).select_related("deal")
        done = set(
            PointsEntry.objects.filter(membership=membership, kind=EntryKind.EARN).values_list(
                "source_key", flat=True
            )
        )
        for line in lines:
            key = f"deal_line:{line.pk}"
            if key in done:
                continue
            if points_earn(
                actor=actor,
                membership_id=membership.pk,
                source=EarnSource.PURCHASE,
                source_key=key,
                amount=line.total,
                product_id=line.product_id,
                at=line.deal.closed_at,
                note=line.deal.name,
            ):
                written += 1
        attended = Touchpoint.objects.filter(
            Q(account_id=membership.account_id) | Q(contact__account_id=membership.account_id),
            source="event",
            kind__endswith="_attended",
            occurred_at__gte=start,
        ).values_list("pk", "occurred_at", "content")
        for pk, occurred_at, content in attended:
            key = f"event_touchpoint:{pk}"
            if key in done:
                continue
            if points_earn(
                actor=actor,
                membership_id=membership.pk,
                source=EarnSource.EVENT,
                source_key=key,
                at=occurred_at,
                note=content,
            ):
                written += 1
    return written
