"""Demo data: an organisation, its teams and people, ~60 accounts, ~300 contacts, a timeline,
deals and marketing (campaigns, segments, content, events, social posts).

Invariants:
- deterministic: the same seed gives the same records (names, stages, channels, counts); dates
  are laid out backwards from today;
- idempotent: loading twice does not duplicate anything. People and teams are matched by
  username/name; the customer record is written only when no demo record exists (demo records
  carry the tag ``demo``); ``reset=True`` deletes the demo records and writes them again;
  marketing objects are matched by code/name/key/slug/text and kept across a reset;
- every write goes through a service (crm.services, core.services, sales.services,
  marketing.services, and the people functions below), in one transaction that first locks the
  organisation row, so two concurrent loads queue up instead of both writing.

Hook for the attribution simulator: ``load_demo(planner=...)`` takes any function that, given a
seeded ``random.Random`` and the demo contacts, returns the touches to record
(`PlannedTouch`); the built-in `plan_timeline` is the default.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core import services as core_services
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Holiday, Organisation, Role, Team, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, Industry, Touchpoint
from tandem.marketing import services as marketing

DEMO_TAG = "demo"
SEED = 20260

# --- people (the user-creating services; they belong in core.services once it has them) ------


def team_ensure(*, actor: Actor, name: str, department: str, region: str = "") -> Team:
    """The team called `name`, created if missing (idempotent)."""
    if department not in {Department.MARKETING, Department.SALES, Department.FIELD}:
        raise InvalidInput({"department": [f"{department!r} is not a team department"]})
    with transaction.atomic():
        team = Team.objects.filter(name=name).first()
        if team is not None:
            return team
        try:
            with transaction.atomic():
                team = Team.objects.create(name=name, department=department, region=region)
        except IntegrityError:  # created meanwhile by someone else
            return Team.objects.get(name=name)
        record_change(actor=actor, action="create", instance=team, changes=diff({}, snapshot(team)))
        return team


def _taken(username: str) -> str:
    return _("a user named %(username)s already exists") % {"username": repr(username)}


@transaction.atomic
def user_create(
    *,
    actor: Actor,
    username: str,
    role: str,
    password: str | None,
    email: str = "",
    team_name: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a person with a role (and team). `password=None` makes an unusable password."""
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not username or len(username) > 150:
        errors["username"] = [_("a username of 1 to 150 characters is required")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_taken(username)]
    if role not in Role.values:
        message = _("%(role)s is not a role; choose one of %(roles)s")
        errors["role"] = [message % {"role": repr(role), "roles": ", ".join(Role.values)}]
    team: Team | None = None
    if team_name:
        team = Team.objects.filter(name__iexact=team_name.strip()).first()
        if team is None:
            names = ", ".join(Team.objects.values_list("name", flat=True)) or _("none yet")
            message = _("no team named %(team)s (teams: %(names)s)")
            errors["team"] = [message % {"team": repr(team_name), "names": names}]
    if email:
        email = email.strip().lower()
        try:
            from tandem.crm.validation import clean_email

            email = clean_email(email)
        except ValueError:
            message = _("%(email)s is not a valid email address")
            errors["email"] = [message % {"email": repr(email)}]
    if password is not None and "username" not in errors:
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                role=role,
                team=team,
                first_name=first_name,
                last_name=last_name,
            )
    except IntegrityError:
        raise InvalidInput({"username": [_taken(username)]}) from None
    changes = diff({}, snapshot(user))
    changes.pop("password", None)
    record_change(actor=actor, action="create", instance=user, changes=changes)
    return user


# --- the demo organisation -----------------------------------------------------------------


@dataclass(frozen=True)
class DemoPerson:
    username: str
    role: str
    team: str | None
    first_name: str
    last_name: str
    shown: bool  # its login is printed (one per role)


TEAMS = [
    ("Marketing", Department.MARKETING, ""),
    ("Sales North", Department.SALES, "north"),
    ("Sales South", Department.SALES, "south"),
    ("Field Agriculture", Department.FIELD, "agriculture"),
    ("Field Medical", Department.FIELD, "medical"),
    ("Field Electronics", Department.FIELD, "electronics"),
]

