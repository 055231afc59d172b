"""Day and week routes for field reps: a vehicle-routing solver (PyVRP) over great-circle
distances, with opening hours, visit durations and the rep's working day.

Pure: no Django, nothing of Tandem (the import contract "pure-routing" holds it), so the
`tandem route-file` command, the routes page and `bench/route.py` share one solver.

Invariants:
- a plan visits every stop exactly once (the solver's clients are all required); the start
  (the rep's home or office) begins and ends every day;
- distances are metres and times seconds since midnight, as integers (PyVRP's data);
  `distance_m` of a plan is the sum of the great-circle legs of its order (`route_distance`),
  so it compares exactly with the entered order and with the nearest-neighbour baseline;
- the same input and seed give the same plan (the solver is seeded);
- a plan the solver could not fit into the opening hours and the working day is returned with
  ``feasible=False`` (best effort), never refused.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
DAY_SECONDS = 24 * 3600
DEFAULT_SPEED_KMH = 40.0  # average speed on roads between farms and clinics


@dataclass(frozen=True)
class Stop:
    """A place on the route: the start (row one of a file) or a visit."""

    id: str
    lat: float
    lon: float
    open: int = 0  # seconds since midnight
    close: int = DAY_SECONDS
    minutes: int = 0  # how long the visit takes


@dataclass(frozen=True)
class Plan:
    """The order of visit ids per day (one list for a day route) and its length."""

    days: list[list[str]]
    distance_m: int
    feasible: bool = True
    legs: list[int] = field(default_factory=list)

    @property
    def order(self) -> list[str]:
        return [stop_id for day in self.days for stop_id in day]

    @property
    def distance_km(self) -> float:
        return round(self.distance_m / 1000, 3)


def great_circle_m(a: Stop, b: Stop) -> int:
    """The haversine distance between two stops, in whole metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))))


def _matrix(places: Sequence[Stop]) -> list[list[int]]:
    return [[great_circle_m(a, b) for b in places] for a in places]


def route_distance(start: Stop, days: Sequence[Sequence[Stop]]) -> int:
    """Metres driven: from the start through each day's stops and back, day by day."""
    total = 0
    for day in days:
        if not day:
            continue
        path = [start, *day, start]
        total += sum(great_circle_m(a, b) for a, b in itertools.pairwise(path))
    return total


def _travel_seconds(metres: int, speed_kmh: float) -> int:
    return round(metres / (speed_kmh * 1000 / 3600))


def solve(
    start: Stop,
    stops: Sequence[Stop],
    *,
    days: int = 1,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    max_runtime: float = 0.8,
    seed: int = 1,
) -> Plan:
    """The shortest plan PyVRP finds within ``max_runtime`` seconds (or 2000 iterations without
    improvement): ``days`` routes from and back to ``start``, each within the start's hours
    (the working day), each stop within its own hours for its ``minutes``."""
    if not stops:
        return Plan(days=[[] for _ in range(days)], distance_m=0)
    if len(stops) == 1:
        only = [[stops[0].id]] + [[] for _ in range(days - 1)]
        return Plan(days=only, distance_m=route_distance(start, [[stops[0]]]))
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

    places = [start, *stops]
    matrix = _matrix(places)
    model = Model()
    locations = [model.add_location(x=p.lon, y=p.lat) for p in places]
    depot = model.add_depot(locations[0], tw_early=start.open, tw_late=start.close)
    model.add_vehicle_type(
        num_available=days,
        start_depot=depot,
        end_depot=depot,
        tw_early=start.open,
        tw_late=start.close,
    )
    for stop, location in zip(stops, locations[1:], strict=True):
        model.add_client(
            location,
            service_duration=stop.minutes * 60,
            tw_early=stop.open,
            tw_late=max(stop.open, stop.close - stop.minutes * 60),
        )
    for i, frm in enumerate(locations):
        for j, to in enumerate(locations):
            if i != j:
                metres = matrix[i][j]
                model.add_edge(
                    frm, to, distance=metres, duration=_travel_seconds(metres, speed_kmh)
                )
    result = model.solve(
        stop=MultipleCriteria([MaxRuntime(max_runtime), NoImprovement(2000)]),
        display=False,
        seed=seed,
    )
    routes = [
        [stops[activity.idx].id for activity in route if activity.is_client()]
        for route in result.best.routes()
    ]
    routes += [[] for _ in range(days - len(routes))]
    by_id = {stop.id: stop for stop in stops}
    distance = route_distance(start, [[by_id[i] for i in day] for day in routes])
    return Plan(days=routes, distance_m=distance, feasible=bool(result.is_feasible()))


