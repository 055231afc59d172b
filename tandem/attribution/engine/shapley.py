"""Shapley-value attribution: exact over subsets, simplified and ordered (Zhao et al. 2018).

Players are channels; a journey "belongs" to coalition S when its set of distinct
channels is a subset of S. The worth ``v(S)`` is the conversions (or value) of the
journeys belonging to S. `exact_shapley` computes the Shapley value of *any* worth
vector indexed by bitmask, vectorised over all ``2**n`` subsets (n <= 20);
`shapley_credit` builds ``v`` with a zeta (subset-sum) transform of the per-set totals.

Because ``v`` is a sum of unanimity games (one per journey), its Shapley value is each
journey's value split equally over its distinct channels -- the closed form of Zhao,
Mahboobi & Bagheri (2018), `simplified_shapley_credit`, which works for any number of
channels. The two functions therefore agree (tested); the exact one is kept because it
accepts other worth functions and is checked against brute force over permutations.

`ordered_shapley_credit` (same paper, position-aware): in a journey whose distinct
channels, ordered by first touch, are ``c_1 .. c_m``, position ``k`` receives ``1/m`` of
the journey and that share goes to ``c_k``. Per-position credits are in
``extra["by_position"]`` (channels x positions); their row sums equal the simplified
Shapley credit.

Invariants: efficiency (credits sum to the total), symmetry, null player (a channel in
no journey gets 0); repeats of a channel within a journey change nothing.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from .journeys import FloatArray, IntArray, Journeys, weighted_count
from .result import AttributionResult

MAX_EXACT_PLAYERS = 20


def _popcount(n_bits: int) -> IntArray:
    counts = np.zeros(1 << n_bits, dtype=np.int64)
    for b in range(n_bits):
        counts[1 << b : 1 << (b + 1)] = counts[: 1 << b] + 1
    return counts


def zeta_transform(f: FloatArray, n_bits: int) -> FloatArray:
    """``g[S] = sum of f[T] for T subset of S`` (in a copy), for arrays of length 2**n."""
    g = np.array(f, dtype=np.float64, copy=True)
    for b in range(n_bits):
        view = g.reshape(-1, 2, 1 << b)
        view[:, 1, :] += view[:, 0, :]
    return g


def exact_shapley(worth: FloatArray, n_players: int) -> FloatArray:
    """Shapley values of the game ``worth[mask]`` (``worth[0]`` is ignored as v(empty))."""
    if n_players > MAX_EXACT_PLAYERS:
        raise ValueError(f"exact Shapley supports at most {MAX_EXACT_PLAYERS} players")
    if worth.shape[0] != 1 << n_players:
        raise ValueError("worth must have 2**n_players entries")
    n = n_players
    v = worth.astype(np.float64, copy=True)
    v[0] = 0.0
    size = _popcount(n)
    # weight of a coalition S (not containing i) of size s: s! (n - s - 1)! / n!
    coef = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i)
        sizes = size.reshape(-1, 2, 1 << i)[:, 0, :]
        phi[i] = float(np.sum(coef[sizes] * (view[:, 1, :] - view[:, 0, :])))
    return phi


def _channel_masks(j: Journeys) -> IntArray:
    bits = np.left_shift(np.int64(1), j.codes.astype(np.int64))
    return np.bitwise_or.reduceat(bits, j.offsets[:-1]) if j.n_journeys else bits[:0]


def shapley_credit(journeys: Journeys) -> AttributionResult:
    """Exact Shapley credit over all channel subsets (at most 20 channels)."""
    j = journeys
    n = j.n_channels
    if n > MAX_EXACT_PLAYERS:
        raise ValueError(
            f"exact Shapley supports at most {MAX_EXACT_PLAYERS} channels; "
            "use simplified_shapley_credit (same result for this worth function)"
        )
    masks = _channel_masks(j)
    results = []
    for weights in (j.conversions, j.value):
        per_set = weighted_count(masks, weights, 1 << n)
        results.append(exact_shapley(zeta_transform(per_set, n), n))
    return AttributionResult("shapley", j.channels, results[0], results[1])


def _distinct_first_touch(j: Journeys) -> tuple[IntArray, IntArray, IntArray]:
    """(journey, channel, rank by first touch) for every distinct channel of every journey."""
    tj = j.touch_journey()
    pair = tj * j.n_channels + j.codes
    _, first = np.unique(pair, return_index=True)  # sorted by (journey, channel)
    first = np.sort(first)  # back to touch order: (journey, first-touch position)
    dj = tj[first]
    counts = np.bincount(dj, minlength=j.n_journeys)
    starts = np.zeros(j.n_journeys, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rank = np.arange(first.shape[0]) - np.repeat(starts, counts)
    return dj, j.codes[first], rank


def simplified_shapley_credit(journeys: Journeys) -> AttributionResult:
    """Zhao et al.'s closed form: each journey's value split over its distinct channels."""
    j = journeys
    dj, ch, _ = _distinct_first_touch(j)
    m = np.bincount(dj, minlength=j.n_journeys).astype(np.float64)
    share = 1.0 / m[dj]
    n = j.n_channels
    conv = weighted_count(ch, share * j.conversions[dj], n)
    val = weighted_count(ch, share * j.value[dj], n)
    return AttributionResult("simplified-shapley", j.channels, conv, val)


def ordered_shapley_credit(journeys: Journeys) -> AttributionResult:
    """Position-aware Shapley (Zhao et al.): credit per channel and per first-touch rank."""
    j = journeys
    dj, ch, rank = _distinct_first_touch(j)
    m = np.bincount(dj, minlength=j.n_journeys).astype(np.float64)
    share = 1.0 / m[dj]
    n = j.n_channels
    n_pos = int(rank.max(initial=-1)) + 1
    cell = ch * max(n_pos, 1) + rank
    by_pos = weighted_count(cell, share * j.conversions[dj], n * max(n_pos, 1))
    by_pos_v = weighted_count(cell, share * j.value[dj], n * max(n_pos, 1))
    by_pos = by_pos.reshape(n, max(n_pos, 1))[:, :n_pos]
    by_pos_v = by_pos_v.reshape(n, max(n_pos, 1))[:, :n_pos]
    return AttributionResult(
        "ordered-shapley",
        j.channels,
        by_pos.sum(axis=1),
        by_pos_v.sum(axis=1),
        extra={"by_position": by_pos, "by_position_value": by_pos_v},
    )
