"""Routing by territory: the most specific territory wins (region and industry over region over
industry over the catch-all), its members are tried before the round robin, an inactive account
owner is passed over, and a month's bounds for the SLA report wrap the year."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tandem.leads import routing
from tandem.leads.models import RoutedBy, Territory
from tandem.leads.selectors import month_bounds

pytestmark = pytest.mark.django_db


@pytest.fixture
def territories(reps) -> dict[str, Territory]:
    north, south, east = reps
    made = {
        "catch_all": Territory.objects.create(name="Everything"),
        "medical": Territory.objects.create(name="Medical", industry="medical"),
        "west": Territory.objects.create(name="West", region="West"),
        "west_medical": Territory.objects.create(
            name="West medical", region="west", industry="medical"
        ),
    }
    made["catch_all"].members.set([north])
    made["medical"].members.set([south])
    made["west"].members.set([east])
    made["west_medical"].members.set([south])
    return made


@pytest.mark.parametrize(
    ("region", "industry", "expected"),
    [
        ("WEST", "medical", "west_medical"),
        ("west", "agriculture", "west"),
        ("north", "medical", "medical"),
        ("north", "agriculture", "catch_all"),
    ],
)
def test_the_most_specific_territory_wins(territories, region, industry, expected):
    found = routing._territory_for(region, industry)
    assert found == territories[expected]


def test_a_territory_member_is_chosen_before_the_round_robin(reps, territories, make_lead):
    north, south, east = reps
    lead = make_lead(region="west", industry="agriculture")
    route = routing.route(lead)
    assert (route.rep, route.routed_by, route.territory) == (
        east,
        RoutedBy.TERRITORY,
        territories["west"],
    )
    # east has one seat: the next western lead goes round robin, still naming the territory
    second = routing.route(make_lead(region="west", industry="agriculture"))
    assert second.routed_by == RoutedBy.ROUND_ROBIN
    assert second.rep in (north, south)
    assert second.territory == territories["west"]


def test_an_excluded_member_falls_through_to_the_others(reps, territories, make_lead):
    north, south, _east = reps
    lead = make_lead(region="north", industry="medical")
    route = routing.route(lead, exclude={south.pk})
    assert route.rep == north
    assert route.routed_by == RoutedBy.ROUND_ROBIN


def test_an_inactive_account_owner_is_passed_over(reps, make_lead):
    _north, south, _east = reps
    lead = make_lead(owner=south)
    assert routing.route(lead).routed_by == RoutedBy.ACCOUNT_OWNER
    south.is_active = False
    south.save(update_fields=["is_active"])
    lead.account.owner.refresh_from_db()
    route = routing.route(lead)
    assert route.rep is not None
    assert route.rep != south
    assert route.routed_by == RoutedBy.ROUND_ROBIN


def test_month_bounds_wrap_the_year_in_the_given_zone():
    moscow = ZoneInfo("Europe/Moscow")
    start, end = month_bounds(dt.date(2025, 12, 17), moscow)
    assert (start, end) == (
        dt.datetime(2025, 12, 1, tzinfo=moscow),
        dt.datetime(2026, 1, 1, tzinfo=moscow),
    )
    assert end - start == dt.timedelta(days=31)
    feb = month_bounds(dt.date(2024, 2, 29), dt.UTC)
    assert feb[1] - feb[0] == dt.timedelta(days=29)