PEOPLE = [
    DemoPerson("head", Role.HEAD, None, "Helena", "Sokolova", True),
    DemoPerson("marketer", Role.MARKETER, "Marketing", "Mark", "Weber", True),
    DemoPerson("sales", Role.SALES_REP, "Sales North", "Sergey", "Orlov", True),
    DemoPerson("field", Role.FIELD_REP, "Field Agriculture", "Fiona", "Berg", True),
    DemoPerson("admin", Role.ADMIN, None, "Alex", "Admin", True),
    DemoPerson("marketer.content", Role.MARKETER, "Marketing", "Marina", "Kuznetsova", False),
    DemoPerson("sales.south", Role.SALES_REP, "Sales South", "Sofia", "Rossi", False),
    DemoPerson("field.medical", Role.FIELD_REP, "Field Medical", "Mikhail", "Lebedev", False),
    DemoPerson("field.electronics", Role.FIELD_REP, "Field Electronics", "Elena", "Novak", False),
]

HOLIDAYS = [  # (month, day, name): Russian public holidays, the organisation is in Moscow
    (1, 1, "New Year's Day"),
    (1, 7, "Orthodox Christmas"),
    (2, 23, "Defender of the Fatherland Day"),
    (3, 8, "International Women's Day"),
    (5, 1, "Spring and Labour Day"),
    (5, 9, "Victory Day"),
    (6, 12, "Russia Day"),
    (11, 4, "Unity Day"),
]

BUSINESS_HOURS = {
    **{day: [["09:00", "13:00"], ["14:00", "18:00"]] for day in ("mon", "tue", "wed", "thu")},
    "fri": [["09:00", "13:00"], ["14:00", "17:00"]],
    "sat": [],
    "sun": [],
}


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    password: str


@dataclass(frozen=True)
class DemoSummary:
    logins: list[Login]
    accounts: int
    contacts: int
    touchpoints: int
    created: bool  # the customer record was written by this run


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


# --- generated names -------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna",
    "Dmitry",
    "Maria",
    "Ivan",
    "Olga",
    "Pavel",
    "Elena",
    "Sergey",
    "Natalia",
    "Andrei",
    "Julia",
    "Thomas",
    "Laura",
    "Markus",
    "Sophie",
    "Lukas",
    "Clara",
    "Jan",
    "Eva",
    "Piotr",
    "Katarzyna",
    "Marco",
    "Giulia",
    "Pierre",
    "Camille",
    "Tatiana",
    "Viktor",
    "Irina",
    "Oleg",
    "Svetlana",
]
LAST_NAMES = [
    "Ivanova",
    "Petrov",
    "Smirnova",
    "Volkov",
    "Fedorova",
    "Morozov",
    "Schmidt",
    "Muller",
    "Fischer",
    "Wagner",
    "Kowalski",
    "Nowak",
    "Bianchi",
    "Russo",
    "Dubois",
    "Martin",
    "Popov",
    "Vasilieva",
    "Zaitsev",
    "Pavlova",
    "Hoffmann",
    "Becker",
    "Lang",
    "Jansen",
    "Bakker",
]
ACCOUNT_NAMES = {
    Industry.AGRICULTURE: (
        [
            "Green",
            "Golden",
            "Black Earth",
            "River",
            "Sunny",
            "Steppe",
            "Valley",
            "Northern",
            "Volga",
            "Meadow",
        ],
        ["Farms", "Agro", "Harvest", "Fields", "Dairy", "Grain Co-op", "Agroholding"],
    ),
    Industry.MEDICAL: (
        [
            "City",
            "St. Luke",
            "Central",
            "Family",
            "Vita",
            "Medica",
            "Zdorovye",
            "Aesculap",
            "Nord",
            "Clear",
        ],
        ["Hospital", "Clinic", "Laboratory", "Pharmacy", "Medical Centre", "Diagnostics"],
    ),
    Industry.ELECTRONICS: (
        [
            "Volt",
            "Quantum",
            "Micron",
            "Signal",
            "Orbit",
            "Pixel",
            "Circuit",
            "Ampere",
            "Ion",
            "Spectrum",
        ],
        ["Systems", "Components", "Electronics", "Devices", "Integrators", "Distribution"],
    ),
    Industry.OTHER: (
        ["Atlas", "Baltic", "Ural", "Polar", "Crown", "Harbor", "Summit", "Unity"],
        ["Logistics", "Consulting", "Retail", "Foods", "Construction", "Textiles"],
    ),
}
ACCOUNTS_PER_INDUSTRY = {
    Industry.AGRICULTURE: 18,
    Industry.MEDICAL: 16,
    Industry.ELECTRONICS: 16,
    Industry.OTHER: 10,
}
FIELD_OWNER = {
    Industry.AGRICULTURE: "field",
    Industry.MEDICAL: "field.medical",
    Industry.ELECTRONICS: "field.electronics",
}
TITLES = {
    Industry.AGRICULTURE: ["Farm manager", "Agronomist", "Owner", "Procurement lead"],
    Industry.MEDICAL: ["Chief physician", "Lab head", "Head nurse", "Purchasing manager"],
    Industry.ELECTRONICS: ["CTO", "Hardware engineer", "Buyer", "Product manager"],
    Industry.OTHER: ["CEO", "Operations manager", "Office manager", "Buyer"],
}
STAGE_WEIGHTS = {
    "subscriber": 14,
    "lead": 30,
    "mql": 12,
    "sal": 6,
    "sql": 6,
    "opportunity": 9,
    "customer": 16,
    "recycled": 5,
    "disqualified": 2,
}
CONSENT_WEIGHTS = {"granted": 55, "pending": 10, "unknown": 25, "withdrawn": 10}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-").replace("--", "-")


