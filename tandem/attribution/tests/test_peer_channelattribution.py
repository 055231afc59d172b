"""Agreement with the peer library channelattribution 2.2.5 (import ChannelAttribution).

Heuristics must match to 1e-9. The peer's markov_model estimates removal effects by
simulating walks: for one fold of ``n = nsim_start / nfold`` walks it reports
``RE_hat_c = (converting walks visiting c) / (converting walks)`` and credit
``RE_hat / sum(RE_hat) * total``. ``RE_hat_c`` is a binomial proportion over the
converting walks, so its standard error is ``sqrt(RE (1 - RE) / n_conv)`` with
``n_conv ~ p * n``; we assert agreement within 4 of those (using 0.9 * p * n walks, an
under-count, so the bound is conservative) and check the peer's credit is exactly its
normalised removal effects. ``max_step`` is raised so the peer's truncation of long walks
(counted as non-conversions) is negligible.
"""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from tandem.attribution.engine import Journeys, credit, heuristic_credit, markov_credit
from tandem.attribution.engine.simulate import default_scenario, simulate_journeys

with contextlib.redirect_stdout(io.StringIO()):  # the peer prints a banner on import
    from ChannelAttribution import heuristic_models, markov_model


def frame(j: Journeys) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": j.path_strings(),
            "total_conversions": j.conversions.astype(int),
            "total_conversion_value": j.value,
            "total_null": j.nulls.astype(int),
        }
    )


@pytest.fixture(scope="module")
def data() -> tuple[Journeys, Journeys]:
    sim = simulate_journeys(20_000, default_scenario(6), seed=21)
    raw = sim.paths()  # with consecutive repeats
    collapsed = raw.collapse_repeats().aggregate()[0]
    return raw, collapsed


def peer_heuristics(j: Journeys) -> pd.DataFrame:
    with contextlib.redirect_stdout(io.StringIO()):
        res = heuristic_models(
            frame(j), "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
        )
    return res.set_index("channel_name").loc[list(j.channels)]


@pytest.mark.parametrize("collapse_first", [False, True])
def test_heuristics_match_peer(data, collapse_first: bool) -> None:  # type: ignore[no-untyped-def]
    raw, collapsed = data
    # the peer counts every touch; with collapse=False Tandem does too
    j = collapsed if collapse_first else raw
    peer = peer_heuristics(j)
    for ours, theirs in (
        ("first", "first_touch"),
        ("last", "last_touch"),
        ("linear", "linear_touch"),
    ):
        r = heuristic_credit(j, ours, collapse=False)
        np.testing.assert_allclose(
            r.conversions, peer[f"{theirs}_conversions"], rtol=1e-9, atol=1e-9
        )
        np.testing.assert_allclose(r.value, peer[f"{theirs}_value"], rtol=1e-9, atol=1e-6)
    # on repeat-free paths Tandem's default (collapsing) model is the peer's
    np.testing.assert_allclose(
        credit(collapsed, "linear").conversions,
        peer_heuristics(collapsed)["linear_touch_conversions"],
        rtol=1e-9,
    )


@pytest.mark.parametrize("order", [1, 2])
def test_markov_matches_peer_within_sampling_error(data, order: int) -> None:  # type: ignore[no-untyped-def]
    _, j = data
    nsim, nfold = 2_000_000, 10
    with contextlib.redirect_stdout(io.StringIO()):
        peer = markov_model(
            frame(j),
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            order=order,
            nsim_start=nsim,
            max_step=1000,
            out_more=True,
            nfold=nfold,
            seed=7,
            verbose=False,
            flg_pro=False,
        )
    re_peer = peer["removal_effects"].set_index("channel_name").loc[list(j.channels)]
    credit_peer = peer["result"].set_index("channel_name").loc[list(j.channels)]
    ours = markov_credit(j, order=order)
    assert ours.removal_effects is not None
    p = float(ours.extra["conversion_probability"][0])
    n_conv = 0.9 * p * nsim / nfold
    se = np.sqrt(ours.removal_effects * (1 - ours.removal_effects) / n_conv)
    diff = np.abs(re_peer["removal_effects_conversion"].to_numpy() - ours.removal_effects)
    assert np.all(diff <= 4 * se + 1e-12), (diff, se)
    # the peer's credit is its removal effects normalised to the total
    re_hat = re_peer["removal_effects_conversion"].to_numpy()
    np.testing.assert_allclose(
        credit_peer["total_conversions"], re_hat / re_hat.sum() * j.conversions.sum(), rtol=1e-9
    )
    # and so agrees with ours to within the same relative error
    rel = np.abs(credit_peer["total_conversions"].to_numpy() - ours.conversions) / ours.conversions
    assert rel.max() < 8 * float((se / ours.removal_effects).max())
