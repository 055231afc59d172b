"""The head's part of the story: shared goals for the last and the current quarter (through
insights' `goal_set`) and disputes between marketing and sales, some decided, some waiting
(through leads' dispute operations, dated by `clock.backdate`).

Invariants:
- goals follow what the story made: last quarter's revenue goal is a little above what was won
  (missed narrowly), this quarter's asks for growth; idempotent (`goal_set` changes a target);
- disputes are about demo records picked in a fixed order (the oldest rejected hand-offs, the
  first won deals, a breached hand-off), so the same story gives the same disputes.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from tandem.core.audit import Actor
from tandem.core.models import Organisation, Role, Team, User
from tandem.crm.models import Account
from tandem.demo.clock import backdate
from tandem.insights import services as insights
from tandem.leads import services as leads
from tandem.leads.models import Dispute, DisputeMessage, Handoff, HandoffStatus, StageHistory
from tandem.sales.models import Deal, DealStatus

STEP = Decimal("5000")


def _round(value: Decimal, step: Decimal = STEP) -> Decimal:
    return max(step, (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def _quarters(now: dt.datetime) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    fiscal = Organisation.current().fiscal_year_start_month
    this = insights.period_start(now.date(), "quarter", fiscal)
    last = insights.period_start(this - dt.timedelta(days=1), "quarter", fiscal)
    after = insights.period_end(this, "quarter")
    return (last, this - dt.timedelta(days=1)), (this, after)


def _won(first: dt.date, last: dt.date, team: Team | None = None) -> Decimal:
    deals = Deal.objects.filter(
        status=DealStatus.WON, closed_at__date__gte=first, closed_at__date__lte=last
    )
    if team is not None:
        deals = deals.filter(owner__team=team)
    return deals.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def set_goals(people: dict[str, User], now: dt.datetime) -> None:
    head = Actor(user=people["head"])
    (last_first, last_last), (this_first, _this_last) = _quarters(now)
    sales_teams = list(Team.objects.filter(name__in=["Sales North", "Sales South"]).order_by("pk"))
    marketing = Team.objects.get(name="Marketing")
    mqls = Handoff.objects.filter(
        created_at__date__gte=last_first, created_at__date__lte=last_last
    ).count()
    pipeline = Deal.objects.filter(status=DealStatus.OPEN).aggregate(total=Sum("amount"))
    for day, growth in ((last_first, Decimal("1.08")), (this_first, Decimal("1.15"))):
        won = _won(last_first, last_last)
        goals: list[tuple[str, Team | None, Decimal]] = [  # joint goals, then each team's
            ("revenue", None, _round(won * growth)),
            ("pipeline", None, _round((pipeline["total"] or Decimal(0)) * Decimal("1.2"))),
            ("mql", None, Decimal(max(10, round(mqls * float(growth))))),
            ("mql", marketing, Decimal(max(10, round(mqls * float(growth))))),
        ]
        for sales_team in sales_teams:
            won_by_team = _won(last_first, last_last, sales_team)
            goals.append(("revenue", sales_team, _round(won_by_team * growth)))
        for kind, team, target in goals:
            insights.goal_set(
                actor=head,
                kind=kind,
                period="quarter",
                day=day,
                team_id=team.pk if team else None,
                target=target,
            )


# (subject, opened by, summary, message, decision or "" to leave it open, outcome)
LEAD_QUALITY = [
    (
        "marketer",
        "Rejected as “no budget”, but they attended two webinars",
        "This lead came from the precision-tools webinar and asked for pricing. @{rep}, did"
        " anyone talk to them before rejecting?",
        "Sales rejected on the first call's information; marketing adds the budget question to"
        " the webinar form.",
        "dismissed",
    ),
    (
        "marketer.content",
        "A trade-show lead rejected without a call",
        "The lead was scanned at the AgroTech Expo booth and rejected the same day. @{rep}",
        "Both are right in part: the lead was thin, and sales calls every trade-show lead once"
        " before rejecting it.",
        "split",
    ),
    (
        "marketer",
        "Lead quality from LinkedIn this quarter",
        "Three LinkedIn leads rejected this month as not a fit. @{rep}, which profile are you"
        " missing?",
        "",
        "",
    ),
]


SUMMARIES = [
    *(row[1] for row in LEAD_QUALITY),
    "The field visit closed this deal, not the quote",
    "An MQL waiting past the acceptance deadline",
    "Accepted, then it turned out to be a student project",
    "I have worked this account since the trade show",
]


def delete_disputes() -> None:
    """The demo's own disputes, before a reset deletes the records they are about (there is no
    operation that deletes a dispute: only the demo's rows are removed, with their messages)."""
    Dispute.objects.filter(summary__in=SUMMARIES).delete()


def _at(moment: dt.datetime | None, days: float, now: dt.datetime) -> dt.datetime:
    base = moment or now - dt.timedelta(days=10)
    return min(base + dt.timedelta(days=days), now - dt.timedelta(hours=2))


