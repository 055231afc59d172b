"""Hand-worked examples for every model.

Data set E (aggregated paths; c > a > a > b collapses to c > a > b):

    path            conv  value  null
    a > b            1     10     0
    b > c            0      0     2
    a                1      5     1
    c > a > a > b    1      7     0
"""

import numpy as np
import pytest

from tandem.attribution.engine import (
    Journeys,
    credit,
    department_credit,
    heuristic_credit,
    markov_credit,
    ordered_shapley_credit,
    shapley_credit,
    simplified_shapley_credit,
)

DAY = 86_400.0


@pytest.fixture
def e() -> Journeys:
    return Journeys.from_paths(
        ["a > b", "b > c", "a", "c > a > a > b"], [1, 0, 1, 1], [10, 0, 5, 7], [0, 2, 1, 0]
    )


def test_first_touch(e: Journeys) -> None:
    # a starts rows 1 and 3 (conv 1 + 1, value 10 + 5); c starts row 4 (1, 7)
    r = credit(e, "first")
    assert r.conversions_by_channel() == {"a": 2.0, "b": 0.0, "c": 1.0}
    assert r.value_by_channel() == {"a": 15.0, "b": 0.0, "c": 7.0}


def test_last_touch(e: Journeys) -> None:
    # b ends rows 1 and 4 (values 10 + 7), a ends row 3 (value 5)
    r = credit(e, "last")
    assert r.conversions_by_channel() == {"a": 1.0, "b": 2.0, "c": 0.0}
    assert r.value_by_channel() == {"a": 5.0, "b": 17.0, "c": 0.0}


def test_linear(e: Journeys) -> None:
    # a: 1/2 + 1 + 1/3 = 11/6; b: 1/2 + 1/3 = 5/6; c: 1/3 (row 4 collapsed to 3 touches)
    r = credit(e, "linear")
    np.testing.assert_allclose(r.conversions, [11 / 6, 5 / 6, 1 / 3])
    # values: a 5 + 5 + 7/3, b 5 + 7/3, c 7/3
    np.testing.assert_allclose(r.value, [5 + 5 + 7 / 3, 5 + 7 / 3, 7 / 3])


def test_linear_without_collapse_counts_every_touch(e: Journeys) -> None:
    # row 4 uncollapsed has 4 touches: a gets 2/4, b 1/4, c 1/4
    r = heuristic_credit(e, "linear", collapse=False)
    np.testing.assert_allclose(r.conversions, [0.5 + 1 + 0.5, 0.5 + 0.25, 0.25])


def test_position_based(e: Journeys) -> None:
    # two touches: 50/50; one touch: 1; c > a > b: 0.4 / 0.2 / 0.4
    r = credit(e, "position")
    np.testing.assert_allclose(r.conversions, [0.5 + 1 + 0.2, 0.5 + 0.4, 0.4])
    # 30/20/50: c > a > b gives c .3, a .2, b .5; a > b renormalises .3/.5 to 3/8, 5/8
    r = credit(e, "position", first=0.3, last=0.5)
    np.testing.assert_allclose(r.conversions, [3 / 8 + 1 + 0.2, 5 / 8 + 0.5, 0.3])


def test_time_decay_with_timestamps() -> None:
    # touches at days 0, 7, 14, half-life 7: raw 1/4, 1/2, 1 -> 1/7, 2/7, 4/7
    j = Journeys.from_touchpoints(
        [1, 1, 1], [0.0, 7 * DAY, 14 * DAY], ["a", "b", "c"], [1, 1, 1], [70, 70, 70]
    )
    r = credit(j, "time-decay", half_life_days=7)
    np.testing.assert_allclose(r.conversions, [1 / 7, 2 / 7, 4 / 7])
    np.testing.assert_allclose(r.value, [10, 20, 40])


