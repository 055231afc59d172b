"""The demo planner from the attribution simulator: deterministic, every department, and
attribution over its timeline recovers the channels the simulator favours."""

from __future__ import annotations

import random

from tandem.attribution.engine import Journeys, markov_credit
from tandem.demo.journeys import CONVERTED_STAGES, simulated_planner
from tandem.demo.timeline import DemoContact, PlannedTouch


def contacts() -> list[DemoContact]:
    stages = ["customer", "lead", "opportunity", "subscriber", "sql", "mql"] * 20
    return [
        DemoContact(lifecycle_stage=s, industry="agriculture", consent="granted") for s in stages
    ]


def test_the_simulated_planner_is_deterministic_and_multi_channel() -> None:
    a = simulated_planner(random.Random(7), contacts())
    b = simulated_planner(random.Random(7), contacts())
    assert a == b
    assert all(isinstance(t, PlannedTouch) for t in a)
    assert {t.contact_index for t in a} == set(range(120))
    departments = {t.department for t in a}
    assert departments == {"marketing", "sales", "field", "self_service"}
    assert all(t.by_owner == (t.department in ("sales", "field")) for t in a)
    assert all(t.days_ago >= 1.0 for t in a)


def test_attribution_over_the_simulated_timeline_recovers_the_planted_leaders() -> None:
    cs = contacts()
    touches = simulated_planner(random.Random(3), cs)
    converted = {i for i, c in enumerate(cs) if c.lifecycle_stage in CONVERTED_STAGES}
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
