"""One entry point for every model, and department-level attribution.

`credit(journeys, model, **params)` dispatches by name (see `MODELS`). Every model runs
on repeat-collapsed journeys unless a heuristic is called with ``collapse=False``.

`department_credit` relabels channels with their department (e.g. marketing, sales,
field, self-service), collapses the resulting repeats (``paid > email`` are both
marketing and become one marketing touch) and runs the model at that level. Invariant:
department credits sum to the same totals as channel credits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .heuristics import WEIGHT_FUNCTIONS, heuristic_credit
from .journeys import Journeys
from .markov import markov_credit
from .result import AttributionResult
from .shapley import ordered_shapley_credit, shapley_credit, simplified_shapley_credit

MODELS: tuple[str, ...] = (
    *WEIGHT_FUNCTIONS,
    "markov",
    "shapley",
    "simplified-shapley",
    "ordered-shapley",
)

DEPARTMENTS: tuple[str, ...] = ("marketing", "sales", "field", "self-service")


def credit(journeys: Journeys, model: str, **params: Any) -> AttributionResult:
    """Run ``model`` (a name from `MODELS`) with its keyword parameters."""
    if model in WEIGHT_FUNCTIONS:
        return heuristic_credit(journeys, model, **params)
    collapsed = journeys.collapse_repeats()
    if model == "markov":
        return markov_credit(collapsed, **params)
    if model == "shapley":
        return shapley_credit(collapsed)
    if model == "simplified-shapley":
        return simplified_shapley_credit(collapsed)
    if model == "ordered-shapley":
        return ordered_shapley_credit(collapsed)
    raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")


def department_credit(
    journeys: Journeys,
    departments: Mapping[str, str],
    model: str,
    default: str | None = None,
    **params: Any,
) -> AttributionResult:
    """Credit per department: channels mapped with ``departments`` (``default`` for others)."""
    return credit(journeys.map_channels(departments, default=default), model, **params)
