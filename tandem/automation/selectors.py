"""Reads of the automation pages and API: per-step counts, enrolment lists, history."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from tandem.automation.lift import Lift, flow_lift
from tandem.automation.models import Enrolment, EnrolmentStatus, Flow, FlowStatus, StepRun
from tandem.core.access import scoped
from tandem.crm.models import Contact


def step_counts(flow: Flow) -> dict[str, tuple[int, int]]:
    """Per step id: how many enrolments (test ones excluded) ran it, and how many of those
    reached the flow's goal (the step's conversion)."""
    rows = (
        StepRun.objects.filter(enrolment__flow=flow, enrolment__is_test=False)
        .values("node")
        .annotate(
            entered=Count("enrolment", distinct=True),
            converted=Count("enrolment", distinct=True, filter=Q(enrolment__goal_at__isnull=False)),
        )
    )
    return {r["node"]: (int(r["entered"]), int(r["converted"])) for r in rows}


def status_counts(flow: Flow) -> dict[str, int]:
    rows = Enrolment.objects.filter(flow=flow).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(EnrolmentStatus.values, 0)
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts


def enrolments_for(user: object, flow: Flow) -> QuerySet[Enrolment]:
    """The flow's enrolments of contacts the user may see, newest first."""
    return (
        Enrolment.objects.filter(flow=flow, contact__in=scoped(user, Contact))
        .select_related("contact", "version")
        .order_by("-enrolled_at", "-id")
    )


def cockpit_lift(limit: int = 5) -> list[tuple[Flow, Lift]]:
    """The lift report of each active flow with a holdout (the cockpit's causal answer, beside
    attribution's credit), newest flows first."""
    flows = (
        Flow.objects.filter(status=FlowStatus.ACTIVE, holdout_percent__gt=0)
        .select_related("live_version")
        .order_by("-created_at", "-id")[:limit]
    )
    return [(flow, flow_lift(flow)) for flow in flows]