def nearest_neighbour(
    start: Stop,
    stops: Sequence[Stop],
    *,
    days: int = 1,
    speed_kmh: float = DEFAULT_SPEED_KMH,
) -> Plan:
    """The baseline a rep would follow by hand: drive to the nearest stop that can still be
    visited within its hours (waiting for it to open), else to the nearest stop; with several
    days, a day ends when no stop fits before the working day ends (the last day takes what is
    left)."""
    left = list(stops)
    plan: list[list[str]] = []
    feasible = True
    for day in range(days):
        here, clock, route = start, start.open, []
        while left:
            fits = []
            for stop in left:
                metres = great_circle_m(here, stop)
                arrive = max(clock + _travel_seconds(metres, speed_kmh), stop.open)
                done = arrive + stop.minutes * 60
                home = done + _travel_seconds(great_circle_m(stop, start), speed_kmh)
                if done <= stop.close and home <= start.close:
                    fits.append((metres, stop, done))
            if not fits and (day < days - 1 or not left):
                break
            if fits:
                _, nxt, clock = min(fits, key=lambda item: item[0])
            else:
                feasible = False
                nxt = min(left, key=lambda s: great_circle_m(here, s))
                clock += _travel_seconds(great_circle_m(here, nxt), speed_kmh) + nxt.minutes * 60
            route.append(nxt)
            left.remove(nxt)
            here = nxt
        plan.append([s.id for s in route])
    by_id = {stop.id: stop for stop in stops}
    distance = route_distance(start, [[by_id[i] for i in day] for day in plan])
    return Plan(days=plan, distance_m=distance, feasible=feasible)


_CLOCK = re.compile(r"([0-9]{1,2}):([0-5][0-9])")


class RouteFileError(ValueError):
    """A route file that cannot be read: the message names the line."""


def _clock(text: str, line: int, column: str) -> int:
    match = _CLOCK.fullmatch(text.strip())
    value = int(match[1]) * 3600 + int(match[2]) * 60 if match else -1
    if not 0 <= value <= DAY_SECONDS:
        raise RouteFileError(f"line {line}: {column} must be a time HH:MM, not {text!r}")
    return value


def read_stops(text: str) -> tuple[Stop, list[Stop]]:
    """Parse a route file: a header with ``id,lat,lon`` (optional ``open,close`` as HH:MM and
    ``minutes``), then the start and end point, then the visits."""
    import csv

    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise RouteFileError("the file is empty")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in ("id", "lat", "lon") if name not in header]
    if missing:
        raise RouteFileError(f"line 1: the header lacks {', '.join(missing)}")
    places: list[Stop] = []
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RouteFileError(f"line {number}: {len(row)} fields, the header has {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        stop_id = cells["id"]
        if not stop_id or stop_id in seen:
            raise RouteFileError(f"line {number}: id {stop_id!r} is empty or repeated")
        seen.add(stop_id)
        try:
            lat, lon = float(cells["lat"]), float(cells["lon"])
        except ValueError:
            raise RouteFileError(f"line {number}: lat and lon must be numbers") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RouteFileError(f"line {number}: lat or lon out of range")
        opens = _clock(cells["open"], number, "open") if cells.get("open") else 0
        closes = _clock(cells["close"], number, "close") if cells.get("close") else DAY_SECONDS
        if closes < opens:
            raise RouteFileError(f"line {number}: close is before open")
        minutes_text = cells.get("minutes") or "0"
        if not minutes_text.isdigit() or int(minutes_text) > 24 * 60:
            raise RouteFileError(f"line {number}: minutes must be a whole number up to 1440")
        places.append(Stop(stop_id, lat, lon, opens, closes, int(minutes_text)))
    if not places:
        raise RouteFileError("the file has no start point")
    return places[0], places[1:]
