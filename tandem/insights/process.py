"""Process analytics: how deals move through the pipeline and leads through the lifecycle.

    process(user, window=Window(...), filters=Filters(team_id=..., channel=...), by="rep")

Definitions (docs/insights.md, "Process analytics"):
- deal stage flow, per stage of each pipeline (lost stages left out): `entered` counts the deals
  whose stay in the stage began in the window (`DealStageVisit`), a deal once per stage;
  `advanced` those of them that later entered a stage further on in the same pipeline (a won
  stage counts, a lost one does not); `median_days_to_next` is the median time from entering
  the stage to entering the next one reached; `median_days_in_stage` the median length of the
  stays that began in the window and have ended;
- lead stage flow, per lifecycle stage lead to customer: the same over `StageHistory`, a later
  stage being one further in the funnel (lead, MQL, SAL, SQL, opportunity, customer). A contact
  "became a lead" at its first stay in the lead stage, or, a contact still a lead without any
  recorded stage change, when it was created;
- waiting now: per open stage, the open deals in it now and how long they have waited, against
  the stage's own history (every ended stay in it): its median and 75th percentile; a deal
  waiting longer than the 75th percentile of a stage with at least `MIN_HISTORY` ended stays is
  an outlier. Not limited to the window: it is about now. Stages are listed with enough history
  first, then by the median wait now over the historical median;
- breakdown: per rep, team, channel or industry, the leads that became leads in the window and
  how many reached MQL and SQL, the deals created in the window, how many of them are won, and
  the median days from creation to the win. A contact's rep is its account's owner (else its own
  owner), its team that rep's team; a deal's rep is its owner; channel is the first touch
  (`tandem.insights.channels`), industry the account's;
- cohorts: the leads of the window by the month (viewer's time zone) they became leads, and the
  share that reached MQL, SQL, opportunity and customer (won) within 30, 60 and 90 days, each
  counted over the members whose 30, 60 or 90 days have passed (`eligible`).

Invariants: every record is read through `tandem.core.access.scoped` (deal stage visits
through the deals the viewer may see), so a rep's numbers count only what the rep may see; the
filters (team, industry, channel, rep) narrow every section; the numbers depend only on the
data, the window, the filters and `now`.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import F, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.core.access import scoped
from tandem.core.models import Team, User
from tandem.crm.models import Contact, Industry, LifecycleStage
from tandem.insights import channels
from tandem.insights.periods import Window, add_months
from tandem.leads.models import StageHistory
from tandem.sales.models import Deal, DealStageVisit, DealStatus, Stage, StageKind

S = LifecycleStage
LEAD_STAGES: list[str] = [S.LEAD, S.MQL, S.SAL, S.SQL, S.OPPORTUNITY, S.CUSTOMER]
RANK: dict[str, int] = {stage: n for n, stage in enumerate(LEAD_STAGES, start=1)}
# What a cohort's leads may reach, and the rank that counts as reaching it.
MILESTONES: dict[str, int] = {
    "mql": RANK[S.MQL],
    "sql": RANK[S.SQL],
    "opportunity": RANK[S.OPPORTUNITY],
    "won": RANK[S.CUSTOMER],
}
MILESTONE_LABELS: dict[str, Any] = {
    "mql": _("MQL"),
    "sql": _("SQL"),
    "opportunity": _("Opportunity"),
    "won": _("Won"),
}
HORIZONS = (30, 60, 90)
MIN_HISTORY = 3  # ended stays a stage needs before its deals can be outliers
MAX_OUTLIERS = 50
DAY = 86400.0
Breakdown = Literal["rep", "team", "channel", "industry"]
BREAKDOWNS: dict[str, Any] = {
    "rep": _("Rep"),
    "team": _("Team"),
    "channel": _("Channel"),
    "industry": _("Industry"),
}


@dataclass(frozen=True)
class Filters:
    team_id: int | None = None
    industry: str = ""
    channel: str = ""
    rep_id: int | None = None

    def as_params(self) -> dict[str, str]:
        out = {"team": self.team_id, "industry": self.industry, "channel": self.channel}
        out["rep"] = self.rep_id
        return {k: str(v) for k, v in out.items() if v not in (None, "")}


@dataclass(frozen=True)
class StageFlow:
    key: str  # the stage's id (deals) or lifecycle stage (leads)
    label: str
    group: str  # the pipeline's name (deals); "" for leads
    entered: int
    advanced: int | None  # None for the last stage (won, customer)
    median_days_to_next: float | None
    median_days_in_stage: float | None

    @property
    def conversion(self) -> float | None:
        if self.advanced is None or not self.entered:
            return None
        return self.advanced / self.entered


@dataclass(frozen=True)
class StageWait:
    stage_id: int
    label: str
    pipeline: str
    open_now: int
    median_days_now: float | None
    history: int  # ended stays
    median_days: float | None
    p75_days: float | None
    over_p75: int

    @property
    def ratio(self) -> float | None:
        """How much longer deals wait now than the stage's historical median."""
        if self.median_days_now is None or not self.median_days:
            return None
        return round(self.median_days_now / self.median_days, 2)


