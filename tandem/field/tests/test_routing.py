"""The routing solver (pure) and `tandem route-file` through the `tandem` entry point."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from config.cli import main
from tandem.field.routing import (
    DAY_SECONDS,
    RouteFileError,
    Stop,
    great_circle_m,
    nearest_neighbour,
    read_stops,
    route_distance,
    solve,
)

HOME = Stop("home", 55.75, 37.61, 8 * 3600, 18 * 3600)
ROW = "id,lat,lon,open,close,minutes\n"


def test_great_circle_of_one_degree_of_latitude_is_111_km() -> None:
    assert great_circle_m(Stop("a", 0, 0), Stop("b", 1, 0)) == 111_195


def test_solver_finds_the_optimal_order_of_a_small_day() -> None:
    stops = [
        Stop("a", 55.80, 37.70),
        Stop("b", 55.70, 37.50),
        Stop("c", 55.76, 37.65),
        Stop("d", 55.72, 37.60),
        Stop("e", 55.78, 37.52),
    ]
    best = min(route_distance(HOME, [list(p)]) for p in itertools.permutations(stops))
    plan = solve(HOME, stops)
    assert sorted(plan.order) == ["a", "b", "c", "d", "e"]
    assert plan.distance_m == best
    assert plan.feasible


def test_opening_hours_decide_the_order() -> None:
    early = Stop("early", 55.80, 37.70, 8 * 3600, 9 * 3600, 30)  # far, but only open 8-9
    late = Stop("late", 55.76, 37.62, 16 * 3600, 17 * 3600, 30)  # near, only open 16-17
    near = Stop("near", 55.751, 37.611, 0, DAY_SECONDS, 30)
    plan = solve(HOME, [late, near, early])
    assert plan.order.index("early") < plan.order.index("late")
    assert plan.feasible


def test_a_week_spreads_visits_over_days_within_the_working_day() -> None:
    stops = [Stop(f"v{k}", 55.75 + k * 0.01, 37.61, 0, DAY_SECONDS, 120) for k in range(8)]
    plan = solve(HOME, stops, days=3)
    assert sorted(plan.order) == sorted(s.id for s in stops)
    assert all(len(day) <= 4 for day in plan.days)  # 4 x 2 h fill a 10-hour day with driving
    assert plan.feasible


def test_nearest_neighbour_visits_every_stop_once() -> None:
    stops = [Stop(f"v{k}", 55.7 + (k * 7 % 5) * 0.01, 37.6 + k * 0.01) for k in range(9)]
    plan = nearest_neighbour(HOME, stops)
    assert sorted(plan.order) == sorted(s.id for s in stops)


def test_read_stops_takes_the_first_row_as_the_start_and_optional_columns() -> None:
    start, stops = read_stops("id,lat,lon\nbase,1,2\nx,1.5,2.5\n")
    assert start == Stop("base", 1.0, 2.0)
    assert stops == [Stop("x", 1.5, 2.5)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("id,lon\n", "line 1: the header lacks lat"),
        (ROW + "h,1,2,,,\nx,a,2,,,\n", "line 3: lat and lon must be numbers"),
        (ROW + "h,1,2,,,\nx,91,2,,,\n", "line 3: lat or lon out of range"),
        (ROW + "h,1,2,,,\nx,1,2,9h,,\n", "line 3: open must be a time HH:MM, not '9h'"),
        (ROW + "h,1,2,,,\nx,1,2,12:00,11:00,\n", "line 3: close is before open"),
        (ROW + "h,1,2,,,\nx,1,2,,,-5\n", "line 3: minutes must be a whole number up to 1440"),
        (ROW + "h,1,2,,,\nh,1,2,,,\n", "line 3: id 'h' is empty or repeated"),
        (ROW + "h,1,2\n", "line 2: 3 fields, the header has 6"),
        ("id,lat,lon\n", "the file has no start point"),
    ],
)
def test_read_stops_names_the_line_of_a_bad_file(text: str, message: str) -> None:
    with pytest.raises(RouteFileError, match="^" + message.replace("(", r"\(")):
        read_stops(text)


def test_route_file_json_prints_order_and_distance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "day.csv"
    path.write_text(
        ROW
        + "home,55.75,37.61,08:00,18:00,0\n"
        + "a,55.80,37.70,09:00,12:00,30\n"
        + "b,55.70,37.50,,,20\n"
        + "c,55.76,37.65,14:00,17:00,15\n"
        + "d,55.72,37.60,,,10\n"
    )
    assert main(["--language", "en", "route-file", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"order", "distance_km"}
    assert sorted(out["order"]) == ["a", "b", "c", "d"]
    assert out["order"].index("a") < out["order"].index("c")
    start, stops = read_stops(path.read_text())
    by_id = {s.id: s for s in stops}
    legs = route_distance(start, [[by_id[i] for i in out["order"]]])
    assert out["distance_km"] == round(legs / 1000, 3)


def test_route_file_refuses_a_bad_file_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,lat\nx,1\n")
    assert main(["--language", "en", "route-file", str(path)]) == 2
    assert capsys.readouterr().err == f"tandem route-file: {path}: line 1: the header lacks lon\n"
    assert main(["--language", "en", "route-file", str(tmp_path / "none.csv")]) == 2
