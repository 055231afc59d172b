"""Exact Markov-chain removal-effect attribution (order 1 to 3).

States of an order-k chain are the windows of k consecutive channels of the
repeat-collapsed path (a path shorter than k is one state of its own), plus
``(start)``, ``(conversion)`` and ``(null)``; this is how channelattribution builds its
higher-order chains. Transition counts weight each path by ``conversions + nulls``.

The conversion probability ``p`` from ``(start)`` solves ``(I - Q) x = r`` exactly
(dense LU for small chains, sparse LU otherwise) -- no random walks. Removing channel c
deletes every state containing c (transitions into them are lost), giving ``p_{-c}``;
the removal effect is ``RE_c = 1 - p_{-c} / p``, which equals the probability that a
converting walk visits c -- the quantity channelattribution estimates by simulation.

Credit: ``conversions_c = RE_c / sum(RE) * total conversions``. For value the reward of
converting from state s is the mean value per conversion of paths ending in s (as in
channelattribution, which draws the value from that state's empirical distribution);
``RE^v_c = 1 - w_{-c} / w`` with ``w`` the expected value per walk, and
``value_c = RE^v_c / sum(RE^v) * total value``. When all conversions carry the same value
this is exactly "removal-effect share x total value".

Invariants: credits sum to total conversions (value); a channel never seen gets 0;
relabelling channels permutes the credit; consecutive repeats and row order change
nothing (paths are collapsed and aggregated first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .journeys import FloatArray, IntArray, Journeys, weighted_count
from .result import AttributionResult

DENSE_LIMIT = 700


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Small solves run several times faster on one BLAS thread (no thread wake-ups)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _window_states(j: Journeys, order: int) -> tuple[IntArray, IntArray, IntArray, int]:
    """State id of every window, window offsets per path, and channels of each state.

    Returns ``(window_state, window_offsets, state_members, n_states)`` where
    ``state_members`` is a (n_states, order) array of channel codes (-1 padded).
    """
    if order == 1:  # windows are the touches themselves
        present = np.zeros(j.n_channels, dtype=bool)
        present[j.codes] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        return rank[j.codes], j.offsets, uniq.reshape(-1, 1).astype(np.int64), len(uniq)
    base = j.n_channels + 1
    if order * np.log2(base) > 62:
        raise ValueError("too many channels for this Markov order")
    lengths = j.lengths
    n_windows = np.maximum(lengths - order + 1, 1)
    w_off = np.zeros(j.n_journeys + 1, dtype=np.int64)
    np.cumsum(n_windows, out=w_off[1:])
    w_start = np.repeat(j.offsets[:-1] - w_off[:-1], n_windows) + np.arange(w_off[-1])
    w_len = np.repeat(np.minimum(lengths, order), n_windows)
    keys = np.zeros(w_off[-1], dtype=np.int64)
    for d in range(order):
        ok = w_len > d
        digit = np.where(ok, j.codes[np.minimum(w_start + d, j.codes.shape[0] - 1)] + 1, 0)
        keys = np.where(ok, keys * base + digit, keys)
    if base**order <= 4_000_000:  # dense key space: remap without sorting
        present = np.zeros(base**order, dtype=bool)
        present[keys] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        state = rank[keys]
        first = np.zeros(uniq.shape[0], dtype=np.int64)
        first[state] = np.arange(keys.shape[0])  # any window of a state has its members
    else:
        uniq, first, state = np.unique(keys, return_index=True, return_inverse=True)
    members = np.full((uniq.shape[0], order), -1, dtype=np.int64)
    for d in range(order):
        ok = w_len[first] > d
        members[ok, d] = j.codes[w_start[first][ok] + d]
    return state.reshape(-1).astype(np.int64), w_off, members, int(uniq.shape[0])


def _solve(
    rows: IntArray,
    cols: IntArray,
    probs: FloatArray,
    rhs: FloatArray,
    keep: NDArray[np.bool_],
    dense: bool,
) -> FloatArray:
    """Solve ``(I - Q) x = rhs`` restricted to states ``keep``; returns x at state 0."""
    idx = np.cumsum(keep) - 1
    sel = keep[rows] & keep[cols]
    n = int(keep.sum())
    r, c, p = idx[rows[sel]], idx[cols[sel]], probs[sel]
    b = rhs[keep]
    if dense:
        import scipy.linalg  # imported where needed: scipy costs ~0.3 s to import

        a = np.eye(n)
        np.add.at(a, (r, c), -p)
        x = scipy.linalg.solve(a, b, check_finite=False)
    else:
        import scipy.sparse
        import scipy.sparse.linalg

        a_sp = scipy.sparse.identity(n, format="csc") - scipy.sparse.csc_matrix(
            (p, (r, c)), shape=(n, n)
        )
        x = scipy.sparse.linalg.splu(a_sp).solve(b)
    return np.asarray(x[0], dtype=np.float64)


def _solve_dense_batch(
    rows: IntArray,
    cols: IntArray,
    probs: FloatArray,
    rhs: FloatArray,
    removed: NDArray[np.bool_],
) -> FloatArray:
    """x at state 0 of the full chain and of each removal, in one batched LU solve.

    Removing a set of states is the same as making them absorbing with reward 0: their rows
    of ``I - Q`` become identity rows and their right-hand sides 0, so ``x`` there is 0 and
    transitions into them add nothing. Returns ``(1 + removed.shape[1], 2)``.
    """
    n = rhs.shape[0]
    a = np.eye(n)
    np.add.at(a, (rows, cols), -probs)
    m = removed.shape[1]
    mats = np.broadcast_to(a, (m + 1, n, n)).copy()
    rhss = np.broadcast_to(rhs, (m + 1, n, rhs.shape[1])).copy()
    for k in range(m):
        gone = removed[:, k]
        mats[k + 1, gone, :] = 0.0
        mats[k + 1, gone, gone] = 1.0
        rhss[k + 1, gone, :] = 0.0
    x = np.linalg.solve(mats, rhss)
    return np.asarray(x[:, 0, :], dtype=np.float64)


def markov_credit(journeys: Journeys, order: int = 1) -> AttributionResult:
    """Exact removal-effect credit of an order-``order`` Markov chain."""
    if order < 1:
        raise ValueError("order must be >= 1")
    j = journeys.collapse_repeats()
    weight = j.conversions + j.nulls
    if np.any(weight <= 0):
        j = j.select(np.flatnonzero(weight > 0))
        weight = j.conversions + j.nulls
    n_ch = j.n_channels
    total_conv = float(j.conversions.sum())
    total_val = float(j.value.sum())
    zeros = np.zeros(n_ch)
    if total_conv <= 0:
        return AttributionResult(
            "markov", j.channels, zeros, zeros.copy(), zeros.copy(), zeros.copy()
        )

    win_state, w_off, members, n_states = _window_states(j, order)
    s = int(n_states) + 1  # transient states: 0 = start, 1.. = windows
    win_state += 1  # a fresh array from _window_states
    n_win = np.diff(w_off)
    first_win = w_off[:-1]
    last_win = w_off[1:] - 1
    # Every window is the target of exactly one transition: from the previous window of its
    # path, or from (start) for the first one. Weighted by its path's weight.
    w_weight = np.repeat(weight, n_win)
    prev = np.empty_like(win_state)
    prev[1:] = win_state[:-1]
    prev[first_win] = 0
    out = weighted_count(prev, w_weight, s)
    if s * s <= 4_000_000:
        prev *= s
        prev += win_state
        flat = weighted_count(prev, w_weight, s * s)
        nz = np.flatnonzero(flat)
        rows, cols, cnt = nz // s, nz % s, flat[nz]
    else:
        import scipy.sparse

        coo = scipy.sparse.coo_matrix((w_weight, (prev, win_state)), shape=(s, s)).tocsr().tocoo()
        rows, cols, cnt = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    del prev, w_weight
    end_state = win_state[last_win]
    out += weighted_count(end_state, weight, s)
    conv_to = weighted_count(end_state, j.conversions, s)
    val_to = weighted_count(end_state, j.value, s)
    probs = cnt / out[rows]
    rhs = np.column_stack([conv_to / np.maximum(out, 1e-300), val_to / np.maximum(out, 1e-300)])

    dense = s <= DENSE_LIMIT
    contains = np.zeros((s, n_ch), dtype=bool)
    for d in range(order):
        ok = members[:, d] >= 0
        contains[1:][ok, members[ok, d]] = True
    present = np.flatnonzero(contains.any(axis=0))
    re = np.zeros(n_ch)
    re_v = np.zeros(n_ch)
    if dense:
        with _one_blas_thread():
            solved = _solve_dense_batch(rows, cols, probs, rhs, contains[:, present])
        base, withouts = solved[0], solved[1:]
    else:
        base = _solve(rows, cols, probs, rhs, np.ones(s, dtype=bool), dense)
        withouts = np.array(
            [_solve(rows, cols, probs, rhs, ~contains[:, c], dense) for c in present]
        ).reshape(-1, 2)
    for k, c in enumerate(present):
        without = withouts[k]
        re[c] = 1.0 - without[0] / base[0]
        re_v[c] = 1.0 - without[1] / base[1] if base[1] != 0 else 0.0
    re = np.clip(re, 0.0, 1.0)
    re_v = np.clip(re_v, 0.0, 1.0)
    conv = re / re.sum() * total_conv if re.sum() > 0 else zeros.copy()
    val = re_v / re_v.sum() * total_val if re_v.sum() > 0 else zeros.copy()
    return AttributionResult(
        model="markov",
        channels=j.channels,
        conversions=conv,
        value=val,
        removal_effects=re,
        removal_effects_value=re_v,
        extra={"conversion_probability": np.array([base[0]])},
    )
