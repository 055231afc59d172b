"""Sessions are Django's cached database store on the shared sessions cache: what is saved
reads back, an expired or unknown session is nobody's, and signing out ends the session in the
database and the cache alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.backends.cached_db import SessionStore as CachedStore
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from tandem.core.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a long pass phrase 1"


def _signed_in(username: str = "s") -> tuple[Client, User]:
    user = User.objects.create_user(username=username, password=PASSWORD, role="head")
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client, user


def test_the_engine_is_django_s_cached_database_store_on_the_sessions_cache() -> None:
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert settings.SESSION_CACHE_ALIAS == "sessions"


def test_the_server_s_sessions_cache_is_shared_between_its_processes() -> None:
    # pytest gives each test process memory caches (conftest); the server's sessions cache is
    # one every gunicorn worker reads, so a sign-out in one worker holds in all.
    from config import settings as configured

    sessions = configured.CACHES["sessions"]["BACKEND"]
    assert sessions in {
        "django.core.cache.backends.filebased.FileBasedCache",
        "django.core.cache.backends.redis.RedisCache",
    }


def test_a_saved_session_reads_back_from_the_cache_and_from_the_database() -> None:
    saved = CachedStore()
    saved["tandem_language"] = "ru"
    saved["cart"] = {"items": [1, 2], "note": "«ёлка» <b>"}
    saved.save()
    expected = {"tandem_language": "ru", "cart": {"items": [1, 2], "note": "«ёлка» <b>"}}

    assert dict(CachedStore(saved.session_key).items()) == expected
    caches["sessions"].clear()  # a cold cache (a restart): read from the database
    assert dict(CachedStore(saved.session_key).items()) == expected


@pytest.mark.parametrize("key", ["expired", "unknown"])
def test_an_expired_or_unknown_session_is_nobody_s(key: str) -> None:
    client, _user = _signed_in()
    assert client.get("/api/v1/me").status_code == 200
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    if key == "expired":
        Session.objects.filter(pk=cookie.value).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        caches["sessions"].clear()  # the cache entry ends with the session; here it is ended early
    else:
        cookie.set(settings.SESSION_COOKIE_NAME, "z" * 32, "z" * 32)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/crm/contacts/").status_code == 302  # to the sign-in page


def test_signing_in_and_out_writes_and_ends_the_session_everywhere() -> None:
    client, user = _signed_in()
    assert client.get("/api/v1/me").json()["username"] == "s"
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert CachedStore(key).get("_auth_user_id") == str(user.pk)
    assert Session.objects.filter(pk=key).exists()
    assert caches["sessions"].get(KEY_PREFIX + key) is not None

    client.post("/logout/")
    assert client.get("/api/v1/me").status_code == 401
    assert not Session.objects.filter(pk=key).exists()
    assert caches["sessions"].get(KEY_PREFIX + key) is None
    # The old cookie, replayed, is nobody's.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get("/api/v1/me").status_code == 401
