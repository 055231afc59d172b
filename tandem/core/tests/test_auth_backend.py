"""The backend loads the signed-in user exactly as the ORM does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.forms.models import model_to_dict

from tandem.core.auth import Backend, load_user
from tandem.core.models import Team, User

pytestmark = pytest.mark.django_db


def test_it_is_the_configured_backend() -> None:
    assert settings.AUTHENTICATION_BACKENDS == ["tandem.core.auth.Backend"]


def test_a_user_loads_as_the_orm_loads_it() -> None:
    team = Team.objects.create(name="North", department="sales", region="north")
    user = User.objects.create_user(
        username="ann",
        password="a long pass phrase 1",
        first_name="Анна",
        last_name="O'Hara",
        email="ann@example.com",
        role="sales_rep",
        team=team,
        time_zone="Europe/Moscow",
        language="ru",
    )
    User.objects.filter(pk=user.pk).update(last_login=datetime(2026, 3, 1, 8, 30, tzinfo=UTC))

    loaded = load_user(user.pk)
    expected = User.objects.get(pk=user.pk)
    assert loaded is not None
    assert type(loaded) is User
    assert model_to_dict(loaded) == model_to_dict(expected)
    for field in User._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert loaded.last_login == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert loaded._state.adding is False
    assert loaded._state.db == "default"
    assert load_user(str(user.pk)) == expected  # the session stores it as text


def test_missing_inactive_and_malformed_users_are_nobody() -> None:
    user = User.objects.create_user(username="bob", password="a long pass phrase 1")
    assert Backend().get_user(user.pk) == user
    assert Backend().get_user(10**9) is None
    assert Backend().get_user("not a number") is None
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert Backend().get_user(user.pk) is None
    assert ModelBackend().get_user(user.pk) is None  # as Django's own


def test_password_sign_in_is_django_s() -> None:
    User.objects.create_user(username="cy", password="a long pass phrase 1")
    signed_in = authenticate(username="cy", password="a long pass phrase 1")
    assert signed_in is not None
    assert signed_in.backend == "tandem.core.auth.Backend"
    assert authenticate(username="cy", password="wrong") is None
