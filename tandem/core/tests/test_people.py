"""People and teams are created by core's services only: audited, validated, in both languages."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.utils import translation

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, Role, Team, User
from tandem.core.services import team_ensure, user_create

STRONG = "correct horse battery staple 42"


@pytest.mark.django_db
def test_a_created_user_can_sign_in_and_the_creation_is_audited_without_the_password() -> None:
    team = team_ensure(actor=Actor.system(), name="Marketing", department="marketing")
    user = user_create(
        actor=Actor.system(),
        username=" ana ",
        role=Role.MARKETER,
        password=STRONG,
        email="Ana@Example.COM",
        team_name="marketing",
        first_name="Ana",
    )
    assert (user.username, user.email, user.team, user.role) == (
        "ana", "ana@example.com", team, "marketer",
    )  # fmt: skip
    assert authenticate(username="ana", password=STRONG) == user
    entry = AuditEntry.objects.get(model="core.User", action="create")
    assert entry.changes["username"] == [None, "ana"]
    assert "password" not in entry.changes
    assert AuditEntry.objects.filter(model="core.Team", action="create").count() == 1


@pytest.mark.django_db
def test_a_user_without_a_password_cannot_sign_in() -> None:
    user = user_create(actor=Actor.system(), username="bot", role=Role.SALES_REP, password=None)
    assert not user.has_usable_password()


@pytest.mark.django_db
def test_ensuring_a_team_twice_makes_one_team_and_one_audit_entry() -> None:
    first = team_ensure(actor=Actor.system(), name="Sales North", department="sales", region="n")
    again = team_ensure(actor=Actor.system(), name="Sales North", department="sales")
    assert first == again
    assert Team.objects.count() == 1
    assert AuditEntry.objects.filter(model="core.Team").count() == 1
    with pytest.raises(InvalidInput) as refused:
        team_ensure(actor=Actor.system(), name="Bosses", department="head_office")
    assert set(refused.value.errors) == {"department"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            {
                "username": ["a user named 'Ana' already exists"],
                "role": ["'boss' is not a role; choose one of " + ", ".join(Role.values)],
                "team": ["no team named 'Nowhere' (teams: none yet)"],
                "email": ["'not-an-email' is not a valid email address"],
            },
        ),
        (
            "ru",
            {
                "username": ["пользователь 'Ana' уже есть"],
                "role": ["'boss' — не роль; выберите одну из: " + ", ".join(Role.values)],
                "team": ["команды 'Nowhere' нет (команды: пока нет)"],
                "email": ["'not-an-email' — недопустимый адрес электронной почты"],
            },
        ),
    ],
)
def test_every_refusal_is_named_in_the_users_language_and_nothing_is_written(
    language: str, expected: dict[str, list[str]]
) -> None:
    user_create(actor=Actor.system(), username="ana", role=Role.HEAD, password=None)
    with translation.override(language), pytest.raises(InvalidInput) as refused:
        user_create(
            actor=Actor.system(),
            username="Ana",
            role="boss",
            password=None,
            email="not-an-email",
            team_name="Nowhere",
        )
    assert refused.value.errors == expected
    assert User.objects.count() == 1
    assert AuditEntry.objects.filter(model="core.User").count() == 1


@pytest.mark.django_db
def test_a_weak_password_is_refused_with_djangos_reasons() -> None:
    with pytest.raises(InvalidInput) as refused:
        user_create(actor=Actor.system(), username="zoe", role=Role.HEAD, password="short")
    assert refused.value.errors["password"][0] == (
        "This password is too short. It must contain at least 8 characters."
    )
    assert not User.objects.exists()
