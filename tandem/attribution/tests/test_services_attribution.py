"""Attribution services: request building, result shape and totals, the demo planner."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tandem.attribution import services
from tandem.attribution.engine import Journeys, markov_credit
from tandem.core.demo import DemoContact, PlannedTouch
from tandem.core.errors import InvalidInput


def test_build_request_defaults_and_inclusive_end() -> None:
    spec, params = services.build_request(today=dt.date(2026, 3, 31), channels=[" b", "a", ""])
    assert spec.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert spec.end == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)  # 31 March counts
    assert spec.channels == ("a", "b")
    assert (spec.unit, spec.conversion, spec.lookback_days) == ("contact", "deal_won", 90)
    assert params.engine_params() == {"order": 1}


def test_build_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        services.build_request(
            model="x", order=9, n_boot=-1, level=2.0, lookback_days=999, conversion="event:"
        )
    assert set(exc.value.errors) == {
        "model",
        "order",
        "n_boot",
        "level",
        "lookback_days",
        "conversion",
    }


def test_run_key_depends_on_scope_version_and_params() -> None:
    spec, params = services.build_request(today=dt.date(2026, 3, 31))
    key = services.run_key("all", "v1", spec, params)
    assert key == services.run_key("all", "v1", spec, params)
    assert key != services.run_key("user:2", "v1", spec, params)
    assert key != services.run_key("all", "v2", spec, params)
    _, other = services.build_request(today=dt.date(2026, 3, 31), order=2)
    assert key != services.run_key("all", "v1", spec, other)


def test_parse_models() -> None:
    assert services.parse_models("last, first,last") == ("last", "first")
    with pytest.raises(InvalidInput):
        services.parse_models("first,magic")
    with pytest.raises(InvalidInput):
        services.parse_models(" , ")


def contacts() -> list[DemoContact]:
    stages = ["customer", "lead", "opportunity", "subscriber", "sql", "mql"] * 20
    return [
        DemoContact(lifecycle_stage=s, industry="agriculture", consent="granted") for s in stages
    ]


def test_demo_planner_is_deterministic_and_multi_channel() -> None:
    a = services.demo_planner(random.Random(7), contacts())
    b = services.demo_planner(random.Random(7), contacts())
    assert a == b
    assert all(isinstance(t, PlannedTouch) for t in a)
    assert {t.contact_index for t in a} == set(range(120))
    departments = {t.department for t in a}
    assert departments == {"marketing", "sales", "field", "self_service"}
    assert all(t.by_owner == (t.department in ("sales", "field")) for t in a)
    assert all(t.days_ago >= 1.0 for t in a)


def test_demo_planner_recovers_the_planted_leaders() -> None:
    cs = contacts()
    touches = services.demo_planner(random.Random(3), cs)
    converted = {i for i, c in enumerate(cs) if c.lifecycle_stage in services.CONVERTED_STAGES}
    j = Journeys.from_touchpoints(
        [t.contact_index for t in touches],
        [-t.days_ago for t in touches],
        [t.channel for t in touches],
        [1.0 if t.contact_index in converted else 0.0 for t in touches],
    )
    assert j.conversions.sum() == len(converted) == 60
    credit = markov_credit(j, 1).conversions_by_channel()
    ranked = sorted(credit, key=credit.__getitem__, reverse=True)
    assert "sales_call" in ranked[:3]