@dataclass(frozen=True)
class Outlier:
    deal_id: int
    name: str
    owner: str
    stage: str
    days: float
    p75_days: float


@dataclass
class BreakdownRow:
    key: str
    label: str
    leads: int = 0
    mql: int = 0
    sql: int = 0
    deals: int = 0
    won: int = 0
    days_to_win: list[float] = field(default_factory=list)

    def _share(self, part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def mql_rate(self) -> float | None:
        return self._share(self.mql, self.leads)

    @property
    def sql_rate(self) -> float | None:
        return self._share(self.sql, self.leads)

    @property
    def win_rate(self) -> float | None:
        return self._share(self.won, self.deals)

    @property
    def median_days_to_win(self) -> float | None:
        return _median(self.days_to_win)


@dataclass
class Cohort:
    month: dt.date
    leads: int = 0
    eligible: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0))
    reached: dict[str, dict[int, int]] = field(
        default_factory=lambda: {m: dict.fromkeys(HORIZONS, 0) for m in MILESTONES}
    )

    def rate(self, milestone: str, horizon: int) -> float | None:
        whole = self.eligible[horizon]
        return self.reached[milestone][horizon] / whole if whole else None

    @property
    def cells(self) -> list[tuple[str, int, int, int, float | None]]:
        """(milestone, horizon, reached, eligible, rate) in the table's column order."""
        return [
            (m, h, self.reached[m][h], self.eligible[h], self.rate(m, h))
            for m in MILESTONES
            for h in HORIZONS
        ]


@dataclass
class Process:
    window: Window
    filters: Filters
    by: str
    now: dt.datetime
    complete: bool
    deal_flow: list[StageFlow]
    lead_flow: list[StageFlow]
    waiting: list[StageWait]
    outliers: list[Outlier]
    breakdown: list[BreakdownRow]
    cohorts: list[Cohort]


# --- helpers --------------------------------------------------------------------------------


def _median(values: Iterable[float]) -> float | None:
    data = list(values)
    return round(statistics.median(data), 2) if data else None


def _p75(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=4, method="inclusive")[2], 2)


def _days(a: dt.datetime, b: dt.datetime) -> float:
    return max(0.0, (b - a).total_seconds()) / DAY


def _in(window: Window, at: dt.datetime) -> bool:
    return window.start_at <= at < window.end_at


def deals_of(user: User, filters: Filters) -> QuerySet[Deal]:
    """The deals `user` may see, narrowed by the filters."""
    qs = scoped(user, Deal)
    if filters.team_id is not None:
        qs = qs.filter(owner__team_id=filters.team_id)
    if filters.industry:
        qs = qs.filter(account__industry=filters.industry)
    if filters.rep_id is not None:
        qs = qs.filter(owner_id=filters.rep_id)
    return channels.narrow(qs, filters.channel, channels.account_channel())


def _contact_filter(filters: Filters, prefix: str) -> Q:
    q = Q()
    if filters.team_id is not None:
        q &= Q(**{f"{prefix}account__owner__team_id": filters.team_id}) | Q(
            **{f"{prefix}account__isnull": True, f"{prefix}owner__team_id": filters.team_id}
        )
    if filters.industry:
        q &= Q(**{f"{prefix}account__industry": filters.industry})
    if filters.rep_id is not None:
        q &= Q(**{f"{prefix}account__owner_id": filters.rep_id}) | Q(
            **{f"{prefix}account__isnull": True, f"{prefix}owner_id": filters.rep_id}
        )
    return q


def history_of(user: User, filters: Filters) -> QuerySet[StageHistory]:
    """The lifecycle stage history `user` may see, narrowed by the filters."""
    qs = scoped(user, StageHistory).filter(_contact_filter(filters, "contact__"))
    return channels.narrow(qs, filters.channel, channels.contact_channel())


