"""A demo timeline from the attribution simulator: journeys with planted channel effects, so
attribution over the demo recovers a known ranking (sales calls and events first, direct last).

Invariant: deterministic for a seeded ``rng`` (same seed and contacts, same touches).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from tandem.attribution.services import demo_journeys
from tandem.demo.timeline import DemoContact, PlannedTouch

# Simulator channel -> (timeline channel, kind, department, campaign, content, by the owner)
DEMO_TOUCHES: dict[str, tuple[str, str, str, str, str, bool]] = {
    "sales_call": ("sales_call", "sales call", "sales", "", "", True),
    "event": ("event", "trade show visit", "field", "AgriTech fair", "", True),
    "webinar": ("webinar", "webinar attended", "marketing", "Webinar: precision tools", "", False),
    "paid_search": ("paid_search", "ad clicked", "marketing", "Search: soil sensors", "", False),
    "email": (
        "email_newsletter",
        "newsletter clicked",
        "marketing",
        "Monthly newsletter",
        "",
        False,
    ),
    "sdr_outreach": ("sales_email", "sales email", "sales", "", "", True),
    "organic_search": ("website", "page_view", "marketing", "", "/blog/soil-sensors", False),
    "paid_social": ("linkedin", "ad clicked", "marketing", "LinkedIn spring push", "", False),
    "display": ("display", "ad clicked", "marketing", "Display retargeting", "", False),
    "direct": ("website", "page_view", "self_service", "", "/pricing", False),
}
CONVERTED_STAGES = frozenset({"sql", "opportunity", "customer"})


def simulated_planner(rng: random.Random, contacts: Sequence[DemoContact]) -> list[PlannedTouch]:
    """A demo planner: each demo contact's timeline is one simulated journey.

    Contacts far down the funnel (SQL, opportunity, customer) get converting journeys, the
    others non-converting ones, so attribution over the demo recovers the planted ranking
    (sales calls and events first, direct last). Deterministic for a seeded ``rng``.
    Use: ``demo_load(planner=simulated_planner)``.
    """
    sim = demo_journeys(max(200, 6 * len(contacts)), seed=rng.randrange(2**31))
    j = sim.journeys
    converting = [int(i) for i in np.flatnonzero(j.conversions > 0)]
    other = [int(i) for i in np.flatnonzero(j.conversions == 0)]
    assert j.timestamps is not None
    touches = []
    for index, contact in enumerate(contacts):
        pool = converting if contact.lifecycle_stage in CONVERTED_STAGES else other
        row = pool[index % len(pool)]
        lo, hi = int(j.offsets[row]), int(j.offsets[row + 1])
        last = float(j.timestamps[hi - 1])
        end_days_ago = rng.uniform(1.0, 30.0)
        for k in range(lo, hi):
            channel, kind, dept, campaign, content, by_owner = DEMO_TOUCHES.get(
                j.channels[int(j.codes[k])], ("website", "page_view", "marketing", "", "", False)
            )
            days_ago = end_days_ago + (last - float(j.timestamps[k])) / 86_400.0
            touches.append(
                PlannedTouch(
                    contact_index=index,
                    days_ago=round(days_ago, 3),
                    channel=channel,
                    kind=kind,
                    department=dept,
                    campaign=campaign,
                    content=content,
                    by_owner=by_owner,
                )
            )
    return touches
