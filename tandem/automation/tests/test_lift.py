"""The lift report compares treated and held-out contacts by the same rule, with an interval,
and says when the sample is too small to tell."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import World
from tandem.automation import lift, services
from tandem.automation.graph import linear
from tandem.automation.lift import Group, compare
from tandem.core.audit import Actor
from tandem.crm import services as crm


def test_a_clear_difference_on_large_groups_is_a_lift_with_an_interval_around_it() -> None:
    result = compare(Group(1000, 200, [100.0] * 200), Group(1000, 100, [100.0] * 100))
    assert result.verdict == "lift"
    assert result.rate_difference == pytest.approx(0.10)
    low, high = result.rate_interval
    assert low == pytest.approx(0.10 - 1.959964 * (0.2 * 0.8 / 1000 + 0.1 * 0.9 / 1000) ** 0.5)
    assert 0 < low < 0.10 < high
    assert result.revenue_difference == pytest.approx(10.0)


def test_small_groups_are_too_small_to_tell_and_equal_groups_show_no_difference() -> None:
    assert compare(Group(12, 6, []), Group(10, 1, [])).verdict == "too_small"
    assert compare(Group(500, 50, []), Group(500, 50, [])).verdict == "no_difference"
    assert compare(Group(500, 10, []), Group(500, 60, [])).verdict == "harm"


def test_the_report_of_a_flow_counts_goals_in_the_window_for_both_groups(world: World) -> None:
    marketer = Actor(user=world.user("marketer"))
    graph = linear(
        {"kind": "manual"},
        [("goal", {})],
        goal={"kind": "touchpoint", "touchpoint_kind": "demo_booked", "window_days": 30},
    )
    flow = services.flow_create(actor=marketer, name="Demo", graph=graph, holdout_percent=50)
    services.flow_publish(actor=marketer, flow=flow)
    flow.refresh_from_db()
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    held = treated = 0
    for i in range(40):
        contact = crm.contact_create(actor=Actor.system(), first_name=f"C{i}")
        services.enrol(flow=flow, contact_id=contact.pk, trigger_key="k", now=start)
        if services.holds_out(flow, contact.pk):
            held += 1
            continue
        treated += 1
        # half the treated book a demo in the window, one more after it (not counted)
        days = 3 if treated % 2 else 45 if treated == 2 else 0
        if days:
            crm.touchpoint_record(
                channel="web",
                kind="demo_booked",
                department="marketing",
                contact=contact,
                occurred_at=start + dt.timedelta(days=days),
            )
    report = lift.flow_lift(flow, now=start + dt.timedelta(days=60))
    assert report.treated.contacts == treated
    assert report.held_out.contacts == held
    assert report.treated.conversions == (treated + 1) // 2
    assert report.held_out.conversions == 0
    assert report.verdict == "too_small"  # 40 people split in two: under 30 a side


def test_the_cockpit_shows_each_flow_with_a_holdout_beside_attribution(world: World) -> None:
    from django.test import Client
    from django.urls import reverse

    marketer = Actor(user=world.user("marketer"))
    flow = services.flow_create(
        actor=marketer, name="Nurture", graph=linear({"kind": "manual"}, [("goal", {})]),
        holdout_percent=10,
    )  # fmt: skip
    services.flow_publish(actor=marketer, flow=flow)
    services.flow_create(
        actor=marketer, name="No holdout", graph=linear({"kind": "manual"}, [("goal", {})])
    )
    client = Client()
    client.force_login(world.user("head"))
    page = client.get(reverse("insights:cockpit")).content.decode()
    assert 'id="automation-lift"' in page
    assert "Nurture" in page
    assert "No holdout" not in page
    assert "Too small to tell" in page