def contacts_of(user: User, filters: Filters) -> QuerySet[Contact]:
    qs = scoped(user, Contact).filter(_contact_filter(filters, ""))
    return channels.narrow(qs, filters.channel, channels.contact_channel("pk"))


# --- deals through the pipeline -------------------------------------------------------------


def _visits(user: User, filters: Filters) -> QuerySet[DealStageVisit]:
    return DealStageVisit.objects.filter(deal_id__in=deals_of(user, filters).values("pk"))


def deal_flow(user: User, window: Window, filters: Filters) -> list[StageFlow]:
    stages = {
        s.pk: s
        for s in scoped(user, Stage).select_related("pipeline").order_by("pipeline_id", "position")
    }
    started = _visits(user, filters).filter(
        entered_at__gte=window.start_at, entered_at__lt=window.end_at
    )
    rows = (
        DealStageVisit.objects.filter(deal_id__in=started.values("deal_id"))
        .values_list("deal_id", "stage_id", "entered_at", "left_at")
        .order_by("deal_id", "entered_at", "id")
    )
    by_deal: dict[int, list[tuple[int, dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for deal_id, stage_id, began, ended in rows:
        by_deal[deal_id].append((stage_id, began, ended))
    entered: dict[int, int] = defaultdict(int)
    advanced: dict[int, int] = defaultdict(int)
    to_next: dict[int, list[float]] = defaultdict(list)
    in_stage: dict[int, list[float]] = defaultdict(list)
    for visits in by_deal.values():
        seen: set[int] = set()
        for n, (stage_id, at, left) in enumerate(visits):
            stage = stages.get(stage_id)
            if stage is None or stage.kind == StageKind.LOST or stage_id in seen:
                continue
            if not _in(window, at):
                continue
            seen.add(stage_id)
            entered[stage_id] += 1
            if left is not None:
                in_stage[stage_id].append(_days(at, left))
            for later_id, later_at, _left in visits[n + 1 :]:
                later = stages.get(later_id)
                if (
                    later is not None
                    and later.pipeline_id == stage.pipeline_id
                    and later.kind != StageKind.LOST
                    and later.position > stage.position
                ):
                    advanced[stage_id] += 1
                    to_next[stage_id].append(_days(at, later_at))
                    break
    out = []
    for pk, stage in stages.items():
        if stage.kind == StageKind.LOST:
            continue
        last = stage.kind == StageKind.WON
        out.append(
            StageFlow(
                key=str(pk),
                label=stage.name,
                group=stage.pipeline.name,
                entered=entered[pk],
                advanced=None if last else advanced[pk],
                median_days_to_next=None if last else _median(to_next[pk]),
                median_days_in_stage=None if last else _median(in_stage[pk]),
            )
        )
    return out


def waiting(
    user: User, filters: Filters, now: dt.datetime
) -> tuple[list[StageWait], list[Outlier]]:
    """The open stages by how long their deals wait now against the stage's history, and the
    deals waiting longer than the stage's 75th percentile."""
    stages = {
        s.pk: s
        for s in scoped(user, Stage)
        .select_related("pipeline")
        .filter(kind=StageKind.OPEN)
        .order_by("pipeline_id", "position")
    }
    history: dict[int, list[float]] = defaultdict(list)
    ended = (
        _visits(user, filters)
        .filter(stage_id__in=list(stages), left_at__isnull=False, left_at__lte=now)
        .values_list("stage_id", "entered_at", "left_at")
    )
    for stage_id, at, left in ended:
        if left is not None:
            history[stage_id].append(_days(at, left))
    current = (
        _visits(user, filters)
        .filter(stage_id__in=list(stages), left_at__isnull=True, deal__status=DealStatus.OPEN)
        .values_list(
            "stage_id",
            "entered_at",
            "deal_id",
            "deal__name",
            "deal__owner__first_name",
            "deal__owner__last_name",
            "deal__owner__username",
        )
    )
    now_waiting: dict[int, list[float]] = defaultdict(list)
    outliers: list[Outlier] = []
    p75 = {pk: _p75(history[pk]) for pk in stages}
    for stage_id, at, deal_id, name, first, last, username in current:
        days = _days(at, now)
        now_waiting[stage_id].append(days)
        limit = p75[stage_id]
        if limit is not None and len(history[stage_id]) >= MIN_HISTORY and days > limit:
            owner = f"{first or ''} {last or ''}".strip() or (username or "")
            outliers.append(
                Outlier(deal_id, name, owner, stages[stage_id].name, round(days, 2), limit)
            )
    waits = []
    for pk, stage in stages.items():
        limit = p75[pk] if len(history[pk]) >= MIN_HISTORY else None
        waits.append(
            StageWait(
                stage_id=pk,
                label=stage.name,
                pipeline=stage.pipeline.name,
                open_now=len(now_waiting[pk]),
                median_days_now=_median(now_waiting[pk]),
                history=len(history[pk]),
                median_days=_median(history[pk]),
                p75_days=p75[pk],
                over_p75=0 if limit is None else sum(1 for d in now_waiting[pk] if d > limit),
            )
        )
    # stages with enough history first (as for the outliers), then by wait now over the median
    waits.sort(
        key=lambda w: (
            w.history < MIN_HISTORY,
            w.ratio is None,
            -(w.ratio or 0),
            -w.open_now,
            w.stage_id,
        )
    )
    outliers.sort(key=lambda o: (-(o.days / o.p75_days if o.p75_days else o.days), o.deal_id))
    return waits, outliers[:MAX_OUTLIERS]


# --- leads through the lifecycle ------------------------------------------------------------


def lead_entries(user: User, window: Window, filters: Filters) -> dict[int, dt.datetime]:
    """When each contact became a lead, for those that did in the window."""
    out: dict[int, dt.datetime] = dict(
        history_of(user, filters)
        .filter(stage=S.LEAD)
        .values("contact_id")
        .annotate(first=Min("entered_at"))
        .filter(first__gte=window.start_at, first__lt=window.end_at)
        .values_list("contact_id", "first")
    )
    never_moved = (
        contacts_of(user, filters)
        .filter(
            lifecycle_stage=S.LEAD,
            stage_history__isnull=True,
            created_at__gte=window.start_at,
            created_at__lt=window.end_at,
        )
        .values_list("pk", "created_at")
    )
    out.update(never_moved)
    return out


def _reached(
    user: User, window: Window, filters: Filters
) -> dict[int, list[tuple[int, dt.datetime]]]:
    """Each contact's stays in the ranked stages that began from the window's start on:
    (rank, entered). Reaching a stage only counts after entering the earlier one, which was in
    the window, so nothing earlier is needed (and no list of ids is sent to the database)."""
    out: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
    rows = (
        history_of(user, filters)
        .filter(stage__in=LEAD_STAGES, entered_at__gte=window.start_at)
        .values_list("contact_id", "stage", "entered_at")
    )
    for contact_id, stage, at in rows:
        out[contact_id].append((RANK[stage], at))
    return out


def lead_flow(user: User, window: Window, filters: Filters) -> list[StageFlow]:
    entries: dict[str, dict[int, tuple[dt.datetime, dt.datetime | None]]] = {
        stage: {} for stage in LEAD_STAGES
    }
    rows = (
        history_of(user, filters)
        .filter(
            stage__in=LEAD_STAGES[1:], entered_at__gte=window.start_at, entered_at__lt=window.end_at
        )
        .values_list("contact_id", "stage", "entered_at", "left_at")
    )
    for contact_id, stage, at, left in rows:
        known = entries[stage].get(contact_id)
        if known is None or at < known[0]:
            entries[stage][contact_id] = (at, left)
    lead_left = dict(
        history_of(user, filters)
        .filter(stage=S.LEAD)
        .order_by("-entered_at")
        .values_list("contact_id", "left_at")
    )  # the earliest stay last, so it wins
    for contact_id, at in lead_entries(user, window, filters).items():
        entries[S.LEAD][contact_id] = (at, lead_left.get(contact_id))
    reached = _reached(user, window, filters)
    out = []
    for stage in LEAD_STAGES:
        rank = RANK[stage]
        last = stage == S.CUSTOMER
        to_next: list[float] = []
        in_stage: list[float] = []
        for contact_id, (at, left) in entries[stage].items():
            if left is not None:
                in_stage.append(_days(at, left))
            times = [t for r, t in reached.get(contact_id, ()) if r > rank and t >= at]
            if times:
                to_next.append(_days(at, min(times)))
        out.append(
            StageFlow(
                key=stage,
                label=str(S(stage).label),
                group="",
                entered=len(entries[stage]),
                advanced=None if last else len(to_next),
                median_days_to_next=None if last else _median(to_next),
                median_days_in_stage=None if last else _median(in_stage),
            )
        )
    return out


def cohorts(user: User, window: Window, filters: Filters, now: dt.datetime) -> list[Cohort]:
    entries = lead_entries(user, window, filters)
    reached = _reached(user, window, filters)
    zone: zoneinfo.ZoneInfo = window.zone
    months: dict[dt.date, Cohort] = {}
    month = window.first.replace(day=1)
    while month <= window.last:
        months[month] = Cohort(month)
        month = add_months(month, 1)
    for contact_id, at in entries.items():
        cohort = months[at.astimezone(zone).date().replace(day=1)]
        cohort.leads += 1
        firsts: dict[str, dt.datetime] = {}
        for milestone, rank in MILESTONES.items():
            times = [t for r, t in reached.get(contact_id, ()) if r >= rank and t >= at]
            if times:
                firsts[milestone] = min(times)
        for horizon in HORIZONS:
            limit = at + dt.timedelta(days=horizon)
            if limit > now:
                continue
            cohort.eligible[horizon] += 1
            for milestone, when in firsts.items():
                if when <= limit:
                    cohort.reached[milestone][horizon] += 1
    return list(months.values())


# --- breakdown ------------------------------------------------------------------------------


def _labels(by: str, keys: Iterable[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k.isdigit()]
    if by == "rep":
        return {
            str(pk): (f"{first} {last}".strip() or username)
            for pk, first, last, username in User.objects.filter(pk__in=ids).values_list(
                "pk", "first_name", "last_name", "username"
            )
        }
    if by == "team":
        return {
            str(pk): name for pk, name in Team.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    if by == "industry":
        return {k: str(v) for k, v in Industry.choices}
    return {}


def breakdown(user: User, window: Window, filters: Filters, by: str) -> list[BreakdownRow]:
    if by not in BREAKDOWNS:
        raise ValueError("breakdown must be rep, team, channel or industry")
    contact_key: Any = {
        "rep": Coalesce(F("account__owner_id"), F("owner_id")),
        "team": Coalesce(F("account__owner__team_id"), F("owner__team_id")),
        "channel": channels.contact_channel("pk"),
        "industry": F("account__industry"),
    }[by]
    deal_key: Any = {
        "rep": F("owner_id"),
        "team": F("owner__team_id"),
        "channel": channels.account_channel(),
        "industry": F("account__industry"),
    }[by]
    rows: dict[str, BreakdownRow] = {}

    def row(key: Any) -> BreakdownRow:
        text = "" if key is None else str(key)
        return rows.setdefault(text, BreakdownRow(text, ""))

    entries = lead_entries(user, window, filters)
    became_lead = history_of(user, filters).filter(
        stage=S.LEAD, entered_at__gte=window.start_at, entered_at__lt=window.end_at
    )
    keys = dict(
        contacts_of(user, filters)
        .filter(
            Q(created_at__gte=window.start_at, created_at__lt=window.end_at)
            | Q(pk__in=became_lead.values("contact_id"))
        )
        .annotate(group_key=contact_key)
        .values_list("pk", "group_key")
    )
    reached = _reached(user, window, filters)
    for contact_id, at in entries.items():
        r = row(keys.get(contact_id))
        r.leads += 1
        ranks = [rank for rank, t in reached.get(contact_id, ()) if t >= at]
        r.mql += any(rank >= RANK[S.MQL] for rank in ranks)
        r.sql += any(rank >= RANK[S.SQL] for rank in ranks)
    created = (
        deals_of(user, filters)
        .filter(created_at__gte=window.start_at, created_at__lt=window.end_at)
        .annotate(group_key=deal_key)
        .values_list("group_key", "status", "created_at", "closed_at")
    )
    for key, status, at, closed in created:
        r = row(key)
        r.deals += 1
        if status == DealStatus.WON:
            r.won += 1
            if closed is not None:
                r.days_to_win.append(_days(at, closed))
    labels = _labels(by, rows)
    for key, r in rows.items():
        r.label = labels.get(key, key) or str(_("None"))
    return sorted(rows.values(), key=lambda r: (-r.leads, -r.deals, r.label))


def process(
    user: User,
    *,
    window: Window,
    filters: Filters | None = None,
    by: str = "rep",
    now: dt.datetime | None = None,
) -> Process:
    """Every section of the process page for `user` over `window`."""
    filters = filters or Filters()
    now = now or timezone.now()
    waits, outliers = waiting(user, filters, now)
    return Process(
        window=window,
        filters=filters,
        by=by,
        now=now,
        complete=user.sees_everything,
        deal_flow=deal_flow(user, window, filters),
        lead_flow=lead_flow(user, window, filters),
        waiting=waits,
        outliers=outliers,
        breakdown=breakdown(user, window, filters, by),
        cohorts=cohorts(user, window, filters, now),
    )
