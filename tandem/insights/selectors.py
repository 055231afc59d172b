"""The numbers of the head's cockpit, computed once for the page and the API.

    summary(user, window=Window(...), team_id=None, model="linear")

Definitions (docs/insights.md):
- revenue won: deals won with their close moment inside the window, amounts in the
  organisation's currency; open pipeline: open deals whose expected close date lies in the
  window (weighted: amount x stage probability); deals in other currencies are not added;
- the funnel, step by step, each over its own cohort of the window: visitors (anonymous ids
  seen), then contacts entering lead, MQL, SAL, SQL (stage history), then deals created
  (opportunity) and deals won. `converted_to_next` counts the cohort's members that reached a
  later step (a skipped step still counts as converted); `median_days` is the median time from
  entering the step to reaching the next one;
- SLA, over the hand-offs created in the window: marketing's side is the MQLs delivered
  against the MQL goal and the share sales accepted of those it decided; sales' side is the
  share answered (accepted or rejected) by the accept deadline, the share contacted by the
  first-contact deadline, and the open hand-offs past their deadline now;
- disputes open: the disputes waiting for the head's decision now;
- credit split: attribution of the deals won in the window to departments, with the model's
  bootstrap interval. With ``credit_background`` (the cockpit page and the API) a run not
  stored yet is left to a worker: ``credit_state`` says where it stands (queued, running,
  failed; done once stored) and the credit split, top content and campaign revenue are empty
  until it is done.
- a team narrows deals and goals to the team's, hand-offs to those assigned to its members,
  contacts and visitors to those whose account (else the contact) a member owns, disputes to
  those a member opened or takes part in.
- a channel (a record's first touch, `tandem.insights.channels`) narrows deals, hand-offs,
  contacts and visitors; `funnel_by_channel` gives the funnel per channel from the same grouping
  as `funnel(..., channel=...)`.

Invariants: every record is read through `tandem.core.access.scoped`, so a user's numbers
count only what they may see (the same as the deals, hand-off and dispute lists show them);
the numbers depend only on the data, the window and the team, never on the page or the API
asking.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tandem.attribution import services as attribution
from tandem.core.access import scoped
from tandem.core.models import Organisation, Team, User
from tandem.crm.models import Identity, LifecycleStage, Touchpoint
from tandem.insights import channels, periods
from tandem.insights.models import Goal, GoalKind
from tandem.insights.periods import Window, period_end
from tandem.leads.models import (
    Dispute,
    DisputeStatus,
    Handoff,
    HandoffStatus,
    RejectionReason,
    StageHistory,
)
from tandem.marketing.models import Campaign, CampaignCost
from tandem.sales.models import Deal, DealStatus

S = LifecycleStage
CONTACT_STEPS: list[str] = [S.LEAD, S.MQL, S.SAL, S.SQL]
# Later lifecycle stages, by rank: reaching any of them converts an earlier step.
RANK: dict[str, int] = {S.LEAD: 1, S.MQL: 2, S.SAL: 3, S.SQL: 4, S.OPPORTUNITY: 5, S.CUSTOMER: 6}
STEP_LABELS: dict[str, Any] = {
    "visitor": _("Visitor"),
    "lead": _("Lead"),
    "mql": _("MQL"),
    "sal": _("SAL"),
    "sql": _("SQL"),
    "opportunity": _("Opportunity"),
    "won": _("Won"),
}
FUNNEL = list(STEP_LABELS)
MONEY = DecimalField(max_digits=20, decimal_places=4)
CENT = Decimal("0.01")
DAY = 86400.0
MODELS: tuple[str, ...] = attribution.SIDE_BY_SIDE
# Period arithmetic for other apps (the demo), which read insights through its selectors.
add_months = periods.add_months
period_start = periods.period_start
NO_LABEL = "(none)"  # how attribution names touches without a campaign or content
# The credit split's model unless the viewer picks another: its bootstrap interval is one matrix
# product, where Markov's solves a chain per replicate (about 30 times slower on the demo).
DEFAULT_MODEL = "linear"


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    entered: int
    converted_to_next: int | None
    median_days: float | None

    @property
    def label(self) -> str:
        return str(STEP_LABELS[self.stage])

    @property
    def conversion(self) -> float | None:
        if self.converted_to_next is None or not self.entered:
            return None
        return self.converted_to_next / self.entered


@dataclass(frozen=True)
class Credit:
    share: float
    low: float | None
    high: float | None


@dataclass
class RepSla:
    user_id: int | None
    name: str
    handoffs: int = 0
    answered: int = 0
    answered_in_time: int = 0
    contact_due: int = 0
    contacted_in_time: int = 0
    breaching_now: int = 0


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Sla:
    mqls_delivered: int = 0
    mql_goal: Decimal | None = None
    accepted: int = 0
    rejected: int = 0
    answered: int = 0
    answered_in_time: int = 0
    contact_due: int = 0
    contacted_in_time: int = 0
    breaching_now: int = 0
    by_rep: list[RepSla] = field(default_factory=list)
    rejection_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def top_rejection_reasons(self) -> list[tuple[str, int]]:
        """(the reason in the viewer's language, how many), most frequent first."""
        labels = dict(RejectionReason.choices)
        return [
            (str(labels.get(reason, reason or _("No reason given"))), n)
            for reason, n in self.rejection_reasons.most_common()
        ]

    @property
    def acceptance_rate(self) -> float | None:
        return _rate(self.accepted, self.accepted + self.rejected)

    @property
    def mql_attainment(self) -> float | None:
        return round(self.mqls_delivered / float(self.mql_goal), 4) if self.mql_goal else None

    def as_json(self) -> dict[str, Any]:
        return {
            "marketing": {
                "mqls_delivered": self.mqls_delivered,
                "mql_goal": None if self.mql_goal is None else int(self.mql_goal),
                "accepted": self.accepted,
                "rejected": self.rejected,
                "acceptance_rate": self.acceptance_rate,
                "rejection_reasons": dict(self.rejection_reasons.most_common()),
            },
            "sales": {
                "answered": self.answered,
                "answered_in_time": self.answered_in_time,
                "answered_in_time_rate": _rate(self.answered_in_time, self.answered),
                "first_contact_due": self.contact_due,
                "contacted_in_time": self.contacted_in_time,
                "contacted_in_time_rate": _rate(self.contacted_in_time, self.contact_due),
                "breaching_now": self.breaching_now,
            },
        }


@dataclass(frozen=True)
class Alert:
    kind: str  # "conversion" or "sla"
    text: str


# A step's conversion alerts when it falls this far (in points) below the previous period of the
# same length, and at least this many entered the step in each period.
ALERT_DROP = 0.10
ALERT_MIN_ENTERED = 10


def alerts(current: list[FunnelStep], previous: list[FunnelStep], sla: Sla) -> list[Alert]:
    """Steps converting clearly worse than in the previous period; reps with open hand-offs past
    their deadline."""
    out = []
    before = {step.stage: step for step in previous}
    for step in current:
        old = before.get(step.stage)
        if old is None or step.conversion is None or old.conversion is None:
            continue
        if min(step.entered, old.entered) < ALERT_MIN_ENTERED:
            continue
        if step.conversion <= old.conversion - ALERT_DROP:
            text = _(
                "%(step)s converts %(now).0f %% to the next step, down from %(then).0f %% "
                "in the previous period."
            ) % {"step": step.label, "now": 100 * step.conversion, "then": 100 * old.conversion}
            out.append(Alert("conversion", text))
    for rep in sla.by_rep:
        if rep.breaching_now:
            text = ngettext(
                "%(rep)s has %(n)d open hand-off past its deadline.",
                "%(rep)s has %(n)d open hand-offs past their deadline.",
                rep.breaching_now,
            ) % {"rep": rep.name, "n": rep.breaching_now}
            out.append(Alert("sla", text))
    return out


@dataclass
class Summary:
    window: Window
    team_id: int | None
    industry: str
    currency: str
    model: str
    revenue_won: Decimal
    deals_won: int
    revenue_goal: Decimal | None
    pipeline_open: Decimal
    pipeline_weighted: Decimal
    deals_open: int
    pipeline_goal: Decimal | None
    funnel: list[FunnelStep]
    sla: Sla
    disputes_open: int
    oldest_disputes: list[Dispute]
    credit_split: dict[str, Credit]
    top_content: list[Influence]
    campaign_returns: list[CampaignReturn]
    complete: bool  # whether the viewer sees every record (else: counted over what they see)
    alerts: list[Alert] = field(default_factory=list)
    channel: str = ""  # first-touch channel narrowing the numbers ("" for every channel)
    credit_state: str = ""  # the attribution run's status ("" when the credit was not asked for)
    credit_run_id: int | None = None

    @property
    def revenue_attainment(self) -> float | None:
        return float(self.revenue_won / self.revenue_goal) if self.revenue_goal else None

    @property
    def coverage(self) -> float | None:
        """Open pipeline over the revenue still to win (None once the goal is reached)."""
        if self.revenue_goal is None:
            return None
        left = self.revenue_goal - self.revenue_won
        return float(self.pipeline_open / left) if left > 0 else None


# --- segments -------------------------------------------------------------------------------


def _contact_in_team(team_id: int, prefix: str = "") -> Q:
    return Q(**{f"{prefix}account__owner__team_id": team_id}) | Q(
        **{f"{prefix}account__isnull": True, f"{prefix}owner__team_id": team_id}
    )


def _deals(
    user: User, team_id: int | None, industry: str = "", channel: str = ""
) -> QuerySet[Deal]:
    deals = scoped(user, Deal)
    if team_id is not None:
        deals = deals.filter(owner__team_id=team_id)
    if industry:
        deals = deals.filter(account__industry=industry)
    return channels.narrow(deals, channel, channels.account_channel())


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


# --- the numbers ----------------------------------------------------------------------------


def won_deals(
    user: User, window: Window, team_id: int | None = None, industry: str = "", channel: str = ""
) -> QuerySet[Deal]:
    """Deals won in the window (any currency), as the user may see them."""
    return _deals(user, team_id, industry, channel).filter(
        status=DealStatus.WON, closed_at__gte=window.start_at, closed_at__lt=window.end_at
    )


def open_deals(
    user: User, window: Window, team_id: int | None = None, industry: str = "", channel: str = ""
) -> QuerySet[Deal]:
    """Open deals expected to close in the window (any currency)."""
    return _deals(user, team_id, industry, channel).filter(
        status=DealStatus.OPEN, close_date__gte=window.first, close_date__lte=window.last
    )


def revenue(
    user: User,
    window: Window,
    team_id: int | None,
    currency: str,
    industry: str = "",
    channel: str = "",
) -> tuple[Decimal, int]:
    won = won_deals(user, window, team_id, industry, channel)
    row = won.filter(currency=currency)
    totals = row.aggregate(total=Coalesce(Sum("amount"), Value(Decimal(0)), output_field=MONEY))
    return _money(totals["total"]), won.count()


def pipeline(
    user: User,
    window: Window,
    team_id: int | None,
    currency: str,
    industry: str = "",
    channel: str = "",
) -> tuple[Decimal, Decimal, int]:
    zero = Value(Decimal(0), output_field=MONEY)
    weighted = ExpressionWrapper(
        F("amount") * F("stage__probability") / Value(100), output_field=MONEY
    )
    totals = (
        open_deals(user, window, team_id, industry, channel)
        .filter(currency=currency)
        .aggregate(
            total=Coalesce(Sum("amount"), zero, output_field=MONEY),
            total_weighted=Coalesce(Sum(weighted), zero, output_field=MONEY),
        )
    )
    count = open_deals(user, window, team_id, industry, channel).count()
    return _money(totals["total"]), _money(totals["total_weighted"]), count


def handoffs_in(
    user: User, window: Window, team_id: int | None = None, industry: str = "", channel: str = ""
) -> QuerySet[Handoff]:
    """Hand-offs created in the window, as the user may see them."""
    qs = scoped(user, Handoff).filter(created_at__gte=window.start_at, created_at__lt=window.end_at)
    if team_id is not None:
        qs = qs.filter(assigned_to__team_id=team_id)
    if industry:
        qs = qs.filter(contact__account__industry=industry)
    return channels.narrow(qs, channel, channels.contact_channel())


def open_disputes(user: User, team_id: int | None = None) -> QuerySet[Dispute]:
    """Disputes waiting for a decision now, as the user may see them, oldest first."""
    qs = scoped(user, Dispute).filter(status=DisputeStatus.OPEN)
    if team_id is not None:
        members = Dispute.objects.filter(
            Q(opened_by__team_id=team_id) | Q(participants__team_id=team_id)
        ).values("pk")
        qs = qs.filter(pk__in=members)
    return qs.order_by("opened_at", "id")


def goal_totals(window: Window, team_id: int | None) -> dict[str, Decimal | None]:
    """Each kind's goal for the window: the quarter goals inside it, plus the month goals
    inside it that no counted quarter goal covers. None when no goal of the kind applies."""
    goals = Goal.objects.filter(starts_on__gte=window.first, ends_on__lte=window.last, user=None)
    goals = goals.filter(team_id=team_id) if team_id is not None else goals.filter(team=None)
    out: dict[str, Decimal | None] = dict.fromkeys(GoalKind.values)
    by_kind: dict[str, list[Goal]] = defaultdict(list)
    for goal in goals:
        by_kind[goal.kind].append(goal)
    for kind, rows in by_kind.items():
        quarters = [(g.starts_on, g.ends_on) for g in rows if g.period == "quarter"]
        total = Decimal(0)
        for goal in rows:
            inside = any(a <= goal.starts_on and goal.ends_on <= b for a, b in quarters)
            if goal.period == "quarter" or not inside:
                total += goal.target
        out[kind] = total
    return out


def _median_days(spans: Iterable[float]) -> float | None:
    values = list(spans)
    return round(statistics.median(values) / DAY, 2) if values else None


def _seconds(a: dt.datetime, b: dt.datetime) -> float:
    return max(0.0, (b - a).total_seconds())


def _visitor_step(
    user: User, window: Window, team_id: int | None, industry: str, by_channel: bool = False
) -> dict[str, FunnelStep]:
    """The visitor step, per first-touch channel of the anonymous id when `by_channel` (else
    under the key "")."""
    touches = (
        scoped(user, Touchpoint)
        .filter(is_bot=False, occurred_at__gte=window.start_at, occurred_at__lt=window.end_at)
        .exclude(anonymous_id="")
    )
    if team_id is not None:
        touches = touches.filter(_contact_in_team(team_id, "contact__"))
    if industry:
        touches = touches.filter(contact__account__industry=industry)
    # one row per visitor: the time from first seen to identified (None if never), the
    # identity found by one lookup in its unique (kind, value) index -- one query, one value
    # a row to read (the large demo has tens of thousands of visitors a quarter)
    identified_at = Identity.objects.filter(
        kind=Identity.Kind.ANONYMOUS_ID, value=OuterRef("anonymous_id")
    ).values("created_at")[:1]
    since_first = ExpressionWrapper(
        Subquery(identified_at) - Min("occurred_at"), output_field=DurationField()
    )
    firsts = channels.annotated(
        touches.order_by().values("anonymous_id").annotate(span=since_first),
        by_channel,
        channels.visitor_channel(),
    ).values_list("span", "channel_key")
    seen: Counter[str] = Counter()
    spans: dict[str, list[float]] = defaultdict(list)
    for span, key in firsts:
        seen[key] += 1
        if span is not None:
            spans[key].append(max(0.0, span.total_seconds()))
    return {
        key: FunnelStep("visitor", n, len(spans[key]), _median_days(spans[key]))
        for key, n in seen.items()
    }


def _contact_steps(
    user: User, window: Window, team_id: int | None, industry: str, by_channel: bool = False
) -> dict[str, list[FunnelStep]]:
    """The lead to SQL steps, per first-touch channel of the contact when `by_channel`."""
    history = scoped(user, StageHistory)
    if team_id is not None:
        history = history.filter(_contact_in_team(team_id, "contact__"))
    if industry:
        history = history.filter(contact__account__industry=industry)
    cohort = history.filter(
        stage__in=CONTACT_STEPS, entered_at__gte=window.start_at, entered_at__lt=window.end_at
    )
    entered: dict[str, dict[str, dict[int, dt.datetime]]] = defaultdict(
        lambda: {stage: {} for stage in CONTACT_STEPS}
    )
    rows = channels.annotated(cohort, by_channel, channels.contact_channel()).values_list(
        "contact_id", "stage", "entered_at", "channel_key"
    )
    for contact_id, stage, at, key in rows:
        first = entered[key][stage].get(contact_id)
        if first is None or at < first:
            entered[key][stage][contact_id] = at
    later: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
    reached = history.filter(
        contact_id__in=cohort.values("contact_id"),
        stage__in=list(RANK)[1:],
        entered_at__gte=window.start_at,
    ).values_list("contact_id", "stage", "entered_at")
    for contact_id, stage, at in reached:
        later[contact_id].append((RANK[stage], at))
    out = {}
    for key, by_stage in entered.items():
        steps = []
        for stage in CONTACT_STEPS:
            rank = RANK[stage]
            spans = []
            for contact_id, at in by_stage[stage].items():
                times = [t for r, t in later.get(contact_id, ()) if r > rank and t >= at]
                if times:
                    spans.append(_seconds(at, min(times)))
            steps.append(FunnelStep(stage, len(by_stage[stage]), len(spans), _median_days(spans)))
        out[key] = steps
    return out


def _deal_steps(
    user: User, window: Window, team_id: int | None, industry: str, by_channel: bool = False
) -> dict[str, list[FunnelStep]]:
    """Deals created and won, per first-touch channel of the deal's account when `by_channel`."""
    expression = channels.account_channel()
    created = channels.annotated(
        _deals(user, team_id, industry).filter(
            created_at__gte=window.start_at, created_at__lt=window.end_at
        ),
        by_channel,
        expression,
    )
    counts = dict(
        created.order_by()
        .values("channel_key")
        .annotate(n=Count("pk"))
        .values_list("channel_key", "n")
    )
    spans: dict[str, list[float]] = defaultdict(list)
    won_rows = created.filter(status=DealStatus.WON).values_list(
        "channel_key", "created_at", "closed_at"
    )
    for key, a, b in won_rows:
        if b is not None:
            spans[key].append(_seconds(a, b))
    won = channels.annotated(won_deals(user, window, team_id, industry), by_channel, expression)
    wins = dict(
        won.order_by().values("channel_key").annotate(n=Count("pk")).values_list("channel_key", "n")
    )
    return {
        key: [
            FunnelStep(
                "opportunity",
                counts.get(key, 0),
                len(spans[key]),
                _median_days(spans[key]),
            ),
            FunnelStep("won", wins.get(key, 0), None, None),
        ]
        for key in set(counts) | set(wins)
    }


def empty_funnel() -> list[FunnelStep]:
    """The funnel of a segment nobody entered."""
    return [FunnelStep(stage, 0, None if stage == "won" else 0, None) for stage in FUNNEL]


def _funnel_groups(
    user: User, window: Window, team_id: int | None, industry: str, by_channel: bool
) -> dict[str, list[FunnelStep]]:
    visitors = _visitor_step(user, window, team_id, industry, by_channel)
    contacts = _contact_steps(user, window, team_id, industry, by_channel)
    deals = _deal_steps(user, window, team_id, industry, by_channel)
    keys = (set(visitors) | set(contacts) | set(deals)) if by_channel else {""}
    empty = {step.stage: step for step in empty_funnel()}
    return {
        key: [
            visitors.get(key, empty["visitor"]),
            *contacts.get(key, [empty[stage] for stage in CONTACT_STEPS]),
            *deals.get(key, [empty["opportunity"], empty["won"]]),
        ]
        for key in keys
    }


def funnel(
    user: User, window: Window, team_id: int | None = None, industry: str = "", channel: str = ""
) -> list[FunnelStep]:
    """The funnel of the window; with a channel, of the records that came through it (computed
    by the same grouping as `funnel_by_channel`, so the two always agree)."""
    groups = _funnel_groups(user, window, team_id, industry, by_channel=bool(channel))
    return groups.get(channel, empty_funnel())


def funnel_by_channel(
    user: User, window: Window, team_id: int | None = None, industry: str = ""
) -> list[tuple[str, list[FunnelStep]]]:
    """The funnel per first-touch channel (see `tandem.insights.channels`), the channels with
    the most visitors and leads first."""
    groups = _funnel_groups(user, window, team_id, industry, by_channel=True)
    return sorted(groups.items(), key=lambda kv: (-kv[1][0].entered, -kv[1][1].entered, kv[0]))


def _names(ids: Iterable[int]) -> dict[int, str]:
    return {
        pk: (f"{first} {last}".strip() or username)
        for pk, first, last, username in User.objects.filter(pk__in=list(ids)).values_list(
            "pk", "first_name", "last_name", "username"
        )
    }


def sla(
    user: User,
    window: Window,
    team_id: int | None = None,
    mql_goal: Decimal | None = None,
    industry: str = "",
    channel: str = "",
) -> Sla:
    now = timezone.now()
    out = Sla(mql_goal=mql_goal)
    reps: dict[int | None, RepSla] = {}
    rows = handoffs_in(user, window, team_id, industry, channel).values_list(
        "assigned_to_id",
        "status",
        "accept_due_at",
        "accepted_at",
        "rejected_at",
        "first_contact_due_at",
        "contacted_at",
        "rejection_reason",
    )
    for rep_id, status, accept_due, accepted, rejected, contact_due, contacted, reason in rows:
        rep = reps.setdefault(rep_id, RepSla(rep_id, ""))
        rep.handoffs += 1
        out.mqls_delivered += 1
        if status in (HandoffStatus.ACCEPTED, HandoffStatus.CONTACTED):
            out.accepted += 1
        elif status == HandoffStatus.REJECTED:
            out.rejected += 1
            out.rejection_reasons[reason] += 1
        answered_at = accepted or rejected
        if answered_at is not None:
            in_time = accept_due is None or answered_at <= accept_due
            for side in (out, rep):
                side.answered += 1
                side.answered_in_time += in_time
        if accepted is not None and (contacted is not None or (contact_due and contact_due < now)):
            in_time = contacted is not None and (contact_due is None or contacted <= contact_due)
            for side in (out, rep):
                side.contact_due += 1
                side.contacted_in_time += in_time
        due = accept_due if status == HandoffStatus.PENDING else None
        if status == HandoffStatus.ACCEPTED:
            due = contact_due
        if due is not None and due < now:
            out.breaching_now += 1
            rep.breaching_now += 1
    names = _names(pk for pk in reps if pk is not None)
    for pk, rep in reps.items():
        rep.name = names.get(pk, "") if pk is not None else str(_("Nobody"))
    out.by_rep = sorted(reps.values(), key=lambda r: (-r.breaching_now, -r.handoffs, r.name))
    return out


def _credit_run(
    user: User,
    window: Window,
    team_id: int | None = None,
    model: str = DEFAULT_MODEL,
    industry: str = "",
    background: bool = False,
) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    """The attribution of the deals won in the window: credit rows per dimension (empty while
    a worker computes it, with ``background``), and the run."""
    spec, params = attribution.build_request(
        start=window.first,
        end=window.last,
        conversion="deal_won",
        team_id=team_id,
        industry=industry,
        model=model,
        n_boot=100,
    )
    if background:
        run = attribution.run_request(user=user, spec=spec, params=params)
    else:
        run = attribution.attribution_run(user=user, spec=spec, params=params)
    credits: dict[str, list[dict[str, Any]]] = run.result["credits"] if run.is_done else {}
    return credits, run


def credit_split(credits: dict[str, list[dict[str, Any]]]) -> dict[str, Credit]:
    """Each department's share of the deals won, with its interval."""
    return {
        row["name"]: Credit(share=row["share"], low=row["lower"], high=row["upper"])
        for row in credits.get("department", [])
    }


@dataclass(frozen=True)
class Influence:
    name: str
    value: float  # revenue credited
    share: float  # of all revenue credited


def top_content(credits: dict[str, list[dict[str, Any]]], limit: int = 5) -> list[Influence]:
    """The content credited with the most revenue (touches without content left out)."""
    rows = [r for r in credits.get("content", []) if r["name"] != NO_LABEL and r["value"] > 0]
    rows.sort(key=lambda r: (-r["value"], r["name"]))
    return [Influence(r["name"], r["value"], r["value_share"]) for r in rows[:limit]]


@dataclass(frozen=True)
class CampaignReturn:
    campaign_id: int
    name: str
    cost: Decimal
    revenue: float  # credited by the attribution of the deals won in the period

    @property
    def roi(self) -> float | None:
        """(revenue - cost) / cost; None when the campaign cost nothing."""
        return (self.revenue - float(self.cost)) / float(self.cost) if self.cost else None


def campaign_returns(
    user: User, window: Window, credits: dict[str, list[dict[str, Any]]], limit: int = 10
) -> list[CampaignReturn]:
    """Each campaign the user may see with its cost incurred in the window against the revenue
    credited to it (a touchpoint's campaign is the campaign's UTM code, in any case)."""
    credited = {
        r["name"].lower(): r["value"] for r in credits.get("campaign", []) if r["name"] != NO_LABEL
    }
    costs = dict(
        scoped(user, CampaignCost)
        .filter(incurred_on__gte=window.first, incurred_on__lte=window.last)
        .values("campaign_id")
        .annotate(total=Sum("amount"))
        .values_list("campaign_id", "total")
    )
    rows = []
    for pk, name, code in scoped(user, Campaign).values_list("pk", "name", "utm_code"):
        cost, revenue = costs.get(pk), credited.get(code.lower(), 0.0)
        if cost or revenue:
            rows.append(CampaignReturn(pk, name, _money(cost), float(revenue)))
    rows.sort(key=lambda r: (-r.revenue, r.cost, r.name))
    return rows[:limit]


def summary(
    user: User,
    *,
    window: Window,
    team_id: int | None = None,
    industry: str = "",
    model: str = DEFAULT_MODEL,
    with_credit: bool = True,
    channel: str = "",
    credit_background: bool = False,
) -> Summary:
    """Every number of the cockpit for `user` over `window` (and `team_id`, `industry`,
    `channel`, if given). Goals are set per team, not per industry or channel: with either
    there is no goal. The channel (first touch, `tandem.insights.channels`) narrows deals,
    hand-offs, contacts and visitors; the attribution (credit split, campaign return, content)
    is already by channel and is not narrowed by it. With ``credit_background`` the attribution
    is never computed here: a run not stored yet is queued for a worker (``credit_state``)."""
    currency = Organisation.current().currency
    narrowed = bool(industry or channel)
    goals = goal_totals(window, team_id) if not narrowed else dict.fromkeys(GoalKind.values)
    won, deals_won = revenue(user, window, team_id, currency, industry, channel)
    amount, weighted, deals_open = pipeline(user, window, team_id, currency, industry, channel)
    disputes = open_disputes(user, team_id)
    credits, credit = (
        _credit_run(user, window, team_id, model, industry, credit_background)
        if with_credit
        else ({}, None)
    )
    steps = funnel(user, window, team_id, industry, channel)
    service = sla(user, window, team_id, goals[GoalKind.MQL], industry, channel)
    length = window.last - window.first + dt.timedelta(days=1)
    previous = Window(window.first - length, window.first - dt.timedelta(days=1), window.zone)
    return Summary(
        window=window,
        team_id=team_id,
        industry=industry,
        currency=currency,
        model=model,
        revenue_won=won,
        deals_won=deals_won,
        revenue_goal=goals[GoalKind.REVENUE],
        pipeline_open=amount,
        pipeline_weighted=weighted,
        deals_open=deals_open,
        pipeline_goal=goals[GoalKind.PIPELINE],
        funnel=steps,
        sla=service,
        disputes_open=disputes.count(),
        oldest_disputes=list(disputes.select_related("opened_by")[:5]),
        credit_split=credit_split(credits),
        top_content=top_content(credits),
        campaign_returns=campaign_returns(user, window, credits),
        complete=user.sees_everything,
        alerts=alerts(steps, funnel(user, previous, team_id, industry, channel), service),
        channel=channel,
        credit_state=credit.status if credit is not None else "",
        credit_run_id=credit.pk if credit is not None else None,
    )


# --- goals on every home page ---------------------------------------------------------------


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    actual: Decimal

    @property
    def share(self) -> float | None:
        return float(self.actual / self.goal.target) if self.goal.target else None

    @property
    def bar(self) -> int:
        """The progress bar's width in percent (0-100)."""
        share = self.share
        return 100 if share is None else max(0, min(100, round(100 * share)))


def goal_actual(user: User, goal: Goal, window: Window) -> Decimal:
    """What `user` sees achieved towards `goal`; a rep's quota counts the rep's own deals."""
    currency = Organisation.current().currency
    if goal.user_id is not None:
        won = won_deals(user, window).filter(owner_id=goal.user_id, currency=currency)
        return _money(won.aggregate(total=Sum("amount"))["total"])
    if goal.kind == GoalKind.REVENUE:
        return revenue(user, window, goal.team_id, currency)[0]
    if goal.kind == GoalKind.PIPELINE:
        return pipeline(user, window, goal.team_id, currency)[0]
    return Decimal(handoffs_in(user, window, goal.team_id).count())


def goals_now(user: User, today: dt.date, zone: Any) -> list[GoalProgress]:
    """The goals whose period contains `today` (joint ones, the user's team's and the user's own
    quota), with what the user sees achieved towards each."""
    goals = (
        scoped(user, Goal)
        .filter(starts_on__lte=today, ends_on__gte=today)
        .filter(Q(team=None, user=None) | Q(team_id=user.team_id, user=None) | Q(user=user))
        .select_related("team", "user")
        .order_by(F("user_id").asc(nulls_first=True), "team_id", "period", "kind")
    )
    out = []
    for goal in goals:
        period = Window(goal.starts_on, period_end(goal.starts_on, goal.period), zone)
        out.append(GoalProgress(goal, goal_actual(user, goal, period)))
    return out


def teams() -> QuerySet[Team]:
    return Team.objects.order_by("name")