def test_time_decay_without_timestamps_uses_one_day_steps() -> None:
    # ages 2, 1, 0 days with half-life 1: raw 1/4, 1/2, 1
    j = Journeys.from_paths(["a > b > c"], [1])
    r = credit(j, "time-decay", half_life_days=1)
    np.testing.assert_allclose(r.conversions, [1 / 7, 2 / 7, 4 / 7])


def test_time_decay_repeat_keeps_latest_timestamp() -> None:
    # a at day 0 and day 7 form one run dated day 7; c at day 14 -> weights 1/2, 1 -> 1/3, 2/3
    j = Journeys.from_touchpoints(
        [1, 1, 1], [0.0, 7 * DAY, 14 * DAY], ["a", "a", "c"], [1, 1, 1], [0, 0, 0]
    )
    r = credit(j, "time-decay", half_life_days=7)
    np.testing.assert_allclose(r.conversions, [1 / 3, 2 / 3])


def test_w_shaped() -> None:
    # a b c d e: first a, lead = middle c, last e get 0.3; b and d share 0.1
    j = Journeys.from_paths(["a > b > c > d > e"], [1])
    np.testing.assert_allclose(credit(j, "w-shaped").conversions, [0.3, 0.05, 0.3, 0.05, 0.3])
    # lead-creation touch given as index 1 (b)
    j2 = Journeys.from_paths(["a > b > c > d > e"], [1])
    j2 = type(j2)(**{**j2.__dict__, "lead_index": np.array([1])})
    np.testing.assert_allclose(credit(j2, "w-shaped").conversions, [0.3, 0.3, 0.05, 0.05, 0.3])


def test_w_shaped_lead_index_follows_collapse() -> None:
    # raw a a b c d (lead at raw index 2 = b) collapses to a b c d, lead index 1; c gets 0.1
    j = Journeys.from_paths(["a > a > b > c > d"], [1])
    j = type(j)(**{**j.__dict__, "lead_index": np.array([2])})
    np.testing.assert_allclose(credit(j, "w-shaped").conversions, [0.3, 0.3, 0.1, 0.3])


def test_w_shaped_short_journeys_renormalise() -> None:
    # two touches: first 0.3, lead (middle = index 1 = last) 0.3 + last 0.3 -> 1/3, 2/3
    j = Journeys.from_paths(["a > b"], [1])
    np.testing.assert_allclose(credit(j, "w-shaped").conversions, [1 / 3, 2 / 3])


def test_full_path() -> None:
    # six touches: first 0, lead 6 // 3 = 2, opportunity 11 // 3 = 3, last 5 get 0.225;
    # touches 1 and 4 share 0.1
    j = Journeys.from_paths(["a > b > c > d > e > f"], [1])
    np.testing.assert_allclose(
        credit(j, "full-path").conversions, [0.225, 0.05, 0.225, 0.225, 0.05, 0.225]
    )


def test_last_non_direct() -> None:
    # a > b > direct: b; direct > direct: direct (nothing else); x > home with home direct
    j = Journeys.from_paths(["a > b > direct", "direct > direct", "x > home"], [1, 1, 1])
    r = credit(j, "last-non-direct")
    assert r.conversions_by_channel() == {"a": 0, "b": 1, "direct": 1, "home": 1, "x": 0}
    r = credit(j, "last-non-direct", direct={"direct", "home"})
    assert r.conversions_by_channel() == {"a": 0, "b": 1, "direct": 1, "home": 0, "x": 1}


