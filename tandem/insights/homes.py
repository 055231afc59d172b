"""What each role's home page shows, computed once for the page and the API
(`GET /api/v1/insights/home`).

    home_for(user, now=timezone.now())  -> MarketerHome | RepHome | FieldHome | AdminHome

- every home: the shared goals running today (joint, the user's team's, the rep's own quota)
  with what the user sees achieved towards each (`selectors.goals_now`);
- marketer: the campaigns they own (else every campaign they may see) with status, budget,
  cost (all cost lines) and the revenue this quarter's deals-won attribution (linear, the
  cockpit's run) credits each; MQLs delivered this quarter against marketing's MQL goal (their
  team's, else the joint one) and this month against the leads app's monthly MQL target;
  the share sales accepted and the reasons sales gave for rejecting;
- sales rep: the open hand-offs assigned to them with their SLA clocks (the hours to the
  deadline the leads app set in business hours; negative once overdue), their open tasks due
  today or overdue, their open deals by stage, and their quota (revenue of deals they own won
  in the quota's period);
- field rep: today's plan (there is no visit model: their open tasks due today or overdue) and
  the accounts they own with no touch for `QUIET_DAYS` days;
- admin: the health of background work (`tandem.core.task_health`: worker alive, queue depth,
  failed tasks with retry), active users and pending invitations (active, no password set yet).

Invariants: every record is read through `tandem.core.access.scoped`, on top of which a rep's
home narrows to what the rep owns or is assigned; counts and lists agree with the list pages
the numbers link to.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone

from tandem.attribution import services as attribution
from tandem.core.access import scoped
from tandem.core.models import Organisation, Role, User
from tandem.core.task_health import TaskHealth, task_health_summary
from tandem.crm.models import Account
from tandem.insights import selectors
from tandem.insights.models import GoalKind
from tandem.insights.periods import Window, quarter_window, today_in, zone_of
from tandem.leads import selectors as leads_selectors
from tandem.leads.models import OPEN_HANDOFF, Handoff, HandoffStatus, RejectionReason
from tandem.marketing.models import Campaign
from tandem.sales.models import Deal, DealStatus, SalesTask

QUIET_DAYS = 30  # an account with no touch for this long is "not seen lately"
LIST_LIMIT = 20


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


# --- shared -----------------------------------------------------------------------------------


@dataclass
class Home:
    role: str
    user: User
    today: dt.date
    zone: zoneinfo.ZoneInfo
    goals: list[selectors.GoalProgress]

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "today": self.today.isoformat(),
            "time_zone": self.zone.key,
            "goals": [goal_json(p) for p in self.goals],
        }


def goal_json(p: selectors.GoalProgress) -> dict[str, Any]:
    g = p.goal
    return {
        "id": g.pk,
        "kind": g.kind,
        "period": g.period,
        "starts_on": g.starts_on.isoformat(),
        "ends_on": g.ends_on.isoformat(),
        "team": g.team_id,
        "user": g.user_id,
        "target": str(g.target),
        "actual": str(p.actual),
    }


# --- marketer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    status: str  # planned, running, ended, undated
    cost: Decimal
    revenue: float | None  # credited this quarter; None when no run credits anything


@dataclass
class MarketerHome(Home):
    quarter: Window
    campaigns: list[CampaignRow]
    own_campaigns: bool  # False: the marketer owns none, these are the ones they may see
    sla: selectors.Sla
    month: leads_selectors.MarketingSla

    @property
    def reasons(self) -> list[tuple[str, str, int]]:
        labels = dict(RejectionReason.choices)
        return [
            (code, str(labels.get(code, code)), n)
            for code, n in self.sla.rejection_reasons.most_common()
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "quarter": {
                "from": self.quarter.first.isoformat(),
                "to": self.quarter.last.isoformat(),
            },
            "mqls_delivered": self.sla.mqls_delivered,
            "mql_goal": int(self.sla.mql_goal) if self.sla.mql_goal is not None else None,
            "accepted": self.sla.accepted,
            "rejected": self.sla.rejected,
            "acceptance_rate": self.sla.acceptance_rate,
            "rejection_reasons": dict(self.sla.rejection_reasons.most_common()),
            "month": {
                "month": self.month.month.isoformat(),
                "delivered": self.month.delivered,
                "target": self.month.target,
            },
            "campaigns": [
                {
                    "id": r.campaign.pk,
                    "name": r.campaign.name,
                    "status": r.status,
                    "budget": str(r.campaign.budget),
                    "cost": str(r.cost),
                    "revenue": r.revenue,
                }
                for r in self.campaigns
            ],
        }


def campaign_status(campaign: Campaign, today: dt.date) -> str:
    if campaign.starts_on is None and campaign.ends_on is None:
        return "undated"
    if campaign.starts_on is not None and today < campaign.starts_on:
        return "planned"
    if campaign.ends_on is not None and today > campaign.ends_on:
        return "ended"
    return "running"


def campaign_credit(user: User, quarter: Window) -> dict[str, float] | None:
    """Revenue the cockpit's attribution run (deals won this quarter, linear) credits each
    campaign code (lower case), or None while a worker computes the run: the page never waits
    for it (the run is asked for, or found stored, by the attribution app)."""
    spec, params = attribution.build_request(
        start=quarter.first,
        end=quarter.last,
        conversion="deal_won",
        team_id=None,
        industry="",
        model=selectors.DEFAULT_MODEL,
        n_boot=100,
    )
    run = attribution.run_request(user=user, spec=spec, params=params)
    if not run.is_done:
        return None
    rows = run.result["credits"].get("campaign", [])
    return {r["name"].lower(): float(r["value"]) for r in rows if r["name"] != selectors.NO_LABEL}


def mql_goal(quarter: Window, team_id: int | None) -> Decimal | None:
    """Marketing's MQL goal for the quarter: the user's team's, else the joint one."""
    if team_id is not None:
        own = selectors.goal_totals(quarter, team_id)[GoalKind.MQL]
        if own is not None:
            return own
    return selectors.goal_totals(quarter, None)[GoalKind.MQL]


