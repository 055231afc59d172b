"""Benchmark: Tandem's attribution engine vs channelattribution, in one run.

    .venv/bin/python bench/attribution.py [--journeys N] [--repeats R]

Data: N simulated journeys (default 1,000,000) over 12 channels, as aggregated path
strings (what the peer takes; repeats kept) and as touchpoint rows. Each timing is the
median of R runs; a speed-up is the median over R back-to-back (Tandem, peer) pairs of
peer time / Tandem time, so load drifting between pairs does not skew it. "end-to-end"
starts from the same path strings the peer receives; "engine" starts from parsed
`Journeys`. Peak memory: tracemalloc peak of one end-to-end Markov run (numpy reports
its buffers to tracemalloc).

"file, whole process" compares two fresh processes on the same CSV file of the aggregated
paths (path, total_conversions, total_conversion_value, total_null): `tandem
attribution-file FILE --model markov` against `python` reading it with pandas and running
channelattribution's default `markov_model` (order 1, flg_pro=False); wall time of each,
paired and repeated as above. The goal: Tandem in at most a third of the peer's time
(speed-up >= 3.0x). `--file-only` runs just this comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from tandem.attribution.engine import (
    Journeys,
    heuristic_credit,
    markov_credit,
    shapley_credit,
)
from tandem.attribution.engine.simulate import default_scenario, simulate_journeys

with contextlib.redirect_stdout(io.StringIO()):
    from ChannelAttribution import heuristic_models, markov_model


def paired(
    ours: Callable[[], object], peer: Callable[[], object], repeats: int
) -> tuple[float, float, float]:
    """Median times of ``ours`` and ``peer`` run back to back, and the median of the
    per-pair speed-ups (robust to the machine's load drifting between pairs)."""
    t_ours, t_peer, ratios = [], [], []
    for _ in range(repeats):
        a = median_time(ours, 1)
        b = median_time(peer, 1)
        t_ours.append(a)
        t_peer.append(b)
        ratios.append(b / a)
    return statistics.median(t_ours), statistics.median(t_peer), statistics.median(ratios)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        with contextlib.redirect_stdout(io.StringIO()):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


PEER_PROCESS = """
import contextlib, io, sys
import pandas as pd
with contextlib.redirect_stdout(io.StringIO()):
    from ChannelAttribution import markov_model
df = pd.read_csv(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    result = markov_model(df, "path", "total_conversions", var_value="total_conversion_value",
                          var_null="total_null", flg_pro=False, verbose=False)
print(result.to_string())
"""


def process_time(argv: list[str]) -> float:
    """Wall time of one fresh process, from start to exit; it must succeed."""
    t = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{done.stderr}")
    return elapsed


def file_comparison(df: pd.DataFrame, repeats: int) -> tuple[float, float, float]:
    """`tandem attribution-file` vs pandas + channelattribution, each a whole process."""
    tandem = os.path.join(os.path.dirname(sys.executable), "tandem")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "paths.csv")
        df.to_csv(path, index=False)
        ours = [tandem, "attribution-file", path, "--model", "markov"]
        peer = [sys.executable, "-c", PEER_PROCESS, path]
        process_time(ours)  # warm the page cache for both
        process_time(peer)
        t_ours, t_peer, ratios = [], [], []
        for _ in range(repeats):
            a = process_time(ours)
            b = process_time(peer)
            t_ours.append(a)
            t_peer.append(b)
            ratios.append(b / a)
    return statistics.median(t_ours), statistics.median(t_peer), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--file-only", action="store_true", help="only the file comparison")
    args = parser.parse_args()
    r = args.repeats

    sim = simulate_journeys(args.journeys, default_scenario(12), seed=0)
    paths = sim.paths()
    strings = paths.path_strings()
    df = pd.DataFrame(
        {
            "path": strings,
            "total_conversions": paths.conversions.astype(int),
            "total_conversion_value": paths.value,
            "total_null": paths.nulls.astype(int),
        }
    )
    if args.file_only:
        t_ours, t_peer, speed_up = file_comparison(df, r)
        print(f"{args.journeys:,} journeys, {paths.n_journeys:,} unique paths; median of {r}")
        print(f"{'task':34} {'tandem s':>9} {'peer s':>8} {'speed-up':>9}")
        task = "file, whole process (goal >= 3x)"
        print(f"{task:34} {t_ours:9.3f} {t_peer:8.3f} {speed_up:8.1f}x")
        return
    print(
        f"{args.journeys:,} journeys, 12 channels, {paths.n_journeys:,} unique paths, "
        f"{paths.codes.size:,} path items, {sim.journeys.codes.size:,} touchpoints; "
        f"median of {r}"
    )

    def parse() -> Journeys:
        return Journeys.from_paths(strings, paths.conversions, paths.value, paths.nulls)

    parsed = parse()

    def heur_all(j: Journeys) -> None:
        for m in ("first", "last", "linear"):
            heuristic_credit(j, m, collapse=False)

    rows: list[tuple[str, float, float | None, float | None]] = []
    t_parse = median_time(parse, r)
    rows.append(("parse path strings", t_parse, None, None))
    for order in (1, 2):

        def peer_markov(o: int = order) -> object:
            return markov_model(
                df,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=o,
                verbose=False,
                flg_pro=False,
            )

        def ours_engine(o: int = order) -> object:
            return markov_credit(parsed, o)

        def ours_e2e(o: int = order) -> object:
            return markov_credit(parse(), o)

        eng = paired(ours_engine, peer_markov, r)
        e2e = paired(ours_e2e, peer_markov, r)
        rows.append((f"markov order {order} engine", *eng))
        rows.append((f"markov order {order} end-to-end", *e2e))
    rows.append(
        ("markov order 3 engine", median_time(lambda: markov_credit(parsed, 3), r), None, None)
    )

    def peer_h() -> object:
        return heuristic_models(
            df, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
        )

    rows.append(("first+last+linear engine", *paired(lambda: heur_all(parsed), peer_h, r)))
    rows.append(("first+last+linear end-to-end", *paired(lambda: heur_all(parse()), peer_h, r)))
    rows.append(
        (
            "shapley exact (12 ch) engine",
            median_time(lambda: shapley_credit(parsed), r),
            None,
            None,
        )
    )
    rows.append(
        ("shapley exact end-to-end", median_time(lambda: shapley_credit(parse()), r), None, None)
    )

    def from_touch() -> None:
        j = Journeys.from_touchpoints(
            sim.touch_journey_id,
            sim.touch_ts,
            sim.touch_channel,
            sim.touch_converted,
            sim.touch_value,
            channel_names=sim.scenario.channels,
        )
        markov_credit(j, 1)

    rows.append(("touchpoints -> markov order 1", median_time(from_touch, r), None, None))
    rows.append(("file, whole process (goal >= 3x)", *file_comparison(df, r)))

    print(f"{'task':34} {'tandem s':>9} {'peer s':>8} {'speed-up':>9}")
    for name, ours, peer, ratio in rows:
        if peer is None or ratio is None:
            print(f"{name:34} {ours:9.3f} {'':>8} {'':>9}")
        else:
            print(f"{name:34} {ours:9.3f} {peer:8.3f} {ratio:8.1f}x")

    tracemalloc.start()
    markov_credit(parse(), 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    from_touch()
    _, peak_touch = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"peak extra memory (tracemalloc): path strings -> markov {peak / 2**20:.0f} MiB, "
        f"touchpoints -> markov {peak_touch / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
