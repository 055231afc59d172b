"""The demo company's story, planned before anything is written: who the customers are and what
happened with each of their people over twelve months (pure Python, no database).

The journey model is a first-order hazard process, as in the attribution simulator: an engaged
contact's touches come at exponential gaps (mean `MEAN_GAP_DAYS`), each on one of the `PLANTED`
channels with equal exposure; after a touch on channel c the contact turns into a buyer with
probability ``c.effect`` (the planted effect), else stops with probability `DROPOUT`, else goes
on. A buyer is handed to sales (MQL), accepted, contacted, qualified (SQL) and becomes an
opportunity (a deal is created), then gets a quote and is won or lost. Some who stopped were
MQLs all the same, and sales accepted or rejected them (rejected leads are recycled or
disqualified). Attribution over the demo's opportunities recovers the planted ranking.

Invariants:
- deterministic: the same seed, size and `now` give the same plan;
- causal: a journey's steps come in order and each after the one before (touches, then MQL,
  hand-off, answer, first contact, SQL, deal, later touches, quote, view, win or loss);
- nothing is planned after `now`: a journey cut by `now` stays where it got to (an open
  hand-off, an open deal in its stage), so every stage of the funnel holds someone today;
- answers and first contacts are planned as a share of the SLA clock (`Sla`), resolved against
  the deadline the hand-off service computes, so some are late and some are open and late now.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Literal

from tandem.crm.models import Industry
from tandem.demo.names import (
    ACCOUNT_NAMES,
    FIRST_NAMES,
    LAST_NAMES,
    TITLES,
    industry_attributes,
    slug,
    surname_for,
)

INDUSTRIES = (Industry.AGRICULTURE, Industry.MEDICAL, Industry.ELECTRONICS)
MEAN_GAP_DAYS = 9.0
DROPOUT = 0.3
HISTORY_DAYS = 365


@dataclass(frozen=True)
class Channel:
    """A kind of touch. `actor` is who makes it: the account owner (a sales rep), the
    industry's field rep, or nobody (a marketing touch the contact makes)."""

    channel: str
    kind: str
    department: str
    campaign: str = ""
    content: str = ""
    actor: Literal["owner", "field", ""] = ""
    effect: float = 0.0


# The planted effects, strongest first (the order attribution should recover).
PLANTED: tuple[Channel, ...] = (
    Channel("trade_show", "booth visit", "field", "trade-shows", "AgroTech Expo", "field", 0.30),
    Channel("webinar", "webinar attended", "marketing", "webinar-precision-tools", "", "", 0.18),
    Channel("sales_call", "sales call", "sales", "", "", "owner", 0.11),
    Channel("paid_search", "ad clicked", "marketing", "search-brand", "", "", 0.065),
    Channel(
        "email_newsletter", "newsletter clicked", "marketing", "monthly-newsletter", "", "", 0.035
    ),
    Channel("linkedin", "ad clicked", "marketing", "linkedin-spring-push", "", "", 0.015),
)
# Touches after the deal is created (no planted effect: the deal exists already).
LATER: tuple[Channel, ...] = (
    Channel("meeting", "meeting held", "sales", actor="owner"),
    Channel("field_visit", "field visit", "field", actor="field"),
    Channel("training", "training attended", "field", content="Product training", actor="field"),
    Channel("sales_email", "sales email", "sales", actor="owner"),
)
READING = Channel("website", "page_view", "marketing")  # passive readers' page views
BLOG_PAGES = ("/blog/soil-sensors", "/blog/lab-precision", "/products", "/pricing")

Outcome = Literal["won_online", "won", "lost", "open"]


@dataclass(frozen=True)
class Touch:
    at: dt.datetime
    channel: Channel
    content: str = ""


@dataclass(frozen=True)
class Sla:
    """An answer planned against its deadline: `share` of the time allowed (on time when below
    1); `never` means it has not happened by now."""

    share: float
    never: bool = False


@dataclass
class Journey:
    """What happened with one contact. Times are None for steps never reached."""

    contact: int  # index into Story.contacts
    touches: list[Touch] = field(default_factory=list)
    mql_at: dt.datetime | None = None
    answer: Sla | None = None  # accept or reject
    rejected: tuple[str, str] | None = None  # (reason, outcome) when sales rejects
    first_contact: Sla | None = None
    sql_after_days: float | None = None
    deal_after_days: float | None = None
    later: list[tuple[float, Channel]] = field(default_factory=list)  # (days after the deal)
    products: list[tuple[int, int]] = field(default_factory=list)  # (product index, quantity)
    quote_after_days: float | None = None
    view_after_days: float | None = None
    negotiate_after_days: float | None = None
    close_after_days: float | None = None
    outcome: Outcome = "open"
    loss_reason: int = 0