def marketer_home(user: User, base: Home) -> MarketerHome:
    quarter = quarter_window(base.today, base.zone)
    visible = scoped(user, Campaign)
    own = visible.filter(owner=user).exists()
    campaigns = (visible.filter(owner=user) if own else visible).annotate(
        spent=Sum("costs__amount")
    )
    credit = campaign_credit(user, quarter)
    rows = [
        CampaignRow(
            c,
            campaign_status(c, base.today),
            _cents(c.spent),
            credit.get(c.utm_code.lower()) if credit else None,
        )
        for c in campaigns.order_by("-starts_on", "-id")[:LIST_LIMIT]
    ]
    return MarketerHome(
        **vars(base),
        quarter=quarter,
        campaigns=rows,
        own_campaigns=own,
        sla=selectors.sla(user, quarter, None, mql_goal(quarter, user.team_id)),
        month=leads_selectors.marketing_sla(user, base.today, base.zone),
    )


# --- sales rep --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    handoff: Handoff
    due_at: dt.datetime | None
    hours: float | None  # left until the deadline (negative: overdue by), wall-clock

    @property
    def overdue(self) -> bool:
        return self.hours is not None and self.hours < 0

    @property
    def hours_overdue(self) -> float:
        return -self.hours if self.hours is not None else 0.0

    @property
    def step(self) -> str:
        return "accept" if self.handoff.status == HandoffStatus.PENDING else "first_contact"


@dataclass(frozen=True)
class StageRow:
    stage_id: int
    name: str
    deals: int
    amount: Decimal  # in the organisation's currency


@dataclass
class RepHome(Home):
    clocks: list[Clock]
    tasks: list[SalesTask]
    tasks_overdue: int
    stages: list[StageRow]
    currency: str
    quota: selectors.GoalProgress | None

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "handoffs": [
                {
                    "id": c.handoff.pk,
                    "status": c.handoff.status,
                    "due_at": c.due_at.isoformat() if c.due_at else None,
                    "hours_left": c.hours,
                }
                for c in self.clocks
            ],
            "tasks_due": len(self.tasks),
            "tasks_overdue": self.tasks_overdue,
            "currency": self.currency,
            "deals_by_stage": [
                {"stage_id": s.stage_id, "stage": s.name, "deals": s.deals, "amount": str(s.amount)}
                for s in self.stages
            ],
            "quota": goal_json(self.quota) if self.quota else None,
        }


def handoff_clocks(user: User, now: dt.datetime) -> list[Clock]:
    """The open hand-offs assigned to `user`, the most urgent first."""
    handoffs = (
        scoped(user, Handoff)
        .filter(assigned_to=user, status__in=OPEN_HANDOFF)
        .select_related("contact", "contact__account")
    )
    clocks = []
    for h in handoffs[:200]:
        due = h.accept_due_at if h.status == HandoffStatus.PENDING else h.first_contact_due_at
        hours = round((due - now).total_seconds() / 3600, 2) if due is not None else None
        clocks.append(Clock(h, due, hours))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    clocks.sort(key=lambda c: (c.due_at or far, c.handoff.pk))
    return clocks


def tasks_due(user: User, today: dt.date) -> QuerySet[SalesTask]:
    """The user's own open tasks due today or earlier (the tasks page's list), oldest first."""
    return (
        scoped(user, SalesTask)
        .filter(owner=user, done_at__isnull=True, due_on__lte=today)
        .select_related("contact", "deal")
        .order_by("due_on", "id")
    )


