"""Hypothesis property tests: the invariants every model must keep."""

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.attribution.engine import Journeys, credit, exact_shapley
from tandem.attribution.engine.heuristics import WEIGHT_FUNCTIONS

NAMES = ["direct", "email", "paid", "social", "event"]
ALL_MODELS = [*WEIGHT_FUNCTIONS, "markov", "shapley", "simplified-shapley", "ordered-shapley"]
SETTINGS = settings(max_examples=25, deadline=None)

paths_st = st.lists(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=6), min_size=1, max_size=8
)


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[list[str]], list[int], list[float], list[int]]:
    paths = draw(paths_st)
    n = len(paths)
    conv = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    conv[0] = max(conv[0], 1)
    value = [c * draw(st.floats(1, 100)) for c in conv]
    nulls = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return paths, conv, value, nulls


def run(
    paths: list[list[str]],
    conv: list[int],
    value: list[float],
    nulls: list[int],
    model: str,
    channels: list[str] | None = None,
) -> dict[str, tuple[float, float]]:
    j = Journeys.from_sequences(paths, conv, value, nulls, channels=channels)
    r = credit(j, model)
    return {
        c: (float(a), float(b)) for c, a, b in zip(r.channels, r.conversions, r.value, strict=True)
    }


@SETTINGS
@given(datasets())
def test_credits_add_up_to_conversions_and_value(data) -> None:  # type: ignore[no-untyped-def]
    paths, conv, value, nulls = data
    for model in ALL_MODELS:
        out = run(paths, conv, value, nulls, model)
        assert math.isclose(sum(a for a, _ in out.values()), sum(conv), rel_tol=1e-9)
        assert math.isclose(sum(b for _, b in out.values()), sum(value), rel_tol=1e-9)
        assert all(a >= -1e-12 and b >= -1e-9 for a, b in out.values())


@SETTINGS
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=7), st.floats(1, 1000))
def test_each_conversion_credits_sum_to_its_value(path: list[str], value: float) -> None:
    for model in WEIGHT_FUNCTIONS:
        out = run([path], [1], [value], [0], model)
        assert math.isclose(sum(a for a, _ in out.values()), 1.0, rel_tol=1e-12)
        assert math.isclose(sum(b for _, b in out.values()), value, rel_tol=1e-12)


@SETTINGS
@given(datasets())
def test_channel_never_appearing_gets_nothing(data) -> None:  # type: ignore[no-untyped-def]
    paths, conv, value, nulls = data
    for model in ALL_MODELS:
        out = run(paths, conv, value, nulls, model, channels=["zz_unused"])
        assert out["zz_unused"] == (0.0, 0.0)