@dataclass(frozen=True)
class PlannedAccount:
    name: str
    domain: str
    industry: str
    region: str
    attributes: dict[str, object]
    owner: str  # username of the sales rep who owns it
    field_rep: str  # username of the industry's field rep who visits it


@dataclass(frozen=True)
class PlannedContact:
    account: int
    first_name: str
    last_name: str
    email: str
    title: str
    created_at: dt.datetime
    stage: str  # at creation: subscriber (reads only) or lead
    consent: str
    visitor: str  # the anonymous id of their first website visits


@dataclass
class Story:
    now: dt.datetime
    accounts: list[PlannedAccount]
    contacts: list[PlannedContact]
    journeys: list[Journey]
    reading: list[tuple[int, Touch]]  # (contact index, page view) of passive readers
    visits: list[tuple[str, Touch]]  # anonymous website visits (visitor id, page view)


@dataclass(frozen=True)
class Size:
    accounts: int
    contacts_per_account: tuple[int, int]
    engaged: float  # share of contacts with a journey (the rest only read the website)


SIZES = {
    "small": Size(accounts=100, contacts_per_account=(4, 8), engaged=0.92),
    "large": Size(accounts=5000, contacts_per_account=(7, 13), engaged=0.08),
}
REJECTIONS = (  # (reason, weight)
    ("no_budget", 4),
    ("not_a_fit", 3),
    ("too_early", 3),
    ("no_need", 2),
    ("bad_data", 1),
    ("competitor", 1),
)


def _later_of(rng: random.Random, start: dt.datetime, days: float) -> dt.datetime:
    return start + dt.timedelta(days=days, minutes=rng.randint(0, 59))


