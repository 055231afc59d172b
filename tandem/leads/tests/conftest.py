"""Fixtures for the leads tests: a Moscow-time organisation, reps with capacity, fresh leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from tandem.core.audit import Actor
from tandem.core.models import Organisation, Role, User
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.leads.models import RepCapacity

MSK = ZoneInfo("Europe/Moscow")
FRIDAY_1730_MSK = dt.datetime(2025, 3, 7, 17, 30, tzinfo=MSK)


@pytest.fixture
def org(db: None) -> Organisation:
    org = Organisation.current()
    org.time_zone = "Europe/Moscow"
    org.save(update_fields=["time_zone"])
    return org


@pytest.fixture
def make_lead(db: None) -> Callable[..., Contact]:
    counter = {"n": 0}

    def make(
        region: str = "",
        industry: str = "other",
        owner: User | None = None,
        title: str = "",
        **extra: object,
    ) -> Contact:
        counter["n"] += 1
        n = counter["n"]
        account = crm.account_create(
            actor=Actor.system(),
            name=f"Lead company {n}",
            region=region,
            industry=industry,
            owner_id=owner.pk if owner else None,
        )
        return crm.contact_create(
            actor=Actor.system(),
            first_name="Lead",
            last_name=str(n),
            email=f"lead{n}@company{n}.test",
            account_id=account.pk,
            title=title,
            **extra,
        )

    return make


@pytest.fixture
def reps(world, org) -> list[User]:
    """Three sales reps with round-robin seats: north (weight 2), south (1), east (1, 1 seat)."""
    east = User.objects.create_user(
        username="sales_rep_east",
        role=Role.SALES_REP,
        email="east@tandem.test",
        time_zone="Asia/Vladivostok",
    )
    people = [world.user("sales_rep", "north"), world.user("sales_rep", "south"), east]
    for user, weight, capacity in zip(people, (2, 1, 1), (10, 10, 1), strict=True):
        RepCapacity.objects.create(user=user, weight=weight, capacity=capacity)
    return people