def _industry_attributes(rng: random.Random, industry: str) -> dict[str, object]:
    if industry == Industry.AGRICULTURE:
        return {
            "farm_area_ha": float(rng.randrange(50, 20_000, 50)),
            "crops": rng.sample(["wheat", "barley", "sunflower", "maize", "soy", "rapeseed"], 2),
            "livestock": rng.sample(
                ["dairy cattle", "pigs", "poultry", "sheep"], rng.randint(0, 2)
            ),
        }
    if industry == Industry.MEDICAL:
        return {
            "clinic_type": rng.choice(["hospital", "clinic", "laboratory", "pharmacy", "practice"]),
            "specialties": rng.sample(
                ["cardiology", "radiology", "oncology", "paediatrics", "diagnostics"], 2
            ),
            "beds": rng.randrange(0, 600, 10),
        }
    if industry == Industry.ELECTRONICS:
        return {
            "business_type": rng.choice(["oem", "distributor", "integrator", "retailer"]),
            "product_lines": rng.sample(
                ["sensors", "PCBs", "power supplies", "IoT modules", "displays"], 2
            ),
        }
    return {}


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


# --- loading -----------------------------------------------------------------------------------


def _ensure_organisation(actor: Actor) -> None:
    core_services.organisation_update(
        actor=actor,
        name="Polevod Instruments",
        currency="EUR",
        time_zone="Europe/Moscow",
        language="en",
        business_hours=BUSINESS_HOURS,
    )
    year = timezone.now().year
    taken = set(Holiday.objects.values_list("date", flat=True))
    for month, day, name in HOLIDAYS:
        if dt.date(year, month, day) not in taken:
            core_services.holiday_add(actor=actor, date=dt.date(year, month, day), name=name)


def _ensure_people(actor: Actor) -> dict[str, User]:
    for name, department, region in TEAMS:
        team_ensure(actor=actor, name=name, department=department, region=region)
    existing = {
        u.username: u for u in User.objects.filter(username__in=[p.username for p in PEOPLE])
    }
    for person in PEOPLE:
        if person.username not in existing:
            existing[person.username] = user_create(
                actor=actor,
                username=person.username,
                role=person.role,
                password=None,
                email=f"{person.username}@polevod.example",
                team_name=person.team,
                first_name=person.first_name,
                last_name=person.last_name,
            )
    return existing


def _fresh_logins(people: dict[str, User]) -> list[Login]:
    """A new random password for each shown demo login (passwords are stored hashed only)."""
    logins = []
    for person in PEOPLE:
        if not person.shown:
            continue
        password = secrets.token_urlsafe(9)
        user = people[person.username]
        user.set_password(password)
        user.save(update_fields=["password"])
        logins.append(Login(role=person.role, username=person.username, password=password))
    return logins