def plan_story(
    *,
    seed: int,
    size: str,
    now: dt.datetime,
    reps: dict[str, list[str]],
    field_reps: dict[str, list[str]],
    products: dict[str, list[int]],
) -> Story:
    """The whole story. `reps` are the sales reps' usernames by region, `field_reps` the field
    reps' by industry, `products` the product indexes each industry buys."""
    rng = random.Random(seed)
    spec = SIZES[size]
    story = Story(now=now, accounts=[], contacts=[], journeys=[], reading=[], visits=[])
    start = now - dt.timedelta(days=HISTORY_DAYS)
    used_names: set[str] = set()
    used_emails: set[str] = set()
    for a in range(spec.accounts):
        industry = INDUSTRIES[a % len(INDUSTRIES)]
        prefixes, suffixes = ACCOUNT_NAMES[industry]
        name = f"{rng.choice(prefixes)} {rng.choice(suffixes)}"
        while name in used_names:
            name = f"{rng.choice(prefixes)} {rng.choice(suffixes)} {rng.randint(2, 999)}"
        used_names.add(name)
        region = rng.choice(("north", "south"))
        domain = f"{slug(name)}.example"
        story.accounts.append(
            PlannedAccount(
                name=name,
                domain=domain,
                industry=industry,
                region=region,
                attributes=industry_attributes(rng, industry),
                owner=rng.choice(reps[region]),
                field_rep=rng.choice(field_reps[industry]),
            )
        )
        for _c in range(rng.randint(*spec.contacts_per_account)):
            first = rng.choice(FIRST_NAMES)
            last = surname_for(first, rng.choice(LAST_NAMES))
            email = f"{slug(first)}.{slug(last)}@{domain}"
            while email in used_emails:
                email = f"{slug(first)}.{slug(last)}{rng.randint(2, 999)}@{domain}"
            used_emails.add(email)
            index = len(story.contacts)
            created = start + dt.timedelta(days=rng.uniform(0, HISTORY_DAYS - 3))
            created = created.replace(second=0, microsecond=0)
            engaged = rng.random() < spec.engaged
            journey = _journey(rng, index, created, now, products[industry]) if engaged else None
            if journey is None:
                for _r in range(rng.randint(1, 3)):
                    at = created + dt.timedelta(days=rng.uniform(0, (now - created).days or 1))
                    if at < now:
                        page = Touch(at.replace(microsecond=0), READING, rng.choice(BLOG_PAGES))
                        story.reading.append((index, page))
            else:
                story.journeys.append(journey)
            newsletter = journey is not None and any(
                t.channel.channel == "email_newsletter" for t in journey.touches
            )
            if newsletter:  # they read the newsletter, so they subscribed to it
                consent = "withdrawn" if rng.random() < 0.08 else "granted"
            else:
                consent = rng.choices(("granted", "pending", "unknown", "withdrawn"), (5, 1, 3, 1))[
                    0
                ]
            visitor = f"demo-visitor-{index:06d}"
            first_visit = created - dt.timedelta(days=rng.uniform(0.2, 20))
            story.visits.append((visitor, Touch(first_visit.replace(microsecond=0), READING, "/")))
            story.contacts.append(
                PlannedContact(
                    account=a,
                    first_name=first,
                    last_name=last,
                    email=email,
                    title=rng.choice(TITLES[industry]),
                    created_at=created,
                    stage="lead" if engaged else "subscriber",
                    consent=consent,
                    visitor=visitor,
                )
            )
    for v in range(max(40, spec.accounts // 2)):  # visitors who never said who they are
        for _visit in range(rng.randint(1, 3)):
            at = now - dt.timedelta(days=rng.uniform(0.05, 90))
            touch = Touch(at.replace(microsecond=0), READING, rng.choice(BLOG_PAGES))
            story.visits.append((f"demo-anonymous-{v:05d}", touch))
    return story


def _journey(
    rng: random.Random, index: int, created: dt.datetime, now: dt.datetime, products: list[int]
) -> Journey:
    journey = Journey(contact=index)
    at = created
    buyer = False
    while True:
        at = at + dt.timedelta(days=rng.expovariate(1 / MEAN_GAP_DAYS))
        if at >= now:
            return journey  # still going: a lead today
        channel = rng.choice(PLANTED)
        journey.touches.append(Touch(at.replace(second=0, microsecond=0), channel))
        if rng.random() < channel.effect:
            buyer = True
            break
        if rng.random() < DROPOUT:
            break
    if not buyer and (len(journey.touches) < 2 or rng.random() < 0.65):
        return journey  # lost interest before marketing qualified them
    mql_at = at + dt.timedelta(hours=rng.uniform(0.5, 6))
    if mql_at >= now:
        return journey
    journey.mql_at = mql_at.replace(second=0, microsecond=0)
    recent = (now - mql_at).days < 12
    if recent and rng.random() < 0.3:
        journey.answer = Sla(share=rng.uniform(1.5, 6), never=True)  # open, late now
        return journey
    late = rng.random() < (0.3 if recent else 0.12)
    journey.answer = Sla(share=rng.uniform(1.2, 4) if late else rng.uniform(0.05, 0.9))
    if not buyer and rng.random() < 0.55:
        reason = rng.choices([r for r, _w in REJECTIONS], [w for _r, w in REJECTIONS])[0]
        outcome = "recycle" if rng.random() < 0.7 else "disqualify"
        journey.rejected = (reason, outcome)
        return journey
    if recent and rng.random() < 0.35:
        journey.first_contact = Sla(share=rng.uniform(1.5, 6), never=True)
        return journey
    late = rng.random() < 0.15
    journey.first_contact = Sla(share=rng.uniform(1.2, 3) if late else rng.uniform(0.1, 0.9))
    if not buyer:
        return journey  # accepted, then it went quiet (a SAL)
    journey.sql_after_days = rng.uniform(1, 6)
    journey.deal_after_days = journey.sql_after_days + rng.uniform(2, 9)
    journey.products = [
        (p, rng.choice((1, 2, 3, 5, 10, 20))) for p in rng.sample(products, rng.randint(1, 2))
    ]
    journey.quote_after_days = rng.uniform(4, 14)
    journey.later = sorted(
        (rng.uniform(0.5, journey.quote_after_days + 20), rng.choice(LATER))
        for _n in range(rng.randint(1, 3))
    )
    journey.view_after_days = (
        journey.quote_after_days + rng.uniform(0.2, 3) if rng.random() < 0.85 else None
    )
    journey.negotiate_after_days = journey.quote_after_days + rng.uniform(4, 12)
    journey.close_after_days = journey.negotiate_after_days + rng.uniform(5, 30)
    roll = rng.random()
    if roll < 0.25 and journey.view_after_days is not None:
        journey.outcome = "won_online"  # the buyer accepts the quote online
    elif roll < 0.55:
        journey.outcome = "won"
    else:
        journey.outcome = "lost"
        journey.loss_reason = rng.randrange(4)
    return journey
