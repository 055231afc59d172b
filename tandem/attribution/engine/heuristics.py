"""Rule-based models as per-touch weight functions, run by one engine.

Each weight function returns one weight per touch; the weights of one journey sum to 1
(invariant, tested), so the credits of one conversion sum to 1 and the value credits of
a journey sum to its value. `touch_credit` is the only group-by: it spreads each
journey's conversions and value over its touches with those weights.

Repeats: with ``collapse=True`` (the default) consecutive touches of one channel are
merged first (the run keeps its latest timestamp), so inserting a repeat next to a touch
of the same channel, or reordering input rows, changes nothing. With ``collapse=False``
every touch counts, which is what channelattribution's ``heuristic_models`` does (its
linear model gives ``a > a > b`` two thirds to ``a``).

Edge cases of the position models: when two roles fall on one touch (e.g. first = last
for a one-touch journey) that touch receives the sum of their shares; when a journey
has no touch outside the roles, the weights are renormalised to sum to 1 (so U-shaped
gives 50/50 for two touches).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from .journeys import FloatArray, IntArray, Journeys, weighted_count
from .result import AttributionResult

DAY = 86_400.0
WeightFn = Callable[..., FloatArray]


def _segment_sum(values: FloatArray, journeys: Journeys) -> FloatArray:
    return np.add.reduceat(values, journeys.offsets[:-1]) if journeys.n_journeys else values[:0]


def first_weights(j: Journeys) -> FloatArray:
    return (j.touch_position() == 0).astype(np.float64)


def last_weights(j: Journeys) -> FloatArray:
    w = np.zeros(j.codes.shape[0])
    w[j.offsets[1:] - 1] = 1.0
    return w


def last_non_direct_weights(j: Journeys, direct: Collection[str] = ("direct",)) -> FloatArray:
    """Last touch that is not a direct channel; all-direct journeys credit their last touch."""
    direct_codes = [i for i, name in enumerate(j.channels) if name in set(direct)]
    idx = np.arange(j.codes.shape[0], dtype=np.int64)
    candidate = np.where(np.isin(j.codes, direct_codes), -1, idx)
    best = np.maximum.reduceat(candidate, j.offsets[:-1]) if j.n_journeys else idx[:0]
    best = np.where(best < 0, j.offsets[1:] - 1, best)
    w = np.zeros(j.codes.shape[0])
    w[best] = 1.0
    return w


def linear_weights(j: Journeys) -> FloatArray:
    return 1.0 / np.repeat(j.lengths, j.lengths).astype(np.float64)


def time_decay_weights(j: Journeys, half_life_days: float = 7.0) -> FloatArray:
    """Weight ``2 ** (-age / half_life)``; age = time from the touch to the journey's last touch.

    Without timestamps touches are taken to be one day apart (age = touches to the end).
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    lengths = j.lengths
    if j.timestamps is None:
        age_days = (np.repeat(lengths, lengths) - 1 - j.touch_position()).astype(np.float64)
    else:
        end = np.repeat(j.timestamps[j.offsets[1:] - 1], lengths)
        age_days = (end - j.timestamps) / DAY
    raw = np.exp2(-age_days / half_life_days)
    return raw / np.repeat(_segment_sum(raw, j), lengths)


def _role_weights(j: Journeys, roles: list[tuple[IntArray, float]], rest: float) -> FloatArray:
    """Shares on role positions (per journey), ``rest`` spread over the other touches."""
    lengths = j.lengths
    starts = j.offsets[:-1]
    w = np.zeros(j.codes.shape[0])
    is_role = np.zeros(j.codes.shape[0], dtype=bool)
    for pos, share in roles:
        np.add.at(w, starts + pos, share)
        is_role[starts + pos] = True
    n_other = lengths - _segment_sum(is_role.astype(np.float64), j).astype(np.int64)
    per_other = np.where(n_other > 0, rest / np.maximum(n_other, 1), 0.0)
    w += np.where(is_role, 0.0, np.repeat(per_other, lengths))
    return w / np.repeat(_segment_sum(w, j), lengths)


def _milestone(j: Journeys, given: IntArray | None, default: IntArray) -> IntArray:
    if given is None:
        return default
    return np.where((given >= 0) & (given < j.lengths), given, default)


def position_weights(j: Journeys, first: float = 0.4, last: float = 0.4) -> FloatArray:
    """U-shaped: ``first`` and ``last`` shares, the rest spread over the middle touches."""
    rest = 1.0 - first - last
    if min(first, last, rest) < 0:
        raise ValueError("shares must be non-negative and sum to at most 1")
    return _role_weights(j, [(np.zeros_like(j.lengths), first), (j.lengths - 1, last)], rest)


def w_shaped_weights(
    j: Journeys, first: float = 0.3, lead: float = 0.3, last: float = 0.3
) -> FloatArray:
    """First, lead-creation (``lead_index`` or the middle touch ``len // 2``) and last touch."""
    rest = 1.0 - first - lead - last
    if min(first, lead, last, rest) < 0:
        raise ValueError("shares must be non-negative and sum to at most 1")
    lead_pos = _milestone(j, j.lead_index, j.lengths // 2)
    roles = [(np.zeros_like(j.lengths), first), (lead_pos, lead), (j.lengths - 1, last)]
    return _role_weights(j, roles, rest)


def full_path_weights(
    j: Journeys,
    first: float = 0.225,
    lead: float = 0.225,
    opportunity: float = 0.225,
    last: float = 0.225,
) -> FloatArray:
    """Z-shaped: adds the opportunity-creation touch (default ``(2 len - 1) // 3``)."""
    rest = 1.0 - first - lead - opportunity - last
    if min(first, lead, opportunity, last, rest) < -1e-12:
        raise ValueError("shares must be non-negative and sum to at most 1")
    n = j.lengths
    lead_pos = _milestone(j, j.lead_index, n // 3)
    opp_pos = _milestone(j, j.opportunity_index, (2 * n - 1) // 3)
    roles = [(np.zeros_like(n), first), (lead_pos, lead), (opp_pos, opportunity), (n - 1, last)]
    return _role_weights(j, roles, max(rest, 0.0))


WEIGHT_FUNCTIONS: dict[str, WeightFn] = {
    "first": first_weights,
    "last": last_weights,
    "last-non-direct": last_non_direct_weights,
    "linear": linear_weights,
    "time-decay": time_decay_weights,
    "position": position_weights,
    "w-shaped": w_shaped_weights,
    "full-path": full_path_weights,
}


def touch_credit(j: Journeys, weights: FloatArray, model: str) -> AttributionResult:
    """Spread each journey's conversions and value over its touches with ``weights``."""
    tj = j.touch_journey()
    n = j.n_channels
    conv = weighted_count(j.codes, weights * j.conversions[tj], n)
    val = weighted_count(j.codes, weights * j.value[tj], n)
    return AttributionResult(model=model, channels=j.channels, conversions=conv, value=val)


def heuristic_credit(
    journeys: Journeys, model: str, collapse: bool = True, **params: Any
) -> AttributionResult:
    """Credit of a rule-based model (`WEIGHT_FUNCTIONS` key) with its parameters."""
    try:
        fn = WEIGHT_FUNCTIONS[model]
    except KeyError:
        raise ValueError(f"unknown heuristic model {model!r}") from None
    j = journeys.collapse_repeats() if collapse else journeys
    return touch_credit(j, fn(j, **params), model)
