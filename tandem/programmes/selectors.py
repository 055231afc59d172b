"""Reads across the programmes for the head's page and the API: training reach, trial results
per product, and the cost of loyalty against the revenue of members and non-members.

Invariants:
- every figure is computed from `scoped(user, ...)` querysets: a rep's page counts only what the
  rep may see; a figure over no rows is 0 (or None for an average), never an error;
- revenue is the amount of won deals closed in the window, in the organisation's currency only
  (deals in other currencies are left out, not converted); loyalty cost is the cost of approved
  redemptions requested in the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from tandem.core.access import scoped
from tandem.core.models import Organisation, User
from tandem.crm.models import Account
from tandem.programmes import trials
from tandem.programmes.models import (
    Attendance,
    AttendanceStatus,
    FieldTrial,
    Membership,
    Redemption,
    RedemptionStatus,
    SessionMode,
    TrainingSession,
)
from tandem.sales.models import Deal, DealStatus, Product


@dataclass(frozen=True)
class TrainingReach:
    sessions: int
    attended: int
    accounts: int
    certified: int
    by_mode: dict[str, int]


def training_reach(user: User, since: dt.datetime) -> TrainingReach:
    sessions = scoped(user, TrainingSession).filter(starts_at__gte=since)
    attended = scoped(user, Attendance).filter(
        session__in=sessions, status=AttendanceStatus.ATTENDED
    )
    by_mode = {
        str(SessionMode(mode).label): n
        for mode, n in attended.values_list("session__mode").annotate(n=Count("id")).order_by()
    }
    return TrainingReach(
        sessions=sessions.count(),
        attended=attended.count(),
        accounts=attended.values("account_id").distinct().count(),
        certified=attended.filter(passed=True).count(),
        by_mode=by_mode,
    )


def trial_results(user: User) -> list[trials.ProductResults]:
    visible = (
        scoped(user, FieldTrial).select_related("account", "product").prefetch_related("plots")
    )
    by_product: dict[int, list[FieldTrial]] = {}
    for trial in visible:
        by_product.setdefault(trial.product_id, []).append(trial)
    products = Product.objects.in_bulk(list(by_product))
    return [
        trials.product_results(products[pk], rows)
        for pk, rows in sorted(by_product.items(), key=lambda kv: products[kv[0]].name)
    ]


@dataclass(frozen=True)
class LoyaltyEconomics:
    currency: str
    members: int
    non_members: int
    member_revenue: Decimal
    non_member_revenue: Decimal
    cost: Decimal
    points_outstanding: int

    @property
    def revenue_per_member(self) -> Decimal | None:
        return self.member_revenue / self.members if self.members else None

    @property
    def revenue_per_non_member(self) -> Decimal | None:
        return self.non_member_revenue / self.non_members if self.non_members else None

    @property
    def cost_percent(self) -> Decimal | None:
        """Loyalty cost as a percentage of members' revenue."""
        return 100 * self.cost / self.member_revenue if self.member_revenue else None


def loyalty_economics(user: User, since: dt.datetime) -> LoyaltyEconomics:
    currency = Organisation.current().currency
    memberships = scoped(user, Membership).filter(programme__active=True)
    member_ids = set(memberships.values_list("account_id", flat=True))
    accounts = scoped(user, Account)
    won = scoped(user, Deal).filter(
        status=DealStatus.WON, closed_at__gte=since, currency=currency, account__isnull=False
    )
    member_revenue = won.filter(account_id__in=member_ids).aggregate(n=Sum("amount"))["n"]
    non_member_revenue = won.exclude(account_id__in=member_ids).aggregate(n=Sum("amount"))["n"]
    buyers = set(won.values_list("account_id", flat=True))
    cost = (
        scoped(user, Redemption)
        .filter(
            status=RedemptionStatus.APPROVED,
            requested_at__gte=since,
            membership__programme__currency=currency,
        )
        .aggregate(n=Sum("cost"))["n"]
    )
    return LoyaltyEconomics(
        currency=currency,
        members=len(member_ids),
        non_members=accounts.filter(pk__in=buyers - member_ids).count(),
        member_revenue=member_revenue or Decimal("0"),
        non_member_revenue=non_member_revenue or Decimal("0"),
        cost=cost or Decimal("0"),
        points_outstanding=int(memberships.aggregate(n=Sum("balance"))["n"] or 0),
    )


def window_start(days: int = 365) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@dataclass(frozen=True)
class CockpitSummary:
    reach: TrainingReach
    economics: LoyaltyEconomics
    best_trial: trials.ProductResults | None


def cockpit_summary(user: User) -> CockpitSummary:
    """The programmes' card on the head's cockpit: the last twelve months' training reach and
    loyalty economics, and the product whose trials show the largest mean yield difference."""
    since = window_start()
    results = [r for r in trial_results(user) if r.uncertainty.mean is not None]
    best = max(results, key=lambda r: r.uncertainty.mean or 0.0) if results else None
    return CockpitSummary(training_reach(user, since), loyalty_economics(user, since), best)