def deals_by_stage(user: User, currency: str) -> list[StageRow]:
    rows = (
        scoped(user, Deal)
        .filter(owner=user, status=DealStatus.OPEN)
        .values("stage_id", "stage__name", "stage__pipeline_id", "stage__position")
        .annotate(deals=Count("id"), amount=Sum("amount", filter=Q(currency=currency), default=0))
        .order_by("stage__pipeline_id", "stage__position")
    )
    return [
        StageRow(r["stage_id"], r["stage__name"], r["deals"], _cents(r["amount"])) for r in rows
    ]


def rep_home(user: User, base: Home, now: dt.datetime) -> RepHome:
    tasks = list(tasks_due(user, base.today)[: LIST_LIMIT * 5])
    currency = Organisation.current().currency
    quota = next((p for p in base.goals if p.goal.user_id == user.pk), None)
    return RepHome(
        **vars(base),
        clocks=handoff_clocks(user, now),
        tasks=tasks,
        tasks_overdue=sum(1 for t in tasks if t.due_on < base.today),
        stages=deals_by_stage(user, currency),
        currency=currency,
        quota=quota,
    )


# --- field rep --------------------------------------------------------------------------------


@dataclass
class FieldHome(RepHome):
    quiet: list[Account] = field(default_factory=list)  # with `last_touch` (None: never)
    quiet_count: int = 0
    quiet_days: int = QUIET_DAYS

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "quiet_days": self.quiet_days,
            "quiet_accounts": self.quiet_count,
            "accounts": [
                {
                    "id": a.pk,
                    "name": a.name,
                    "last_touch": a.last_touch.isoformat() if a.last_touch else None,  # type: ignore[attr-defined]
                }
                for a in self.quiet
            ],
        }


def quiet_accounts(user: User, now: dt.datetime, days: int = QUIET_DAYS) -> QuerySet[Account]:
    """Accounts `user` owns with no touch (of any contact, by anyone) for `days` days, the
    longest quiet first (never touched before all)."""
    since = now - dt.timedelta(days=days)
    return (
        scoped(user, Account)
        .filter(owner=user)
        .annotate(last_touch=Max("touchpoints__occurred_at", filter=Q(touchpoints__is_bot=False)))
        .filter(Q(last_touch__lt=since) | Q(last_touch__isnull=True))
        .order_by(F("last_touch").asc(nulls_first=True), "name", "id")
    )


def field_home(user: User, base: Home, now: dt.datetime) -> FieldHome:
    rep = rep_home(user, base, now)
    quiet = quiet_accounts(user, now)
    return FieldHome(**vars(rep), quiet=list(quiet[:LIST_LIMIT]), quiet_count=quiet.count())


# --- admin ------------------------------------------------------------------------------------


@dataclass
class AdminHome(Home):
    users_active: int
    invitations_pending: int
    roles: dict[str, int]
    task_health: TaskHealth

    def as_json(self) -> dict[str, Any]:
        h = self.task_health
        return {
            **super().as_json(),
            "users_active": self.users_active,
            "invitations_pending": self.invitations_pending,
            "users_by_role": self.roles,
            "task_health": {
                "backend": h.backend,
                "tracked": h.tracked,
                "worker_alive": h.worker_alive,
                "queue_depth": h.queue_depth,
                "waiting": h.waiting,
                "running": h.running,
                "failed": h.failed_count,
                "healthy": h.healthy,
            },
        }


def admin_home(user: User, base: Home) -> AdminHome:
    active = User.objects.filter(is_active=True)
    return AdminHome(
        **vars(base),
        users_active=active.count(),
        # an invited person has no usable password until they set one from the link
        invitations_pending=active.filter(password__startswith=UNUSABLE_PASSWORD_PREFIX).count(),
        roles=dict(Counter(active.values_list("role", flat=True))),
        task_health=task_health_summary(),
    )


# --- dispatch ---------------------------------------------------------------------------------


def home_for(user: User, now: dt.datetime | None = None) -> Home:
    """The home of the user's role (the head's home is the cockpit: this gives the goals)."""
    now = now or timezone.now()
    zone = zone_of(user)
    today = today_in(zone)
    base = Home(user.role, user, today, zone, selectors.goals_now(user, today, zone))
    if user.role == Role.MARKETER:
        return marketer_home(user, base)
    if user.role == Role.SALES_REP:
        return rep_home(user, base, now)
    if user.role == Role.FIELD_REP:
        return field_home(user, base, now)
    if user.role == Role.ADMIN:
        return admin_home(user, base)
    return base
