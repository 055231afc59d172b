"""The demo's field work: a quarter of completed visits that are the story's own field-visit
touchpoints, key accounts with plans, reps' bases and the coming days' plan; deterministic."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.crm.models import Touchpoint
from tandem.demo.services import demo_load
from tandem.field.models import RepBase, Visit, VisitPlan, VisitStatus
from tandem.field.selectors import coverage, day_route

NOW = timezone.now().replace(minute=0, second=0, microsecond=0)
pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _signature() -> list[tuple[str, str, str, str]]:
    return sorted(
        (v.account.name, v.planned_start.isoformat(), v.status, repr(v.report))
        for v in Visit.objects.select_related("account")
    )


def test_field_reps_have_a_quarter_of_visits_linked_to_their_touchpoints() -> None:
    demo_load(now=NOW)
    done = Visit.objects.filter(status=VisitStatus.DONE)
    assert done.count() > 15  # the small story has about four field visits per rep a quarter
    assert not done.filter(touchpoint__isnull=True).exists()
    assert set(done.values_list("touchpoint__channel", flat=True)) == {"field_visit"}
    assert done.filter(check_out_at__lt=NOW - dt.timedelta(days=92)).count() == 0
    assert not Touchpoint.objects.filter(kind="visit_completed").exists()  # none added
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


def test_the_field_work_is_the_same_for_the_same_seed() -> None:
    demo_load(now=NOW, seed=11)
    first = _signature()
    demo_load(now=NOW, seed=11, reset=True)
    assert _signature() == first
