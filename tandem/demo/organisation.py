"""The demo organisation: its settings, holidays, teams and seventeen people (the head, three
marketers, two sales teams of three, two field reps per industry, an admin; one login printed
per role).

Invariants:
- idempotent: teams are matched by name and people by username; a person present is kept as is;
- people and teams are made by core's services (`team_ensure`, `user_create`), audited.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.utils import timezone

from tandem.core import services as core_services
from tandem.core.audit import Actor
from tandem.core.models import Department, Holiday, Role, User


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
    DemoPerson("marketer.events", Role.MARKETER, "Marketing", "Pablo", "Ruiz", False),
    DemoPerson("sales.north2", Role.SALES_REP, "Sales North", "Ingrid", "Larsen", False),
    DemoPerson("sales.north3", Role.SALES_REP, "Sales North", "Timur", "Abdullaev", False),
    DemoPerson("sales.south", Role.SALES_REP, "Sales South", "Sofia", "Rossi", False),
    DemoPerson("sales.south2", Role.SALES_REP, "Sales South", "Daniel", "Moreau", False),
    DemoPerson("sales.south3", Role.SALES_REP, "Sales South", "Alina", "Volkova", False),
    DemoPerson("field.agri2", Role.FIELD_REP, "Field Agriculture", "Nikolai", "Popov", False),
    DemoPerson("field.medical", Role.FIELD_REP, "Field Medical", "Mikhail", "Lebedev", False),
    DemoPerson("field.medical2", Role.FIELD_REP, "Field Medical", "Hanna", "Schmidt", False),
    DemoPerson("field.electronics", Role.FIELD_REP, "Field Electronics", "Elena", "Novak", False),
    DemoPerson("field.electronics2", Role.FIELD_REP, "Field Electronics", "Kenji", "Sato", False),
]
SALES_BY_REGION = {
    "north": ["sales", "sales.north2", "sales.north3"],
    "south": ["sales.south", "sales.south2", "sales.south3"],
}
FIELD_BY_INDUSTRY = {
    "agriculture": ["field", "field.agri2"],
    "medical": ["field.medical", "field.medical2"],
    "electronics": ["field.electronics", "field.electronics2"],
}

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


def ensure_organisation(actor: Actor) -> None:
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


def ensure_people(actor: Actor) -> dict[str, User]:
    for name, department, region in TEAMS:
        core_services.team_ensure(actor=actor, name=name, department=department, region=region)
    existing = {
        u.username: u for u in User.objects.filter(username__in=[p.username for p in PEOPLE])
    }
    for person in PEOPLE:
        if person.username not in existing:
            existing[person.username] = core_services.user_create(
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


def fresh_logins(people: dict[str, User]) -> list[Login]:
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
