"""Journeys from the database: hand-built timelines with exact expected credits.

The timeline (T0 = 2026-03-01 12:00 UTC), account "Acme" (agriculture, owned by the north sales
rep) with contacts Ann and Bob, and Cid without an account:

    Ann  webinar        T0-200d  (outside a 90-day lookback)
    Ann  paid_search    T0-20d   campaign spring, content ad-1
    Ann  email          T0-10d   campaign spring, content newsletter-3
    Ann  display        T0-5d    bot-flagged: left out
    Bob  sales_call     T0-3d    by the north sales rep, department sales (offline touch)
    Cid  organic_search T0-2d
    deal "Acme deal" (contacts Ann, Bob; amount 1000) created T0-15d, won at T0

Deal events and lifecycle changes are on the timeline too but are bookkeeping, not touches.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import time_machine

from conftest import World
from tandem.attribution.engine import credit
from tandem.attribution.journeys import JourneySpec, build_journeys
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.sales import services as sales

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
START, END = T0 - dt.timedelta(days=30), T0 + dt.timedelta(days=1)


def days(n: float) -> dt.datetime:
    return T0 - dt.timedelta(days=n)


def build_timeline(world: World) -> dict[str, Any]:
    system = Actor.system()
    rep = world.user("sales_rep")
    acme = crm.account_create(actor=system, name="Acme", industry="agriculture", owner_id=rep.pk)
    ann = crm.contact_create(actor=system, first_name="Ann", account_id=acme.pk, owner_id=rep.pk)
    bob = crm.contact_create(actor=system, first_name="Bob", account_id=acme.pk, owner_id=rep.pk)
    cid = crm.contact_create(actor=system, first_name="Cid")
    tp = crm.touchpoint_record
    tp(
        channel="webinar",
        kind="webinar_attended",
        department="marketing",
        contact=ann,
        occurred_at=days(200),
    )
    tp(
        channel="paid_search",
        kind="ad_click",
        department="marketing",
        contact=ann,
        occurred_at=days(20),
        campaign="spring",
        content="ad-1",
    )
    tp(
        channel="email",
        kind="email_click",
        department="marketing",
        contact=ann,
        occurred_at=days(10),
        campaign="spring",
        content="newsletter-3",
    )
    tp(
        channel="display",
        kind="ad_click",
        department="marketing",
        contact=ann,
        occurred_at=days(5),
        is_bot=True,
    )
    tp(
        channel="sales_call",
        kind="call",
        department="sales",
        contact=bob,
        occurred_at=days(3),
        actor=rep,
    )
    tp(
        channel="organic_search",
        kind="page_view",
        department="marketing",
        contact=cid,
        occurred_at=days(2),
    )
    pipeline = sales.pipeline_create(
        actor=system,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    with time_machine.travel(days(15), tick=False):
        deal = sales.deal_create(
            actor=system,
            name="Acme deal",
            pipeline_id=pipeline.pk,
            owner_id=rep.pk,
            amount="1000",
            currency_code="EUR",
            contacts=[{"contact_id": ann.pk}, {"contact_id": bob.pk}],
        )
    with time_machine.travel(T0, tick=False):
        sales.deal_win(actor=system, deal=deal)
    return {"acme": acme, "ann": ann, "bob": bob, "cid": cid, "deal": deal, "rep": rep}


@pytest.fixture
def timeline(world: World) -> dict[str, Any]:
    return build_timeline(world)


def linear(user: Any, dimension: str = "channel", **spec: Any) -> dict[str, tuple[float, float]]:
    db = build_journeys(user, JourneySpec(start=START, end=END, **spec))
    res = credit(db.journeys(dimension), "linear")
    return {
        name: (round(float(c), 9), round(float(v), 6))
        for name, c, v in zip(res.channels, res.conversions, res.value, strict=True)
        if c or v
    }


def paths(user: Any, **spec: Any) -> list[tuple[str, float, float]]:
    db = build_journeys(user, JourneySpec(start=START, end=END, **spec))
    j = db.journeys()
    return sorted(
        (" > ".join(j.path(i)), float(j.conversions[i]), float(j.value[i]))
        for i in range(j.n_journeys)
    )


def test_contact_journeys_deal_won(world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    # The deal's first contact (Ann) converts; Bob and Cid touched without converting.
    assert paths(head) == [
        ("organic_search", 0.0, 0.0),
        ("paid_search > email", 1.0, 1000.0),
        ("sales_call", 0.0, 0.0),
    ]
    assert linear(head) == {"email": (0.5, 500.0), "paid_search": (0.5, 500.0)}


def test_account_journey_b2b(world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    assert paths(head, unit="account") == [
        ("organic_search", 0.0, 0.0),  # Cid, no account: his own journey
        ("paid_search > email > sales_call", 1.0, 1000.0),
    ]
    third = round(1 / 3, 9)
    assert linear(head, unit="account") == {
        "email": (third, 333.333333),
        "paid_search": (third, 333.333333),
        "sales_call": (third, 333.333333),
    }
    # Consecutive touches with one label collapse into one (marketing > marketing > sales is
    # marketing > sales): at department level, linear splits 50/50.
    assert linear(head, "department", unit="account") == {
        "marketing": (0.5, 500.0),
        "sales": (0.5, 500.0),
    }
    rep = timeline["rep"]
    assert linear(head, "person", unit="account") == {
        "(nobody)": (0.5, 500.0),
        rep.username: (0.5, 500.0),
    }
    assert linear(head, "campaign", unit="account") == {
        "(none)": (0.5, 500.0),
        "spring": (0.5, 500.0),
    }
    assert linear(head, "content", unit="account") == {
        "(none)": (third, 333.333333),
        "ad-1": (third, 333.333333),
        "newsletter-3": (third, 333.333333),
    }


def test_lookback_cut_off(world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    # 15 days before T0: paid_search (T0-20d) falls out.
    assert linear(head, unit="account", lookback_days=15) == {
        "email": (0.5, 500.0),
        "sales_call": (0.5, 500.0),
    }
    # 250 days: the webinar (T0-200d) comes in.
    assert paths(head, lookback_days=250)[2] == ("webinar > paid_search > email", 1.0, 1000.0)
    # No touch in the window: the conversion is counted but has no journey.
    db = build_journeys(head, JourneySpec(start=START, end=END, lookback_days=1))
    assert db.conversions_without_touches == 1
    assert db.conversions.sum() == 0


def test_bots_and_bookkeeping_left_out(world: World, timeline: dict[str, Any]) -> None:
    db = build_journeys(world.user("head"), JourneySpec(start=START, end=END, unit="account"))
    assert "display" not in db.labels["channel"]
    assert "sales" not in db.labels["channel"]  # deal events
    assert "lifecycle" not in db.labels["channel"]  # lifecycle changes
    assert db.labels["channel"] == ("email", "organic_search", "paid_search", "sales_call")


def test_conversion_definitions(world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    # Opportunity: the deal was created at T0-15d; only paid_search came before it.
    assert paths(head, unit="account", conversion="opportunity") == [
        ("organic_search", 0.0, 0.0),
        ("paid_search", 1.0, 1000.0),
    ]
    # Any event: Cid's page view converts (touches strictly before it: none).
    db = build_journeys(head, JourneySpec(start=START, end=END, conversion="event:email_click"))
    assert db.conversions_without_touches == 0
    j = db.journeys()
    assert sorted(
        (" > ".join(j.path(i)), float(j.conversions[i])) for i in range(j.n_journeys)
    ) == [("organic_search", 0.0), ("paid_search", 1.0), ("sales_call", 0.0)]


def test_mql_conversion(world: World, timeline: dict[str, Any]) -> None:
    from tandem.leads.services import lifecycle_move

    cid = Contact.objects.get(pk=timeline["cid"].pk)
    lifecycle_move(actor=Actor.system(), contact=cid, stage="mql", reason="scored", at=days(1))
    assert paths(world.user("head"), conversion="mql") == [
        ("organic_search", 1.0, 0.0),
        ("paid_search > email", 0.0, 0.0),  # Ann's deal is not an MQL conversion
        ("sales_call", 0.0, 0.0),
    ]


def test_segment_filters(world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    assert paths(head, unit="account", industry="agriculture") == [
        ("paid_search > email > sales_call", 1.0, 1000.0)
    ]
    assert paths(head, unit="account", industry="medical") == []
    team = timeline["rep"].team_id
    assert paths(head, team_id=team) == [
        ("paid_search > email", 1.0, 1000.0),
        ("sales_call", 0.0, 0.0),
    ]
    assert paths(head, unit="account", channels=("email", "sales_call")) == [
        ("email > sales_call", 1.0, 1000.0)
    ]


def test_scoped_to_what_the_user_sees(world: World, timeline: dict[str, Any]) -> None:
    # The north rep owns Acme and the deal, but not Cid.
    assert paths(world.user("sales_rep"), unit="account") == [
        ("paid_search > email > sales_call", 1.0, 1000.0)
    ]
    # The south rep sees none of it.
    assert paths(world.user("sales_rep", "south"), unit="account") == []
    # Anonymous: fails closed.
    from django.contrib.auth.models import AnonymousUser

    assert paths(AnonymousUser(), unit="account") == []


def test_timestamps_and_time_decay(world: World, timeline: dict[str, Any]) -> None:
    db = build_journeys(world.user("head"), JourneySpec(start=START, end=END, unit="account"))
    j = db.journeys()
    conv = int(np.flatnonzero(j.conversions)[0])
    assert j.timestamps is not None
    ts = j.timestamps[j.offsets[conv] : j.offsets[conv + 1]]
    assert list(ts) == [days(20).timestamp(), days(10).timestamp(), days(3).timestamp()]
    res = credit(j, "time-decay", half_life_days=7.0)
    w = np.array([2 ** (-17 / 7), 2 ** (-7 / 7), 1.0])
    expected = dict(zip(["paid_search", "email", "sales_call"], w / w.sum(), strict=True))
    got = res.conversions_by_channel()
    for name, share in expected.items():
        assert got[name] == pytest.approx(share, abs=1e-9)
