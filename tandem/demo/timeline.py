"""The demo timeline: what a planner is and the built-in one.

A planner takes a seeded ``random.Random`` and the demo contacts (`DemoContact`) and returns the
touches to record (`PlannedTouch`). Invariant: the same seed and contacts give the same touches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tandem.core.models import Department
from tandem.crm.models import Industry


@dataclass(frozen=True)
class PlannedTouch:
    """One touch the demo records. `contact_index` points into the contacts given to a planner;
    None with `anonymous_id` set is an unidentified website visitor."""

    contact_index: int | None
    days_ago: float
    channel: str
    kind: str
    department: str
    campaign: str = ""
    content: str = ""
    by_owner: bool = False
    anonymous_id: str = ""


@dataclass(frozen=True)
class DemoContact:
    """What a planner knows of a demo contact."""

    lifecycle_stage: str
    industry: str
    consent: str


Planner = Callable[[random.Random, Sequence[DemoContact]], Iterable[PlannedTouch]]


# --- the timeline ------------------------------------------------------------------------------

_MARKETING = [
    ("website", "page_view", Department.MARKETING, "", "/products"),
    ("website", "page_view", Department.MARKETING, "", "/pricing"),
    ("email_newsletter", "newsletter opened", Department.MARKETING, "monthly-newsletter", ""),
    ("email_newsletter", "newsletter clicked", Department.MARKETING, "monthly-newsletter", ""),
    ("linkedin", "ad clicked", Department.MARKETING, "linkedin-spring-push", ""),
    ("linkedin", "post engaged", Department.MARKETING, "", "Customer story"),
    ("webinar", "webinar registered", Department.MARKETING, "webinar-precision-tools", ""),
    ("webinar", "webinar attended", Department.MARKETING, "webinar-precision-tools", ""),
    ("paid_search", "ad clicked", Department.MARKETING, "search-brand", ""),
]
_SALES = [
    ("sales_call", "sales call", Department.SALES, "", ""),
    ("sales_email", "sales email", Department.SALES, "", ""),
    ("meeting", "meeting held", Department.SALES, "", ""),
]
_FIELD = [
    ("field_visit", "field visit", Department.FIELD, "", ""),
    ("training", "training attended", Department.FIELD, "", "Product training"),
]
_SELF_SERVICE = [
    ("self_service", "quote viewed", Department.SELF_SERVICE, "", "Online quote"),
]
_TOUCHES_BY_STAGE = {
    "subscriber": (1, 4),
    "lead": (2, 7),
    "mql": (4, 10),
    "sal": (5, 12),
    "sql": (6, 13),
    "opportunity": (7, 16),
    "customer": (8, 20),
    "recycled": (3, 9),
    "disqualified": (1, 4),
}
_LATE_STAGES = {"sal", "sql", "opportunity", "customer"}


def plan_timeline(rng: random.Random, contacts: Sequence[DemoContact]) -> list[PlannedTouch]:
    """The built-in multi-channel timeline: marketing first, then sales, field and self-service
    as a contact moves down the funnel; plus unidentified website visitors."""
    touches: list[PlannedTouch] = []
    for index, contact in enumerate(contacts):
        low, high = _TOUCHES_BY_STAGE[contact.lifecycle_stage]
        count = rng.randint(low, high)
        day = rng.uniform(20, 240)
        late = contact.lifecycle_stage in _LATE_STAGES
        for step in range(count):
            progress = step / max(count - 1, 1)
            if late and progress > 0.4:
                pool = _SALES * 3 + _MARKETING
                if contact.industry != Industry.OTHER:
                    pool += _FIELD * 2
                if contact.lifecycle_stage in {"opportunity", "customer"} and progress > 0.7:
                    pool += _SELF_SERVICE * 3
            elif contact.lifecycle_stage in {"mql", "recycled"} and progress > 0.6:
                pool = _MARKETING + _SALES
            else:
                pool = _MARKETING
            if contact.consent == "withdrawn":
                pool = [t for t in pool if t[0] != "email_newsletter"] or _SALES
            channel, kind, department, campaign, content = rng.choice(pool)
            touches.append(
                PlannedTouch(
                    contact_index=index,
                    days_ago=round(day, 3),
                    channel=channel,
                    kind=kind,
                    department=department,
                    campaign=campaign,
                    content=content,
                    by_owner=department in {Department.SALES, Department.FIELD},
                )
            )
            day = max(day - rng.expovariate(1 / 6), 0.05)
    for visitor in range(60):
        for _visit in range(rng.randint(1, 3)):
            touches.append(
                PlannedTouch(
                    contact_index=None,
                    days_ago=round(rng.uniform(0.1, 90), 3),
                    channel="website",
                    kind="page_view",
                    department=Department.MARKETING,
                    content=rng.choice(["/", "/products", "/blog/soil-sensors", "/pricing"]),
                    anonymous_id=f"demo-visitor-{visitor:03d}",
                )
            )
    return touches
