"""Attribution engine: pure numpy/scipy, no Django.

Invariants shared by every model (tested in ``tandem/attribution/tests``): the credits of
one conversion sum to 1 and of one journey's value to that value (Markov is normalised
to the same totals); a channel that never appears gets nothing; relabelling channels
permutes credit; consecutive repeats of a channel and the order of input rows change
nothing; touchpoint rows and the same journeys aggregated by path give the same answer.
"""

from .bootstrap import BootstrapResult, ShareDifference, bootstrap_credit, shares_differ
from .heuristics import heuristic_credit
from .journeys import JourneyError, Journeys
from .markov import markov_credit
from .models import DEPARTMENTS, MODELS, credit, department_credit
from .result import AttributionResult
from .shapley import (
    exact_shapley,
    ordered_shapley_credit,
    shapley_credit,
    simplified_shapley_credit,
)
from .simulate import Scenario, SimulatedData, default_scenario, simulate_journeys

__all__ = [
    "DEPARTMENTS",
    "MODELS",
    "AttributionResult",
    "BootstrapResult",
    "JourneyError",
    "Journeys",
    "Scenario",
    "ShareDifference",
    "SimulatedData",
    "bootstrap_credit",
    "credit",
    "default_scenario",
    "department_credit",
    "exact_shapley",
    "heuristic_credit",
    "markov_credit",
    "ordered_shapley_credit",
    "shapley_credit",
    "shares_differ",
    "simplified_shapley_credit",
    "simulate_journeys",
]
