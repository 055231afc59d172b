"""The demo's story as planned (no database): deterministic by seed, causal, and sized."""

from __future__ import annotations

import datetime as dt

from tandem.demo.organisation import FIELD_BY_INDUSTRY, SALES_BY_REGION
from tandem.demo.story import PLANTED, Story, plan_story

NOW = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
PRODUCTS = {"agriculture": [0, 1, 2], "medical": [3, 4, 5], "electronics": [6, 7, 8]}


def plan(seed: int = 7, size: str = "small") -> Story:
    return plan_story(
        seed=seed,
        size=size,
        now=NOW,
        reps=SALES_BY_REGION,
        field_reps=FIELD_BY_INDUSTRY,
        products=PRODUCTS,
    )


def test_the_same_seed_plans_the_same_story_and_another_seed_another() -> None:
    assert plan(7) == plan(7)
    assert plan(7).contacts != plan(8).contacts


def test_every_journey_is_in_causal_order_and_before_now() -> None:
    story = plan()
    for journey in story.journeys:
        contact = story.contacts[journey.contact]
        times = [t.at for t in journey.touches]
        assert times == sorted(times)
        assert all(contact.created_at < t < NOW for t in times)
        if journey.mql_at is not None:
            assert times
            assert times[-1] < journey.mql_at < NOW
        if journey.deal_after_days is not None:
            assert journey.sql_after_days is not None
            assert 0 < journey.sql_after_days < journey.deal_after_days
            assert journey.quote_after_days is not None
            assert journey.negotiate_after_days is not None
            assert journey.close_after_days is not None
            assert journey.quote_after_days < journey.negotiate_after_days
            assert journey.negotiate_after_days < journey.close_after_days
            assert all(days > 0 for days, _channel in journey.later)
    # the planted channels are the only channels before a hand-off, strongest first
    effects = [c.effect for c in PLANTED]
    assert effects == sorted(effects, reverse=True)
    assert {t.channel for j in story.journeys for t in j.touches} == set(PLANTED)


def test_the_small_story_has_every_kind_of_ending() -> None:
    story = plan()
    assert len(story.accounts) == 100
    assert 500 < len(story.contacts) < 700
    ends = [j for j in story.journeys if j.mql_at is not None]
    assert any(j.rejected and j.rejected[1] == "recycle" for j in ends)
    assert any(j.rejected and j.rejected[1] == "disqualify" for j in ends)
    assert any(j.answer and j.answer.never for j in ends)  # open hand-offs, late now
    assert any(j.first_contact and j.first_contact.never for j in ends)
    outcomes = {j.outcome for j in ends if j.deal_after_days is not None}
    assert outcomes == {"won", "won_online", "lost"}
    assert {c.consent for c in story.contacts} == {"granted", "pending", "unknown", "withdrawn"}


def test_the_large_story_has_about_five_thousand_accounts_and_fifty_thousand_contacts() -> None:
    story = plan(size="large")
    assert len(story.accounts) == 5000
    assert 45_000 < len(story.contacts) < 55_000