def _delete_demo_records(actor: Actor) -> None:
    from tandem.sales import services as sales
    from tandem.sales.models import Deal

    for deal in Deal.objects.filter(account__tags__name=DEMO_TAG).distinct():
        sales.deal_delete(actor=actor, deal=deal)
    for contact in Contact.objects.filter(tags__name=DEMO_TAG).distinct():
        crm.contact_delete(actor=actor, contact=contact)
    for account in Account.objects.filter(tags__name=DEMO_TAG).distinct():
        crm.account_delete(actor=actor, account=account)
    Touchpoint.objects.filter(anonymous_id__startswith="demo-visitor-").delete()


def _create_demo_records(actor: Actor, people: dict[str, User], planner: Planner) -> None:
    rng = random.Random(SEED)
    sales = [people["sales"], people["sales.south"]]
    contacts: list[Contact] = []
    facts: list[DemoContact] = []
    used_emails: set[str] = set()
    used_names: set[str] = set()
    stages, stage_weights = zip(*STAGE_WEIGHTS.items(), strict=True)
    consents, consent_weights = zip(*CONSENT_WEIGHTS.items(), strict=True)
    for industry, count in ACCOUNTS_PER_INDUSTRY.items():
        prefixes, suffixes = ACCOUNT_NAMES[industry]
        for _n in range(count):
            name = f"{rng.choice(prefixes)} {rng.choice(suffixes)}"
            while name in used_names:
                name = f"{rng.choice(prefixes)} {rng.choice(suffixes)} {rng.randint(2, 9)}"
            used_names.add(name)
            region = rng.choice(["north", "south"])
            field_owner = FIELD_OWNER.get(industry)
            owner = (
                people[field_owner]
                if field_owner and rng.random() < 0.4
                else sales[0 if region == "north" else 1]
            )
            domain = f"{_slug(name)}.example"
            account = crm.account_create(
                actor=actor,
                name=name,
                domains=[domain],
                industry=industry,
                industry_attributes=_industry_attributes(rng, industry),
                region=region,
                owner_id=owner.pk,
                tags=[DEMO_TAG, industry],
            )
            for _c in range(rng.randint(3, 7)):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = f"{_slug(first)}.{_slug(last)}@{domain}"
                while email in used_emails:
                    email = f"{_slug(first)}.{_slug(last)}{rng.randint(2, 99)}@{domain}"
                used_emails.add(email)
                stage = rng.choices(stages, stage_weights)[0]
                consent = rng.choices(consents, consent_weights)[0]
                contact = crm.contact_create(
                    actor=actor,
                    first_name=first,
                    last_name=last,
                    email=email,
                    title=rng.choice(TITLES[industry]),
                    account_id=account.pk,
                    owner_id=owner.pk,
                    lifecycle_stage=stage,
                    consent=consent,
                    tags=[DEMO_TAG],
                )
                contact.account = account  # spares a query per touchpoint below
                contacts.append(contact)
                facts.append(DemoContact(lifecycle_stage=stage, industry=industry, consent=consent))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for touch in planner(rng, facts):
        who = contacts[touch.contact_index] if touch.contact_index is not None else None
        crm.touchpoint_record(
            channel=touch.channel,
            kind=touch.kind,
            department=touch.department,
            contact=who,
            account=who.account if who else None,
            occurred_at=now - dt.timedelta(days=touch.days_ago),
            campaign=touch.campaign,
            content=touch.content,
            actor=who.owner if who and touch.by_owner else None,
            anonymous_id=touch.anonymous_id,
            source="demo",
            # a page view carries its path, as the tracker records it (behavioural segments use it)
            properties={"path": touch.content} if touch.kind == "page_view" else None,
        )


