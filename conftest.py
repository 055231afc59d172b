"""Shared fixtures: personas for every role on two sides (north, south), and their records.

Teams are per department and side; the head and the admin sit in their side's sales team (their
access does not depend on it). Every rep owns one account with one contact and one touchpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tandem.core.audit import Actor
from tandem.core.models import Role, Team, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact

ROLES = [Role.HEAD, Role.MARKETER, Role.SALES_REP, Role.FIELD_REP, Role.ADMIN]
SIDES = ["north", "south"]
PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105


@dataclass
class World:
    users: dict[tuple[str, str], User] = field(default_factory=dict)
    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    contacts: dict[tuple[str, str], Contact] = field(default_factory=dict)

    def user(self, role: str, side: str = "north") -> User:
        return self.users[(role, side)]


def _team_for(role: str, side: str) -> Team:
    department = {"marketer": "marketing", "field_rep": "field"}.get(role, "sales")
    team, _ = Team.objects.get_or_create(
        name=f"{side.title()} {department}", defaults={"department": department, "region": side}
    )
    return team


@pytest.fixture
def world(db: None) -> World:
    w = World()
    for side in SIDES:
        for role in ROLES:
            w.users[(role, side)] = User.objects.create_user(
                username=f"{role}_{side}",
                password=PASSWORD,
                email=f"{role}.{side}@tandem.test",
                role=role,
                team=_team_for(role, side),
            )
    system = Actor.system()
    for side in SIDES:
        for role in (Role.SALES_REP, Role.FIELD_REP):
            owner = w.users[(role, side)]
            account = crm.account_create(
                actor=system,
                name=f"{side} {role} account",
                owner_id=owner.pk,
                domains=[f"{side}-{role.replace('_', '-')}.example.com"],
            )
            contact = crm.contact_create(
                actor=system,
                first_name=f"{side}",
                last_name=f"{role} customer",
                email=f"buyer@{side}-{role.replace('_', '-')}.example.com",
                account_id=account.pk,
                owner_id=owner.pk,
            )
            crm.touchpoint_record(
                channel="website", kind="page_view", department="marketing", contact=contact
            )
            w.accounts[(role, side)] = account
            w.contacts[(role, side)] = contact
    return w


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Real hashing is tested where it matters (tokens, login); elsewhere it only costs time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request in Russian leaves Russian active in the thread; each test starts in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
