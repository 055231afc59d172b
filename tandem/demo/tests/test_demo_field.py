"""The demo's field work: a quarter of visits (the story's own field-visit touchpoints, and each
rep's round up to 3-5 visits a week, checked out with their field touchpoints), key accounts with
plans, reps' bases and the coming days' plan; causal (deterministic: the visits are part of the
digest of tandem/demo/tests/test_demo_load.py's same-seed test)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from tandem.crm.models import Touchpoint
from tandem.demo.services import demo_load
from tandem.field.models import RepBase, Visit, VisitPlan, VisitStatus
from tandem.field.selectors import coverage, day_route

NOW = timezone.now().replace(minute=0, second=0, microsecond=0)
# one demo load on PostgreSQL is enough: test_demo_load's causal-order test (the bulk paths)
pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.sqlite_leg_only]


def test_field_reps_have_a_quarter_of_visits_linked_to_their_touchpoints() -> None:
    demo_load(now=NOW)
    done = Visit.objects.filter(status=VisitStatus.DONE)
    # a quarter: 3-5 visits a week per field rep (13 weeks, a few called off)
    per_rep = Counter(done.values_list("rep_id", flat=True))
    assert len(per_rep) == 6
    assert all(30 <= n <= 70 for n in per_rep.values()), per_rep
    assert Visit.objects.filter(status=VisitStatus.CANCELLED, planned_end__lt=NOW).exists()
    assert not done.filter(touchpoint__isnull=True).exists()
    assert set(done.values_list("touchpoint__channel", flat=True)) == {"field_visit"}
    assert done.filter(check_out_at__lt=NOW - dt.timedelta(days=92)).count() == 0
    # causal: done before now, planned after it; the rounds' touches are on the account only
    assert not done.filter(check_out_at__gt=NOW).exists()
    assert not Visit.objects.filter(status=VisitStatus.PLANNED, planned_start__lte=NOW).exists()
    rounds = Touchpoint.objects.filter(kind="visit_completed")
    assert rounds.count() == done.filter(touchpoint__kind="visit_completed").count() > 0
    assert not rounds.filter(contact__isnull=False).exists()
    assert set(rounds.values_list("department", "source").distinct()) == {("field", "field")}
    assert set(done.values_list("rep__role", flat=True)) == {"field_rep"}
    industries = set(done.values_list("industry", flat=True))
    assert industries == {"agriculture", "medical", "electronics"}
    assert all(v.report for v in done.exclude(industry="other"))
    assert VisitPlan.objects.values("rep").distinct().count() == 6
    assert RepBase.objects.count() == 6
    rows = coverage()
    assert any(row.due for row in rows)
    assert any(not row.due for row in rows)
    planned = Visit.objects.filter(status=VisitStatus.PLANNED)
    assert planned.exists()
    first = planned.order_by("planned_start").first()
    assert first is not None
    local_day = timezone.localtime(first.planned_start).date()
    route = day_route(Visit.objects.all(), first.rep_id, local_day)
    assert route is not None
    assert route.ordered_km <= route.entered_km