DEMO_PIPELINE: list[dict[str, Any]] = [
    {"name": "Qualification", "probability": 20},
    {"name": "Proposal", "probability": 50},
    {"name": "Negotiation", "probability": 75},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


def _create_demo_deals(actor: Actor) -> None:
    """One deal per demo account whose contacts reached opportunity or customer; won where a
    contact is a customer. Gives the pipeline, forecast and attribution real conversions."""
    from tandem.sales import services as sales  # the demo spans apps; loaded only here

    try:
        sales.default_pipeline()
    except InvalidInput:
        sales.pipeline_create(
            actor=actor, name="New business", stages=DEMO_PIPELINE, is_default=True
        )
    rng = random.Random(SEED + 1)
    late = Contact.objects.filter(
        tags__name=DEMO_TAG, lifecycle_stage__in=["opportunity", "customer"]
    ).order_by("account_id", "id")
    by_account: dict[int, list[Contact]] = {}
    for contact in late:
        if contact.account_id is not None:
            by_account.setdefault(contact.account_id, []).append(contact)
    for account_id, members in by_account.items():
        won = any(c.lifecycle_stage == "customer" for c in members)
        deal = sales.deal_create(
            actor=actor,
            name=f"{members[0].account} — {rng.choice(['platform', 'renewal', 'expansion'])}",
            account_id=account_id,
            owner_id=members[0].owner_id,
            amount=str(rng.randrange(5_000, 80_000, 500)),
            contacts=[{"contact_id": c.pk, "role": "decision_maker"} for c in members],
        )
        if won:
            sales.deal_win(actor=actor, deal=deal)


# --- marketing --------------------------------------------------------------------------------

# (utm_code = the timeline's `campaign` value, name, goal, channels, budget, starts days ago,
#  cost lines as (channel, amount, days ago, note))
DEMO_CAMPAIGNS: list[tuple[str, str, str, list[str], str, int, list[tuple[str, str, int, str]]]] = [
    (
        "monthly-newsletter",
        "Monthly newsletter",
        "Keep subscribers warm: 25% open rate, 40 MQLs a quarter",
        ["email"],
        "1200",
        240,
        [("email", "90", 60, "Email delivery, two months")],
    ),
    (
        "linkedin-spring-push",
        "LinkedIn spring push",
        "60 demo requests from agriculture and medical buyers",
        ["linkedin", "paid_social"],
        "15000",
        200,
        [
            ("paid_social", "4200", 150, "Sponsored content, March"),
            ("paid_social", "3800", 120, "Sponsored content, April"),
        ],
    ),
    (
        "webinar-precision-tools",
        "Webinar: precision tools",
        "300 registrations, 40% attendance, 25 SQLs",
        ["webinar", "email", "linkedin"],
        "5000",
        180,
        [("webinar", "790", 170, "Webinar platform, annual plan")],
    ),
    (
        "search-brand",
        "Search: brand",
        "Capture brand searches at under 2 EUR per click",
        ["paid_search"],
        "6000",
        240,
        [("paid_search", "1150", 30, "Brand keywords, last month")],
    ),
]

PRICING_TWICE = {
    "type": "touchpoint",
    "kind": "page_view",
    "properties": [{"key": "path", "value": "/pricing"}],
    "at_least": 2,
    "within_days": 30,
}

DEMO_ASSETS = [
    (
        "blog_post",
        "Five ways soil sensors cut fertiliser costs",
        "https://example.com/blog/soil-sensors",
        "linkedin-spring-push",
    ),
    (
        "whitepaper",
        "Precision instruments in the modern lab",
        "https://example.com/whitepapers/precision-lab.pdf",
        "webinar-precision-tools",
    ),
    (
        "case_study",
        "How Volga Agro saved 18% on inputs",
        "https://example.com/customers/volga-agro",
        "linkedin-spring-push",
    ),
    ("price_list", "Price list 2026", "https://example.com/pricing/price-list-2026.pdf", ""),
    (
        "youtube_video",
        "Precision tools in five minutes",
        "https://example.com/video/precision-tools",
        "webinar-precision-tools",
    ),
]

DEMO_TEMPLATES = [  # (name, subject, html)
    (
        "Monthly newsletter",
        '{{ contact.first_name|default:"Hello" }}, what\'s new at Polevod this month',
        '<p>Dear {{ contact.first_name|default:"customer" }},</p>'
        '<p>This month at {{ contact.company|default:"your company" }}\'s favourite instrument'
        " maker: soil sensors that pay for themselves in one season, and the 2026 price list.</p>"
        '<p><a href="https://example.com/blog/soil-sensors">Read the story</a></p>',
    ),
    (
        "Webinar invitation",
        "Webinar: precision tools live",
        "<p>Join our engineers for a live walkthrough of the new precision instruments.</p>"
        '<p><a href="https://example.com/webinars/precision-tools">Save your seat</a></p>',
    ),
]
DEMO_SEND = "Monthly newsletter: medical MQLs"

DEMO_POSTS = [  # (days from today, hour, network, text, link)
    (
        1,
        10,
        "linkedin",
        "Soil sensors that pay for themselves in one season: our new blog post.",
        "https://example.com/blog/soil-sensors",
    ),
    (
        2,
        12,
        "telegram",
        "Webinar: precision tools for labs and farms. Save your seat.",
        "https://example.com/webinars/precision-tools",
    ),
    (
        3,
        9,
        "vk",
        "Price list 2026 is out: same prices for returning customers.",
        "https://example.com/pricing/price-list-2026.pdf",
    ),
    (
        4,
        15,
        "facebook",
        "How Volga Agro saved 18% on inputs: the case study.",
        "https://example.com/customers/volga-agro",
    ),
    (
        5,
        11,
        "youtube",
        "Precision tools in five minutes: the video.",
        "https://example.com/video/precision-tools",
    ),
    (6, 10, "linkedin", "Meet us after AgroTech Expo: the talk slides and photos.", ""),
    (7, 14, "telegram", "Draft: weekly digest of product news.", ""),
]


def _create_demo_marketing(actor: Actor, people: dict[str, User]) -> None:
    """Campaigns for the timeline's campaign codes, segments, content, events and a week of social
    posts, all through marketing's services. Idempotent: objects are matched by code, name, key,
    slug or text and skipped when present; what hangs on demo contacts (static list members,
    event registrations) is re-added after a reset deleted those contacts."""
    from tandem.marketing.models import (  # the demo spans apps; loaded only here
        Campaign,
        ContentAsset,
        EmailSend,
        EmailTemplate,
        MarketingEvent,
        Segment,
        SocialPost,
        SubscriptionType,
    )

    owner = people["marketer"]
    today = timezone.localdate()
    campaigns: dict[str, Campaign] = {c.utm_code: c for c in Campaign.objects.all()}
    for code, name, goal, channels, budget, started, costs in DEMO_CAMPAIGNS:
        if code in campaigns:
            continue
        campaign = marketing.campaigns.campaign_create(
            actor=actor,
            name=name,
            utm_code=code,
            goal=goal,
            channels=channels,
            budget=budget,
            starts_on=(today - dt.timedelta(days=started)).isoformat(),
            owner_id=owner.pk,
        )
        campaigns[code] = campaign
        for channel, amount, days_ago, note in costs:
            marketing.campaigns.cost_add(
                actor=actor,
                campaign=campaign,
                channel=channel,
                amount=amount,
                incurred_on=(today - dt.timedelta(days=days_ago)).isoformat(),
                note=note,
            )

    segments = {s.name: s for s in Segment.objects.all()}
    for name, definition, description in [
        ("Visited pricing twice in 30 days", PRICING_TWICE, "Hand-raisers for sales follow-up"),
        (
            "Medical MQLs",
            {
                "type": "and",
                "children": [
                    {"type": "field", "field": "account.industry", "op": "eq", "value": "medical"},
                    {
                        "type": "field",
                        "field": "contact.lifecycle_stage",
                        "op": "eq",
                        "value": "mql",
                    },
                ],
            },
            "Medical accounts' marketing-qualified leads",
        ),
    ]:
        if name not in segments:
            segments[name] = marketing.segments.segment_create(
                actor=actor, name=name, definition=definition, description=description
            )
            marketing.segments.segment_refresh(segment_id=segments[name].pk)
    static_name = "Trade show follow-up list"
    static = segments.get(static_name) or marketing.segments.segment_create(
        actor=actor, name=static_name, kind="static", description="Met at AgroTech Expo"
    )
    members = list(
        Contact.objects.filter(tags__name=DEMO_TAG, consent="granted")
        .order_by("id")
        .values_list("pk", flat=True)[:8]
    )
    marketing.segments.static_members_add(actor=actor, segment=static, contact_ids=members)

    keys = set(ContentAsset.objects.values_list("key", flat=True))
    for kind, title, url, code in DEMO_ASSETS:
        data: dict[str, Any] = {"kind": kind, "title": title, "url": url}
        if code:
            data["campaign_id"] = campaigns[code].pk
        if _slug(title)[:100] not in keys:
            marketing.content.asset_create(actor=actor, **data)

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    slugs = set(MarketingEvent.objects.values_list("slug", flat=True))
    if "precision-tools-live" not in slugs:
        starts = now + dt.timedelta(days=12, hours=3)
        marketing.events.event_create(
            actor=actor,
            kind="webinar",
            title="Precision tools live",
            slug="precision-tools-live",
            description="A live walkthrough of the new precision instruments, with Q&A.",
            starts_at=starts.isoformat(),
            ends_at=(starts + dt.timedelta(hours=1)).isoformat(),
            join_url="https://example.com/webinars/precision-tools",
            organizer_name=owner.get_full_name(),
            organizer_email=owner.email,
            campaign_id=campaigns["webinar-precision-tools"].pk,
        )
    conference = MarketingEvent.objects.filter(slug="agrotech-expo").first()
    if conference is None:
        starts = now - dt.timedelta(days=21, hours=-9)
        conference = marketing.events.event_create(
            actor=actor,
            kind="conference",
            title="AgroTech Expo",
            slug="agrotech-expo",
            location="Krasnodar, Expograd Yug, stand B14",
            starts_at=starts.isoformat(),
            ends_at=(starts + dt.timedelta(hours=8)).isoformat(),
            organizer_name=owner.get_full_name(),
            organizer_email=owner.email,
        )
    visitors = Contact.objects.filter(
        tags__name=DEMO_TAG, account__industry=Industry.AGRICULTURE
    ).order_by("id")[:10]
    scanned = (conference.starts_at + dt.timedelta(hours=2)).isoformat()
    rows = ["email,name,company,scanned"] + [
        f"{c.email},{c.first_name} {c.last_name},,{scanned}" for c in visitors
    ]
    marketing.event_imports.badge_scans_import(
        actor=actor, event=conference, data="\n".join(rows).encode()
    )

    templates = {t.name: t for t in EmailTemplate.objects.all()}
    for name, subject, html in DEMO_TEMPLATES:
        if name not in templates:
            templates[name] = marketing.email.template_save(
                actor=actor, name=name, subject=subject, html=html
            )
    if not EmailSend.objects.filter(name=DEMO_SEND).exists():
        # a draft: finishing a send delivers it over SMTP, and the demo has no mail server
        marketing.email.send_create(
            actor=actor,
            name=DEMO_SEND,
            template=templates[DEMO_TEMPLATES[0][0]],
            segment=segments["Medical MQLs"],
            subscription_type=SubscriptionType.objects.get(key="newsletter"),
            from_email=owner.email,
            from_name="Polevod Instruments",
            campaign="monthly-newsletter",
        )

    if not SocialPost.objects.filter(text=DEMO_POSTS[0][3]).exists():
        for days, hour, network, text, link in DEMO_POSTS:
            post: dict[str, Any] = {"network": network, "text": text}
            if link:
                post["link_url"] = link
            if not text.startswith("Draft:"):
                post["scheduled_at"] = (now + dt.timedelta(days=days)).replace(hour=hour)
            marketing.social.post_create(actor=actor, **post)


def load_demo(*, reset: bool = False, planner: Planner | None = None) -> DemoSummary:
    """Load (or, with `reset`, reload) the demo; returns fresh logins and record counts."""
    actor = Actor.system()
    with transaction.atomic():
        Organisation.current()
        Organisation.objects.select_for_update().get(pk=1)  # one demo load at a time
        _ensure_organisation(actor)
        people = _ensure_people(actor)
        marketing.ensure_default_subscription_types()  # idempotent with the migration
        if reset:
            _delete_demo_records(actor)
        created = not Account.objects.filter(tags__name=DEMO_TAG).exists()
        if created:
            _create_demo_records(actor, people, planner or plan_timeline)
            _create_demo_deals(actor)
            _create_demo_marketing(actor, people)
        logins = _fresh_logins(people)
        demo_accounts = Account.objects.filter(tags__name=DEMO_TAG)
        return DemoSummary(
            logins=logins,
            accounts=demo_accounts.count(),
            contacts=Contact.objects.filter(tags__name=DEMO_TAG).count(),
            touchpoints=Touchpoint.objects.filter(source="demo").count(),
            created=created,
        )