def test_markov_order1_hand_worked(e: Journeys) -> None:
    # transitions (weight conv + null): start->a 3, start->b 2, start->c 1; a->b 2,
    # a->conv 1, a->null 1; b->conv 2, b->c 2; c->null 2, c->a 1.
    # x_a = x_b/2 + 1/4, x_b = 1/2 + x_c/2, x_c = x_a/3 -> x_a = 6/11, x_b = 13/22,
    # x_c = 2/11, p = (3 x_a + 2 x_b + x_c) / 6 = 1/2.
    # without a: p = 1/6 -> RE 2/3; without b: 5/36 -> 13/18; without c: 5/12 -> 1/6.
    r = markov_credit(e, order=1)
    np.testing.assert_allclose(r.removal_effects, [2 / 3, 13 / 18, 1 / 6])
    # credit = RE / sum(RE) * 3 = (12, 13, 3) / 28 * 3
    np.testing.assert_allclose(r.conversions, np.array([12, 13, 3]) / 28 * 3)
    # value reward: mean value per conversion of paths ending in a (5) and b (17/2);
    # expected value per walk 11/3 (= 22 / 6 journeys); without a: 17/12 -> RE 27/44
    assert r.removal_effects_value is not None
    assert r.removal_effects_value[0] == pytest.approx(27 / 44)
    assert r.value.sum() == pytest.approx(22.0)


def test_markov_order2_hand_worked(e: Journeys) -> None:
    # order-2 states: (a,b), (b,c), (a), (c,a); c > a > b is (c,a) -> (a,b).
    # start->(a,b) 1, (b,c) 2, (a) 2, (c,a) 1; (a,b)->conv 2 of 2; (b,c)->null;
    # (a)->conv 1/2; (c,a)->(a,b). p = (1 + 0 + 1 + 1) / 6 = 1/2.
    # without a: only (b,c) survives -> p 0, RE 1; without b: (a), (c,a)x0 -> p = 1/6,
    # RE 2/3; without c: (a,b), (a) -> p = 2/6, RE 1/3.
    r = markov_credit(e, order=2)
    np.testing.assert_allclose(r.removal_effects, [1, 2 / 3, 1 / 3])
    np.testing.assert_allclose(r.conversions, [1.5, 1.0, 0.5])


def test_shapley_family(e: Journeys) -> None:
    # distinct sets {a,b}:1, {b,c}:0, {a}:1, {a,b,c}:1 -> a 1/2 + 1 + 1/3, b 1/2 + 1/3, c 1/3
    expected = [11 / 6, 5 / 6, 1 / 3]
    for fn in (shapley_credit, simplified_shapley_credit, ordered_shapley_credit):
        np.testing.assert_allclose(fn(e.collapse_repeats()).conversions, expected)
    by_pos = ordered_shapley_credit(e).extra["by_position"]
    # c > a > b puts 1/3 on positions 1, 2, 3; a > b: a pos 1, b pos 2; a: pos 1
    np.testing.assert_allclose(by_pos, [[1.5, 1 / 3, 0], [0, 0.5, 1 / 3], [1 / 3, 0, 0]])


def test_shapley_ignores_non_consecutive_repeats_linear_does_not() -> None:
    # a > b > a: Shapley splits 1/2, 1/2 over the set {a, b}; linear gives a 2/3
    j = Journeys.from_paths(["a > b > a"], [1])
    np.testing.assert_allclose(credit(j, "shapley").conversions, [0.5, 0.5])
    np.testing.assert_allclose(credit(j, "linear").conversions, [2 / 3, 1 / 3])


def test_department_level() -> None:
    # paid > email > sales_call: departments marketing > marketing > sales collapse to
    # marketing > sales; linear gives each half of the conversion
    j = Journeys.from_paths(["paid > email > sales_call", "event"], [1, 1], [100, 50])
    depts = {"paid": "marketing", "email": "marketing", "sales_call": "sales", "event": "field"}
    r = department_credit(j, depts, "linear")
    assert r.conversions_by_channel() == {"field": 1.0, "marketing": 0.5, "sales": 0.5}
    assert r.value_by_channel() == {"field": 50.0, "marketing": 50.0, "sales": 50.0}
    r = department_credit(j, {"event": "field"}, "first", default="self-service")
    assert r.conversions_by_channel() == {"field": 1.0, "self-service": 1.0}


def test_unknown_model_is_rejected(e: Journeys) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        credit(e, "best-guess")