@SETTINGS
@given(datasets(), st.permutations(NAMES[1:]))
def test_relabelling_channels_permutes_credit(data, perm) -> None:  # type: ignore[no-untyped-def]
    # "direct" keeps its name: last-non-direct treats it specially
    paths, conv, value, nulls = data
    rename = dict(zip(NAMES, ["direct", *perm], strict=True))
    renamed = [[rename[c] for c in p] for p in paths]
    for model in ALL_MODELS:
        a = run(paths, conv, value, nulls, model)
        b = run(renamed, conv, value, nulls, model)
        for name, credit_pair in a.items():
            np.testing.assert_allclose(b[rename[name]], credit_pair, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(datasets())
def test_symmetric_channels_get_equal_credit(data) -> None:  # type: ignore[no-untyped-def]
    # add, for every journey, its mirror image with email <-> paid swapped
    paths, conv, value, nulls = data
    swap = {"email": "paid", "paid": "email"}
    mirrored = paths + [[swap.get(c, c) for c in p] for p in paths]
    for model in ALL_MODELS:
        out = run(mirrored, conv * 2, value * 2, nulls * 2, model)
        if "email" in out and "paid" in out:
            np.testing.assert_allclose(out["email"], out["paid"], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(datasets(), st.data())
def test_consecutive_repeats_change_nothing(data, extra) -> None:  # type: ignore[no-untyped-def]
    paths, conv, value, nulls = data
    repeated = []
    for p in paths:
        q: list[str] = []
        for c in p:
            q.extend([c] * extra.draw(st.integers(1, 3)))
        repeated.append(q)
    for model in ALL_MODELS:
        a = run(paths, conv, value, nulls, model)
        b = run(repeated, conv, value, nulls, model)
        for name in a:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(datasets(), st.randoms(use_true_random=False))
def test_touchpoint_rows_in_any_order_equal_aggregated_paths(data, rnd) -> None:  # type: ignore[no-untyped-def]
    # one touchpoint journey per conversion and per null; rows shuffled
    paths, conv, value, nulls = data
    rows = []
    jid = 0
    for p, c, v, n in zip(paths, conv, value, nulls, strict=True):
        for k in range(c + n):
            converted = 1 if k < c else 0
            for t, ch in enumerate(p):
                rows.append((jid, float(t), ch, converted, v / c if converted else 0.0))
            jid += 1
    rnd.shuffle(rows)
    jid_a, ts_a, ch_a, cv_a, val_a = zip(*rows, strict=True)
    touch = Journeys.from_touchpoints(jid_a, ts_a, ch_a, cv_a, val_a)
    agg = Journeys.from_sequences(paths, conv, value, nulls)
    for model in ALL_MODELS:
        if model == "time-decay":
            continue  # aggregated paths carry no timestamps
        # rows with no journeys (conv = null = 0) have no touchpoints: compare by name
        a, b = credit(agg, model), credit(touch, model)
        for name in a.channels:
            got_c = b.conversions_by_channel().get(name, 0.0)
            got_v = b.value_by_channel().get(name, 0.0)
            assert math.isclose(
                got_c, a.conversions_by_channel()[name], rel_tol=1e-9, abs_tol=1e-12
            )
            assert math.isclose(got_v, a.value_by_channel()[name], rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(datasets())
def test_aggregate_keeps_totals_and_results(data) -> None:  # type: ignore[no-untyped-def]
    paths, conv, value, nulls = data
    j = Journeys.from_sequences(paths, conv, value, nulls)
    agg, inverse = j.aggregate()
    assert agg.n_journeys == len({tuple(p) for p in paths})
    assert [agg.path(i) for i in inverse] == paths
    assert math.isclose(agg.nulls.sum(), sum(nulls))
    for model in ("linear", "markov", "shapley"):
        np.testing.assert_allclose(credit(agg, model).conversions, credit(j, model).conversions)


def brute_force_shapley(v: np.ndarray, n: int) -> np.ndarray:
    phi = np.zeros(n)
    for perm in itertools.permutations(range(n)):
        mask = 0
        for p in perm:
            phi[p] += v[mask | 1 << p] - v[mask]
            mask |= 1 << p
    return phi / math.factorial(n)


@SETTINGS
@given(st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_exact_shapley_axioms_on_random_games(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=1 << n)
    v[0] = 0.0
    phi = exact_shapley(v, n)
    np.testing.assert_allclose(phi, brute_force_shapley(v, n), atol=1e-12)
    assert math.isclose(phi.sum(), v[-1], abs_tol=1e-9)  # efficiency
    # null player: make player 0 add nothing anywhere
    w = v.copy()
    for mask in range(1 << n):
        if mask & 1:
            w[mask] = w[mask ^ 1]
    assert abs(exact_shapley(w, n)[0]) < 1e-12
    if n >= 2:  # symmetry: v depends on players 0 and 1 only through their count
        s = v.copy()
        for mask in range(1 << n):
            if (mask & 1) and not (mask & 2):
                s[mask] = s[mask ^ 1 ^ 2]
        phi_s = exact_shapley(s, n)
        assert math.isclose(phi_s[0], phi_s[1], abs_tol=1e-12)


@SETTINGS
@given(datasets())
def test_exact_and_simplified_shapley_agree(data) -> None:  # type: ignore[no-untyped-def]
    # the worth "conversions of journeys inside S" is a sum of unanimity games
    paths, conv, value, nulls = data
    a = run(paths, conv, value, nulls, "shapley")
    b = run(paths, conv, value, nulls, "simplified-shapley")
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-9, atol=1e-12)
