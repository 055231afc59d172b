"""Seeded journey simulator with planted channel effects (the truth check and demo data).

Mechanism (a first-order hazard process): every touch is channel c with probability
proportional to ``exposure[c]``; after the touch the journey converts with probability
``effect[c]``, else drops out with probability ``dropout``, else continues (at most
``max_touches`` touches). Converting journeys get a log-normal value; touches get
timestamps with exponential gaps. Channels carry a department label (marketing, sales,
field, self-service) for department-level demos.

Truth: ``truth[c]`` is the expected number of conversions lost if every journey that
touches c were lost instead, computed in closed form (`true_removal_effects`); the
planted ranking orders channels by it. In the default scenario exposures are equal
(``direct`` is 1.5x as common, with the smallest effect), so the ranking follows the
planted effects except that the common ``direct`` ranks fourth.

Invariant: the same seed gives the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .journeys import FloatArray, IntArray, Journeys

_DEFAULT = (
    # name, department, effect (conversion probability after a touch), exposure
    ("sales_call", "sales", 0.20, 1.0),
    ("event", "field", 0.13, 1.0),
    ("webinar", "marketing", 0.09, 1.0),
    ("paid_search", "marketing", 0.06, 1.0),
    ("email", "marketing", 0.04, 1.0),
    ("sdr_outreach", "sales", 0.027, 1.0),
    ("organic_search", "self-service", 0.018, 1.0),
    ("paid_social", "marketing", 0.012, 1.0),
    ("display", "marketing", 0.008, 1.0),
    ("direct", "self-service", 0.004, 1.5),
)


@dataclass(frozen=True)
class Scenario:
    channels: tuple[str, ...]
    departments: tuple[str, ...]
    effect: tuple[float, ...]
    exposure: tuple[float, ...]
    dropout: float = 0.25
    max_touches: int = 200
    mean_gap_days: float = 2.0
    value_mean: float = 1000.0

    def department_map(self) -> dict[str, str]:
        return dict(zip(self.channels, self.departments, strict=True))


def default_scenario(n_channels: int = 10) -> Scenario:
    """The default ten channels (incl. ``direct``); extra channels get small effects."""
    rows = list(_DEFAULT[:n_channels])
    for k in range(len(rows), n_channels):
        rows.append((f"channel_{k + 1}", "marketing", 0.003 * 0.8 ** (k - 9), 1.0))
    names, depts, effects, exposures = zip(*rows, strict=True)
    return Scenario(names, depts, effects, exposures)


@dataclass(frozen=True, eq=False)
class SimulatedData:
    scenario: Scenario
    journeys: Journeys  # one row per journey, with timestamps
    touch_journey_id: IntArray  # touchpoint rows (already sorted by journey, ts)
    touch_ts: FloatArray
    touch_channel: IntArray  # index into scenario.channels
    touch_converted: FloatArray
    touch_value: FloatArray
    truth: FloatArray = field(repr=False)  # aligned with scenario.channels

    def planted_ranking(self) -> list[str]:
        order = np.argsort(-self.truth, kind="stable")
        return [self.scenario.channels[i] for i in order]

    def paths(self) -> Journeys:
        return self.journeys.aggregate()[0]

    def truth_by_channel(self) -> dict[str, float]:
        return {c: float(t) for c, t in zip(self.scenario.channels, self.truth, strict=True)}


def true_removal_effects(scenario: Scenario) -> tuple[float, FloatArray]:
    """Closed form: conversion probability p and ``p - p_without_c`` per channel.

    Each touch is channel c with probability pi_c; after it the journey converts with
    probability e_c, else drops out with probability d, else continues. With
    ``a = sum pi e`` and ``b = sum pi (1 - e)(1 - d)``: ``p = a / (1 - b)``; removing c
    (a journey touching c is lost) gives ``(a - pi_c e_c) / (1 - b + pi_c (1 - e_c)(1 - d))``.
    """
    pi = np.asarray(scenario.exposure, dtype=np.float64)
    pi = pi / pi.sum()
    e = np.asarray(scenario.effect, dtype=np.float64)
    cont = (1.0 - e) * (1.0 - scenario.dropout)
    a = float(pi @ e)
    b = float(pi @ cont)
    p = a / (1.0 - b)
    p_without = (a - pi * e) / (1.0 - b + pi * cont)
    return p, p - p_without


def simulate_journeys(
    n_journeys: int = 100_000, scenario: Scenario | None = None, seed: int = 0
) -> SimulatedData:
    """Simulate ``n_journeys`` journeys (see the module docstring); deterministic per seed."""
    sc = scenario or default_scenario()
    rng = np.random.default_rng(seed)
    n_ch = len(sc.channels)
    exposure = np.asarray(sc.exposure, dtype=np.float64)
    pi = exposure / exposure.sum()
    effect = np.asarray(sc.effect, dtype=np.float64)
    converted = np.zeros(n_journeys)
    active = np.arange(n_journeys, dtype=np.int64)
    parts_j: list[IntArray] = []
    parts_c: list[IntArray] = []
    for _ in range(sc.max_touches):
        if active.size == 0:
            break
        ch = rng.choice(n_ch, size=active.size, p=pi).astype(np.int64)
        parts_j.append(active)
        parts_c.append(ch)
        u = rng.random(active.size)
        conv = u < effect[ch]
        drop = ~conv & (u < effect[ch] + (1.0 - effect[ch]) * sc.dropout)
        converted[active[conv]] = 1.0
        active = active[~conv & ~drop]
    jid_all = np.concatenate(parts_j)
    order = np.argsort(jid_all, kind="stable")
    tj = jid_all[order]
    codes = np.concatenate(parts_c)[order]
    lengths = np.bincount(tj, minlength=n_journeys)
    offsets = np.zeros(n_journeys + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    m = int(offsets[-1])
    _, true_re = true_removal_effects(sc)
    truth = true_re * n_journeys
    sigma = 0.5
    value = converted * rng.lognormal(np.log(sc.value_mean) - sigma**2 / 2, sigma, n_journeys)
    value = np.round(value, 2)
    start = rng.uniform(0.0, 90.0, n_journeys) * 86_400.0
    gaps = rng.exponential(sc.mean_gap_days * 86_400.0, m)
    gaps[offsets[:-1]] = 0.0
    csum = np.cumsum(gaps)
    ts = np.round(csum - np.repeat(csum[offsets[:-1]], lengths) + np.repeat(start, lengths))
    # Journeys keeps channel names sorted: re-code
    by_name = np.argsort(np.asarray(sc.channels, dtype=str), kind="stable")
    rank = np.empty(n_ch, dtype=np.int64)
    rank[by_name] = np.arange(n_ch)
    journeys = Journeys(
        channels=tuple(sc.channels[i] for i in by_name),
        codes=rank[codes],
        offsets=offsets,
        conversions=converted,
        value=value,
        nulls=1.0 - converted,
        timestamps=ts,
    )
    return SimulatedData(
        scenario=sc,
        journeys=journeys,
        touch_journey_id=tj,
        touch_ts=ts,
        touch_channel=codes,
        touch_converted=converted[tj],
        touch_value=value[tj],
        truth=truth,
    )
