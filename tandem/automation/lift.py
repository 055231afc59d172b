"""Lift: did the flow change anything? Treated contacts against the held-out group.

A flow with a holdout enrols held-out contacts like everyone else but runs no step for them.
The lift report follows each contact (first enrolment per flow, test enrolments excluded) for
the goal's window after enrolling and asks the same question of both groups: did they convert
(the flow's goal: a won deal, a lifecycle stage reached, a touchpoint) and how much revenue
their won deals brought.

Invariants:
- both groups are measured by the same rule over the same window: only the assignment differs;
- differences come with a 95% confidence interval (normal approximation: unpooled for the
  conversion rates, Welch for revenue per contact);
- the verdict is "too_small" when either group has fewer than MIN_GROUP contacts or the
  groups together fewer than MIN_CONVERSIONS conversions — then no interval is claimed to mean
  anything; otherwise "lift" (interval above zero), "harm" (below) or "no_difference".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.automation import graph as g
from tandem.automation.models import Enrolment, EnrolmentStatus, Flow
from tandem.crm.models import Touchpoint

Z95 = 1.959964
MIN_GROUP = 30
MIN_CONVERSIONS = 10


@dataclass(frozen=True)
class Group:
    contacts: int
    conversions: int
    revenue: list[float]

    @property
    def rate(self) -> float:
        return self.conversions / self.contacts if self.contacts else 0.0

    @property
    def revenue_per_contact(self) -> float:
        return sum(self.revenue) / self.contacts if self.contacts else 0.0


@dataclass(frozen=True)
class Lift:
    treated: Group
    held_out: Group
    rate_difference: float
    rate_interval: tuple[float, float]
    revenue_difference: float
    revenue_interval: tuple[float, float]
    verdict: str  # too_small | lift | harm | no_difference

    @property
    def verdict_text(self) -> str:
        return {
            "too_small": _("Too small to tell"),
            "lift": _("The flow lifts conversion"),
            "harm": _("The flow lowers conversion"),
            "no_difference": _("No measurable difference"),
        }[self.verdict]


def _variance(values: list[float], n: int) -> float:
    if n < 2:
        return 0.0
    mean = sum(values) / n
    padded = values + [0.0] * (n - len(values))  # contacts without revenue count as 0
    return sum((v - mean) ** 2 for v in padded) / (n - 1)


def compare(treated: Group, held_out: Group) -> Lift:
    """The lift of `treated` over `held_out` (pure arithmetic; see the module docstring)."""
    nt, nc = treated.contacts, held_out.contacts
    diff = treated.rate - held_out.rate
    if nt and nc:
        se = math.sqrt(
            treated.rate * (1 - treated.rate) / nt + held_out.rate * (1 - held_out.rate) / nc
        )
        rev_se = math.sqrt(
            _variance(treated.revenue, nt) / nt + _variance(held_out.revenue, nc) / nc
        )
    else:
        se = rev_se = 0.0
    rev_diff = treated.revenue_per_contact - held_out.revenue_per_contact
    interval = (diff - Z95 * se, diff + Z95 * se)
    too_small = (
        nt < MIN_GROUP
        or nc < MIN_GROUP
        or treated.conversions + held_out.conversions < MIN_CONVERSIONS
    )
    if too_small:
        verdict = "too_small"
    elif interval[0] > 0:
        verdict = "lift"
    elif interval[1] < 0:
        verdict = "harm"
    else:
        verdict = "no_difference"
    return Lift(
        treated=treated,
        held_out=held_out,
        rate_difference=diff,
        rate_interval=interval,
        revenue_difference=rev_diff,
        revenue_interval=(rev_diff - Z95 * rev_se, rev_diff + Z95 * rev_se),
        verdict=verdict,
    )


def _won_deals(contact_ids: QuerySet[Any]) -> dict[int, list[tuple[dt.datetime, Decimal]]]:
    from tandem.sales.models import DealContact

    out: dict[int, list[tuple[dt.datetime, Decimal]]] = {}
    rows = DealContact.objects.filter(
        contact_id__in=contact_ids, deal__status="won", deal__closed_at__isnull=False
    ).values_list("contact_id", "deal__closed_at", "deal__amount")
    for contact_id, closed_at, amount in rows:
        if closed_at is None:
            continue
        out.setdefault(contact_id, []).append((closed_at, amount))
    return out


def _events(goal: g.Goal, contact_ids: QuerySet[Any]) -> dict[int, list[dt.datetime]]:
    from tandem.leads.models import StageHistory

    out: dict[int, list[dt.datetime]] = {}
    pairs: Iterable[tuple[int, dt.datetime]]
    if goal.kind == "stage_reached" and goal.stage:
        pairs = StageHistory.objects.filter(
            contact_id__in=contact_ids, stage=goal.stage
        ).values_list("contact_id", "entered_at")
    elif goal.kind == "touchpoint" and goal.touchpoint_kind:
        pairs = Touchpoint.objects.filter(
            contact_id__in=contact_ids, kind=goal.touchpoint_kind, is_bot=False
        ).values_list("contact_id", "occurred_at")
    else:
        return out
    for contact_id, at in pairs:
        out.setdefault(int(contact_id), []).append(at)
    return out


def flow_lift(flow: Flow, *, now: dt.datetime | None = None) -> Lift:
    """The lift report of one flow (its live version's goal)."""
    now = now or timezone.now()
    version = flow.live_version
    goal = g.validate_graph(version.graph).goal if version else g.Goal.model_validate({})
    window = dt.timedelta(days=goal.window_days)
    first: dict[int, tuple[dt.datetime, bool]] = {}
    enrolments = Enrolment.objects.filter(flow=flow, is_test=False)
    rows = enrolments.order_by("enrolled_at", "id").values_list(
        "contact_id", "enrolled_at", "status"
    )
    for contact_id, enrolled_at, status in rows:
        first.setdefault(contact_id, (enrolled_at, status == EnrolmentStatus.HELD_OUT))
    # the flow's contacts as a subquery: a flow may hold thousands (a list of ids as
    # parameters cost more to send than the query itself to run)
    ids = enrolments.values("contact_id")
    deals = _won_deals(ids)
    events = _events(goal, ids) if goal.kind != "deal_won" else {}
    groups: dict[bool, tuple[int, int, list[float]]] = {True: (0, 0, []), False: (0, 0, [])}
    for contact_id, (start, held) in first.items():
        end = min(start + window, now)
        won = [float(a) for at, a in deals.get(contact_id, []) if start <= at <= end]
        if goal.kind == "deal_won":
            converted = bool(won)
        else:
            converted = any(start <= at <= end for at in events.get(contact_id, []))
        n, conv, revenue = groups[held]
        if sum(won):
            revenue.append(sum(won))
        groups[held] = (n + 1, conv + int(converted), revenue)
    return compare(Group(*groups[False]), Group(*groups[True]))
