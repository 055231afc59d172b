"""Tandem's session store reads sessions as Django's database store does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tandem.core.models import User
from tandem.core.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_store_is_the_configured_engine() -> None:
    assert settings.SESSION_ENGINE == "tandem.core.sessions"


def test_a_saved_session_reads_back_as_django_reads_it() -> None:
    saved = SessionStore()
    saved["tandem_language"] = "ru"
    saved["cart"] = {"items": [1, 2], "note": "«ёлка» <b>"}
    saved.save()

    ours = SessionStore(saved.session_key)
    django = DjangoStore(saved.session_key)
    assert (
        dict(ours.items())
        == dict(django.items())
        == {
            "tandem_language": "ru",
            "cart": {"items": [1, 2], "note": "«ёлка» <b>"},
        }
    )
    assert ours.session_key == saved.session_key


@pytest.mark.parametrize("key", ["expired", "unknown"])
def test_an_expired_or_unknown_session_is_empty_and_forgets_its_key(key: str) -> None:
    saved = SessionStore()
    saved["x"] = 1
    saved.save()
    Session.objects.filter(pk=saved.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    store = SessionStore(saved.session_key if key == "expired" else "z" * 32)
    assert dict(store.items()) == {}
    assert store.session_key is None
    assert dict(DjangoStore(saved.session_key).items()) == {}


def test_signing_in_and_out_goes_through_the_store() -> None:
    user = User.objects.create_user(username="s", password="a long pass phrase 1", role="head")
    client = Client()
    assert (
        client.post("/login/", {"username": "s", "password": "a long pass phrase 1"}).status_code
        == 302
    )
    assert client.get("/api/v1/me").json()["username"] == "s"
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).get("_auth_user_id") == str(user.pk)
    client.post("/logout/")
    assert client.get("/api/v1/me").status_code == 401
