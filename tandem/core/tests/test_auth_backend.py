"""Signing in and loading the signed-in user are Django's ModelBackend: passwords checked, an
inactive, deleted or changed user is signed out at their next request."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.test import Client

from tandem.core.models import Team, User

pytestmark = pytest.mark.django_db

PASSWORD = "a long pass phrase 1"


def test_it_is_the_configured_backend() -> None:
    """django-axes' lockout check first (it signs nobody in), then Django's ModelBackend."""
    assert settings.AUTHENTICATION_BACKENDS == [
        "tandem.core.lockout.LockoutBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]


def test_password_sign_in_is_django_s() -> None:
    User.objects.create_user(username="cy", password=PASSWORD)
    signed_in = authenticate(username="cy", password=PASSWORD)
    assert signed_in is not None
    assert signed_in.backend == "django.contrib.auth.backends.ModelBackend"
    assert authenticate(username="cy", password="wrong") is None


def test_the_signed_in_user_of_a_request_is_the_user_row() -> None:
    team = Team.objects.create(name="North", department="sales", region="north")
    user = User.objects.create_user(
        username="ann",
        password=PASSWORD,
        first_name="Анна",
        last_name="O'Hara",
        role="sales_rep",
        team=team,
        language="ru",
    )
    client = Client()
    assert client.post("/login/", {"username": "ann", "password": PASSWORD}).status_code == 302
    me = client.get("/api/v1/me").json()
    assert me["username"] == "ann"
    assert me["role"] == "sales_rep"
    # A change of role is seen at the next request (the user is read per request, not cached).
    User.objects.filter(pk=user.pk).update(role="head")
    assert client.get("/api/v1/me").json()["role"] == "head"


@pytest.mark.parametrize("change", ["deactivated", "deleted", "password changed"])
def test_a_user_who_is_gone_or_changed_is_signed_out(change: str) -> None:
    user = User.objects.create_user(username="bob", password=PASSWORD)
    client = Client()
    assert client.post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    if change == "deactivated":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif change == "deleted":
        user.delete()
    else:
        user.set_password("another long pass phrase 2")
        user.save(update_fields=["password"])
    assert client.get("/api/v1/me").status_code == 401


def test_a_missing_user_is_nobody() -> None:
    assert ModelBackend().get_user(10**9) is None
