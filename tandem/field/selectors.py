"""Reads of field work that span models: coverage of key accounts, a rep's week, visits per
rep, and a day's route.

Invariants:
- coverage: a key account is due when its last completed visit is older than its tier's
  interval (or it was never visited); "overdue" is measured at ``at`` (default now);
- every read takes the caller's scope from the caller (`core.access.scoped`) or ids the caller
  already scoped; nothing here widens what a user sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from tandem.attribution import services as attribution
from tandem.core.models import User
from tandem.field import routing
from tandem.field.models import RepBase, Visit, VisitPlan, VisitStatus


@dataclass(frozen=True)
class CoverageRow:
    plan: VisitPlan
    last_visit: dt.datetime | None
    due_at: dt.datetime | None  # None: never visited (due now)
    due: bool
    open_visit: bool

    @property
    def days_overdue(self) -> int:
        if self.due_at is None:
            return 0
        return max(0, (timezone.now() - self.due_at).days)


def coverage(
    *,
    plans: QuerySet[VisitPlan] | None = None,
    rep_ids: list[int] | None = None,
    at: dt.datetime | None = None,
) -> list[CoverageRow]:
    """Key accounts with their last visit and whether they are due (see the module)."""
    at = at or timezone.now()
    qs = plans if plans is not None else VisitPlan.objects.all()
    if rep_ids is not None:
        qs = qs.filter(rep_id__in=rep_ids)
    qs = qs.select_related("account", "tier", "rep").annotate(
        last_visit=Max("account__visits__check_out_at", filter=Q(account__visits__status="done")),
        open_visits=Count(
            "account__visits",
            filter=Q(account__visits__status__in=[VisitStatus.PLANNED, VisitStatus.CHECKED_IN]),
        ),
    )
    rows = []
    for plan in qs:
        last = plan.last_visit
        due_at = last + dt.timedelta(days=plan.tier.every_days) if last else None
        rows.append(
            CoverageRow(
                plan=plan,
                last_visit=last,
                due_at=due_at,
                due=due_at is None or due_at <= at,
                open_visit=plan.open_visits > 0,
            )
        )
    rows.sort(key=lambda r: (not r.due, r.due_at or dt.datetime.min.replace(tzinfo=dt.UTC)))
    return rows


def week_visits(
    visits: QuerySet[Visit], rep_id: int, monday: dt.date
) -> dict[dt.date, list[Visit]]:
    """The rep's visits in the week from ``monday`` (in the active time zone), by day."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=zone)
    end = start + dt.timedelta(days=7)
    days: dict[dt.date, list[Visit]] = {monday + dt.timedelta(days=k): [] for k in range(7)}
    for visit in (
        visits.filter(rep_id=rep_id, planned_start__gte=start, planned_start__lt=end)
        .select_related("account", "contact")
        .order_by("planned_start", "id")
    ):
        days[timezone.localtime(visit.planned_start, zone).date()].append(visit)
    return days


def visits_per_rep(visits: QuerySet[Visit], since: dt.datetime) -> list[dict[str, Any]]:
    """Per rep since ``since``: visits done, planned, cancelled, and accounts visited."""
    rows = (
        visits.filter(planned_start__gte=since)
        .values("rep_id", "rep__username", "rep__first_name", "rep__last_name")
        .annotate(
            done=Count("id", filter=Q(status=VisitStatus.DONE)),
            planned=Count("id", filter=Q(status__in=[VisitStatus.PLANNED, VisitStatus.CHECKED_IN])),
            cancelled=Count("id", filter=Q(status=VisitStatus.CANCELLED)),
            accounts=Count("account_id", filter=Q(status=VisitStatus.DONE), distinct=True),
        )
        .order_by("-done", "rep__username")
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class DayRoute:
    entered: list[Visit]  # in the order the rep planned them
    ordered: list[Visit]  # in the solver's order
    unplaced: list[Visit]  # visits without a location
    entered_km: float
    ordered_km: float
    feasible: bool

    @property
    def saved_km(self) -> float:
        return round(self.entered_km - self.ordered_km, 1)


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60


def day_route(visits: QuerySet[Visit], rep_id: int, day: dt.date) -> DayRoute | None:
    """The rep's visits of ``day`` ordered by the routing solver, from and back to the rep's
    base; None when the rep has no base."""
    base = RepBase.objects.filter(rep_id=rep_id).first()
    if base is None:
        return None
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    rows = list(
        visits.filter(
            rep_id=rep_id,
            planned_start__gte=start,
            planned_start__lt=start + dt.timedelta(days=1),
        )
        .exclude(status=VisitStatus.CANCELLED)
        .select_related("account", "account__visit_plan")
        .order_by("planned_start", "id")
    )
    placed = [v for v in rows if v.lat is not None and v.lon is not None]
    home = routing.Stop(
        "base", base.lat, base.lon, _seconds(base.day_start), _seconds(base.day_end)
    )
    stops = []
    for visit in placed:
        plan = getattr(visit.account, "visit_plan", None)
        minutes = int((visit.planned_end - visit.planned_start).total_seconds() // 60)
        opens = _seconds(plan.opens) if plan and plan.opens else 0
        closes = _seconds(plan.closes) if plan and plan.closes else routing.DAY_SECONDS
        lat, lon = visit.lat or 0.0, visit.lon or 0.0  # placed: both set
        stops.append(routing.Stop(str(visit.pk), lat, lon, opens, closes, minutes))
    plan_result = routing.solve(home, stops)
    by_id = {str(v.pk): v for v in placed}
    return DayRoute(
        entered=placed,
        ordered=[by_id[i] for i in plan_result.order],
        unplaced=[v for v in rows if v.lat is None or v.lon is None],
        entered_km=round(routing.route_distance(home, [stops]) / 1000, 1),
        ordered_km=round(plan_result.distance_m / 1000, 1),
        feasible=plan_result.feasible,
    )


@dataclass(frozen=True)
class FieldCredit:
    state: str  # the attribution run's status: done, queued, running or failed
    run_id: int
    share: float | None  # None: no won deal with touches, or not computed yet
    low: float | None
    high: float | None


def field_credit(user: User, days: int = 90) -> FieldCredit:
    """The field department's share of the credit for the deals won in the last ``days`` days
    (linear model, as the cockpit's default), with its interval, as ``user`` sees the data. A
    run not stored yet is queued for a worker (through attribution's services), never
    computed here: ``state`` says so."""
    today = timezone.localdate()
    spec, params = attribution.build_request(
        start=today - dt.timedelta(days=days - 1),
        end=today,
        conversion="deal_won",
        model="linear",
        n_boot=100,
    )
    run = attribution.run_request(user=user, spec=spec, params=params)
    row = None
    if run.is_done:
        rows = run.result.get("credits", {}).get("department", [])
        row = next((r for r in rows if r["name"] == "field"), None)
    return FieldCredit(
        state=run.status,
        run_id=run.pk,
        share=row["share"] if row else None,
        low=row["lower"] if row else None,
        high=row["upper"] if row else None,
    )
