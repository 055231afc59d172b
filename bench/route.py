"""Benchmark: field routes by the PyVRP solver against a nearest-neighbour baseline.

    .venv/bin/python bench/route.py [--seed 7] [--week-runtime 5]

Generated problems around one town (deterministic for a seed): days of 25 visits (10-20
minutes each, a third of them with opening hours, working day 08:00-18:00; five instances,
seeds seed..seed+4) and a week of 120 visits over 5 such days. Each is solved by
`tandem.field.routing.solve` (a day within 0.6 s of search) and by `nearest_neighbour` (which
also respects the hours) in the same run; prints both distances, the saving and the solve
time. Goals: the solver at least 10 % shorter (the mean over the days, and the week); every
day solved in under 1 s. No database.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tandem.field.routing import Stop, nearest_neighbour, solve  # noqa: E402

DAY_RUNTIME = 0.6  # seconds the solver may search a day (the goal is the whole solve < 1 s)
HOURS = [(9 * 3600, 13 * 3600), (13 * 3600, 17 * 3600), (8 * 3600, 12 * 3600)]


def problem(count: int, seed: int, spread_km: float) -> tuple[Stop, list[Stop]]:
    rng = random.Random(seed)
    start = Stop("start", 52.0, 39.5, 8 * 3600, 18 * 3600)
    degrees = spread_km / 111
    stops = []
    for k in range(count):
        opens, closes = rng.choice(HOURS) if rng.random() < 1 / 3 else (0, 24 * 3600)
        stops.append(
            Stop(
                f"v{k + 1}",
                start.lat + rng.uniform(-degrees, degrees),
                start.lon + rng.uniform(-degrees, degrees) * 1.6,
                opens,
                closes,
                rng.choice([10, 15, 20]) if count <= 30 else rng.choice([10, 15]),
            )
        )
    return start, stops


def run(
    name: str, start: Stop, stops: list[Stop], days: int, runtime: float
) -> tuple[float, float]:
    """Solve and print one problem; returns (saving against the baseline, seconds)."""
    began = time.perf_counter()
    plan = solve(start, stops, days=days, max_runtime=runtime)
    took = time.perf_counter() - began
    baseline = nearest_neighbour(start, stops, days=days)
    saving = 1 - plan.distance_m / baseline.distance_m
    print(
        f"{name:7} {len(stops):4} visits  solver {plan.distance_km:7.1f} km in {took:5.2f} s"
        f" (feasible: {plan.feasible!s:5})  nearest neighbour {baseline.distance_km:7.1f} km"
        f" (feasible: {baseline.feasible!s:5})  shorter by {saving:6.1%}"
    )
    return saving, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=5, help="day problems (seeds seed, seed+1...)")
    parser.add_argument("--week-runtime", type=float, default=5.0)
    options = parser.parse_args()
    days = [
        run(f"day {k + 1}", *problem(25, options.seed + k, 12), days=1, runtime=DAY_RUNTIME)
        for k in range(options.days)
    ]
    week, _ = run(
        "week", *problem(120, options.seed + 100, 20), days=5, runtime=options.week_runtime
    )
    mean = sum(saving for saving, _ in days) / len(days)
    slowest = max(took for _, took in days)
    worst = min(saving for saving, _ in days)
    print(
        f"days: mean saving {mean:.1%}, worst {worst:.1%}, slowest {slowest:.2f} s;"
        f" week: saving {week:.1%}"
    )
    met = mean >= 0.10 and week >= 0.10 and slowest < 1.0
    print("goals met" if met else "GOALS NOT MET")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
