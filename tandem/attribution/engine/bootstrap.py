"""Bootstrap confidence intervals for credit shares.

Resampling unit: one journey outcome. Row i of the journeys stands for
``conversions[i]`` converting and ``nulls[i]`` non-converting journeys with its path
(for touchpoint input that is exactly one journey per row). A replicate draws
``N = sum(conversions + nulls)`` units with one multinomial draw over the ``2 * rows``
categories, gives converting units the row's mean value per conversion, and reruns the
model. Linear models (heuristics and the Shapley family) are evaluated for all
replicates at once as a sparse matrix product; Markov is re-solved per replicate.

The interval is the percentile interval of the shares (credit / total credit).
`shares_differ` answers whether two channels' (or departments') shares differ: the
percentile interval of the per-replicate difference excludes 0.

Invariants: the same seed gives the same intervals; the point estimate is the share on
the original data; ``lower <= upper``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .heuristics import WEIGHT_FUNCTIONS
from .journeys import FloatArray, Journeys
from .models import credit

if TYPE_CHECKING:
    import scipy.sparse

LINEAR_MODELS = (*WEIGHT_FUNCTIONS, "shapley", "simplified-shapley", "ordered-shapley")


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    model: str
    channels: tuple[str, ...]
    target: str
    level: float
    share: FloatArray
    lower: FloatArray
    upper: FloatArray
    samples: FloatArray  # (n_boot, n_channels) shares per replicate

    def interval(self, channel: str) -> tuple[float, float]:
        i = self.channels.index(channel)
        return float(self.lower[i]), float(self.upper[i])


@dataclass(frozen=True)
class ShareDifference:
    a: str
    b: str
    estimate: float
    lower: float
    upper: float

    @property
    def differs(self) -> bool:
        return self.lower > 0 or self.upper < 0


def _shares(credit_matrix: FloatArray) -> FloatArray:
    totals = credit_matrix.sum(axis=-1, keepdims=True)
    safe = np.where(totals == 0, 1.0, totals)
    return np.where(totals == 0, 0.0, credit_matrix / safe)


def _per_row_fractions(journeys: Journeys, model: str, **params: Any) -> scipy.sparse.csr_matrix:
    """(rows x channels) fraction of one unit of each row credited to each channel."""
    unit = journeys.with_weights(
        np.ones(journeys.n_journeys), np.ones(journeys.n_journeys), np.zeros(journeys.n_journeys)
    )
    n = journeys.n_journeys
    if model in WEIGHT_FUNCTIONS:
        collapse = params.pop("collapse", True)
        j = unit.collapse_repeats() if collapse else unit
        w = WEIGHT_FUNCTIONS[model](j, **params)
        rows, cols, vals = j.touch_journey(), j.codes, w
    else:
        j = unit.collapse_repeats()
        tj = j.touch_journey()
        pair = np.unique(tj * j.n_channels + j.codes)
        rows, cols = pair // j.n_channels, pair % j.n_channels
        m = np.bincount(rows, minlength=n).astype(np.float64)
        vals = 1.0 / m[rows]
    import scipy.sparse  # imported where needed: scipy costs ~0.3 s to import

    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n, journeys.n_channels))


def bootstrap_credit(
    journeys: Journeys,
    model: str,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | None = 0,
    target: str = "conversions",
    progress: Callable[[int], None] | None = None,
    **params: Any,
) -> BootstrapResult:
    """Percentile bootstrap interval of each channel's credit share under ``model``.

    ``progress``, if given, is called with the number of replicates done so far as they are
    done (after each block of replicates for the linear models, after each one for Markov)."""
    if target not in ("conversions", "value"):
        raise ValueError("target must be 'conversions' or 'value'")
    j = journeys
    if j.timestamps is None and j.lead_index is None and j.opportunity_index is None:
        j, _ = j.collapse_repeats().aggregate()
    rng = np.random.default_rng(seed)
    conv, nulls = j.conversions, j.nulls
    mean_value = np.divide(j.value, conv, out=np.zeros_like(conv), where=conv > 0)
    counts = np.concatenate([conv, nulls])
    total = round(counts.sum())
    probs = counts / counts.sum()
    point = credit(j, model, **params)
    point_share = point.shares(target)
    samples = np.empty((n_boot, j.n_channels))
    if model in LINEAR_MODELS:
        fractions = _per_row_fractions(j, model, **dict(params)).T.tocsr()
        chunk = max(1, 4_000_000 // max(1, probs.shape[0]))
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            draws = rng.multinomial(total, probs, size=size).T.astype(np.float64)
            rows_conv = draws[: j.n_journeys]
            weight = rows_conv if target == "conversions" else rows_conv * mean_value[:, None]
            samples[start : start + size] = _shares(np.asarray(fractions @ weight).T)
            if progress is not None:
                progress(start + size)
    else:
        for b in range(n_boot):
            draw = rng.multinomial(total, probs).astype(np.float64)
            c, nl = draw[: j.n_journeys], draw[j.n_journeys :]
            res = credit(j.with_weights(c, c * mean_value, nl), model, **params)
            samples[b] = res.shares(target)
            if progress is not None:
                progress(b + 1)
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(samples, [alpha, 1.0 - alpha], axis=0)
    return BootstrapResult(model, j.channels, target, level, point_share, lower, upper, samples)


def shares_differ(result: BootstrapResult, a: str, b: str) -> ShareDifference:
    """Percentile interval of share(a) - share(b); ``differs`` when it excludes 0."""
    ia, ib = result.channels.index(a), result.channels.index(b)
    diff = result.samples[:, ia] - result.samples[:, ib]
    alpha = (1.0 - result.level) / 2.0
    lo, hi = np.quantile(diff, [alpha, 1.0 - alpha])
    est = float(result.share[ia] - result.share[ib])
    return ShareDifference(a, b, est, float(lo), float(hi))