def _decided_effects(
    people: dict[str, User],
    head: Actor,
    now: dt.datetime,
    opened: dict[int, dt.datetime],
    decided: dict[int, dt.datetime],
) -> None:
    """A lead-quality dispute upheld (the lead is recycled) and an ownership dispute upheld
    (the account goes to the rep who claimed it), so the cockpit shows decisions with effects."""
    handoff = (
        Handoff.objects.filter(status=HandoffStatus.CONTACTED, assigned_to__isnull=False)
        .exclude(contact__lifecycle_stage__in=["customer", "recycled", "disqualified"])
        .exclude(contact__stage_history__entered_at__gte=now - dt.timedelta(days=3))
        .select_related("contact", "assigned_to")
        .order_by("created_at", "id")
        .first()
    )
    if handoff is not None and handoff.assigned_to is not None:
        last_move = (
            StageHistory.objects.filter(contact=handoff.contact)
            .order_by("-entered_at")
            .values_list("entered_at", flat=True)
            .first()
        )
        when = _at(max(filter(None, [last_move, handoff.contacted_at])), 1, now)
        dispute = leads.disputes.dispute_open(
            actor=Actor(user=handoff.assigned_to),
            subject="lead_quality",
            target=handoff.contact,
            summary=SUMMARIES[5],
            body="No company behind this sign-up; please stop scoring student addresses.",
            at=when,
        )
        opened[dispute.pk] = when
        decided[dispute.pk] = min(when + dt.timedelta(hours=6), now - dt.timedelta(hours=1))
        leads.disputes.dispute_decide(
            actor=head,
            dispute=dispute,
            outcome="upheld",
            decision="Not a buyer: the lead goes back to nurture and counts against the campaign.",
            at=decided[dispute.pk],
        )
    account = (
        Account.objects.filter(owner__role=Role.SALES_REP, owner__is_active=True)
        .select_related("owner")
        .order_by("created_at", "id")
        .first()
    )
    reps = User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("username")
    if account is not None and account.owner_id is not None:
        reps = reps.exclude(pk=account.owner_id)
    claimant = reps.first()
    if account is not None and claimant is not None:
        when = now - dt.timedelta(days=6)
        dispute = leads.disputes.dispute_open(
            actor=Actor(user=claimant),
            subject="ownership",
            target=account,
            summary=SUMMARIES[6],
            body="They came to our booth and I have run every meeting since.",
            at=when,
        )
        opened[dispute.pk] = when
        decided[dispute.pk] = when + dt.timedelta(days=1)
        leads.disputes.dispute_decide(
            actor=head,
            dispute=dispute,
            outcome="upheld",
            decision="The account goes to the rep who has been working it.",
            new_owner=claimant,
            at=decided[dispute.pk],
        )


def open_disputes(people: dict[str, User], now: dt.datetime) -> None:
    """Three lead-quality disputes, one about credit for a deal and one about a hand-off, and
    two decided with an effect (a recycled lead, an account that changed hands); the credit for
    the deal is split between departments."""
    if Dispute.objects.filter(summary__in=SUMMARIES).exists():
        return
    head = Actor(user=people["head"])
    opened: dict[int, dt.datetime] = {}
    decided: dict[int, dt.datetime] = {}
    rejected = list(
        Handoff.objects.filter(status=HandoffStatus.REJECTED)
        .select_related("contact", "assigned_to")
        .order_by("-rejected_at", "id")[: len(LEAD_QUALITY)]
    )
    for handoff, (opener, summary, body, decision, outcome) in zip(
        rejected, LEAD_QUALITY, strict=False
    ):
        rep = handoff.assigned_to.username if handoff.assigned_to else "head"
        dispute = leads.disputes.dispute_open(
            actor=Actor(user=people[opener]),
            subject="lead_quality",
            target=handoff.contact,
            summary=summary,
            body=body.format(rep=rep),
            at=_at(handoff.rejected_at, 1, now),
        )
        opened[dispute.pk] = dispute.opened_at
        if decision:
            decided[dispute.pk] = _at(handoff.rejected_at, 4, now)
            leads.disputes.dispute_decide(
                actor=head,
                dispute=dispute,
                outcome=outcome,
                decision=decision,
                at=decided[dispute.pk],
            )
    won = (
        Deal.objects.filter(status=DealStatus.WON)
        .select_related("owner")
        .order_by("-closed_at", "id")
        .first()
    )
    if won is not None:
        when = _at(won.closed_at, 2, now)
        dispute = leads.disputes.dispute_open(
            actor=Actor(user=people["field"]),
            subject="deal_credit",
            target=won,
            summary=SUMMARIES[3],
            body=f"I visited them twice before they signed. @{won.owner.username if won.owner else 'head'}",  # noqa: E501
            at=when,
        )
        opened[dispute.pk] = when
        decided[dispute.pk] = min(when + dt.timedelta(days=2), now - dt.timedelta(hours=1))
        leads.disputes.dispute_decide(
            actor=head,
            dispute=dispute,
            outcome="split",
            decision="The visits and the quote both mattered: field and sales share the credit,"
            " marketing keeps a fifth for the first touch.",
            shares={"field": 0.4, "sales": 0.4, "marketing": 0.2},
            at=decided[dispute.pk],
        )
    _decided_effects(people, head, now, opened, decided)
    breached = (
        Handoff.objects.filter(status=HandoffStatus.PENDING, accept_due_at__lt=now)
        .select_related("assigned_to")
        .order_by("accept_due_at", "id")
        .first()
    )
    if breached is not None:
        dispute = leads.disputes.dispute_open(
            actor=Actor(user=people["marketer"]),
            subject="handoff",
            target=breached,
            summary=SUMMARIES[4],
            body="This lead asked for a demo and nobody has answered yet. @head",
            at=_at(breached.accept_due_at, 0.2, now),
        )
        opened[dispute.pk] = dispute.opened_at
        decided[dispute.pk] = _at(breached.accept_due_at, 0.5, now)
        leads.disputes.dispute_decide(
            actor=head,
            dispute=dispute,
            outcome="upheld",
            decision="Sales answers this lead today; the rep's queue is rebalanced.",
            at=decided[dispute.pk],
        )
    backdate(Dispute, "opened_at", opened)
    backdate(Dispute, "decided_at", decided)
    backdate(
        DisputeMessage,
        "created_at",
        {
            pk: opened[dispute_id] + dt.timedelta(minutes=5)
            for pk, dispute_id in DisputeMessage.objects.filter(
                dispute_id__in=list(opened)
            ).values_list("pk", "dispute_id")
        },
    )
