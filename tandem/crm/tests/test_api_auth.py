"""API authentication: bearer tokens, scopes, session + CSRF, rate limit, token endpoints, /me."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone, translation

from tandem.core.models import ApiToken, AuditEntry
from tandem.crm.models import Contact
from tandem.crm.tests.api_client import API, ApiClient, api_as, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "details"}
    assert body["message"]
    return body


def test_no_credentials_is_401_json(world):
    for path in ["/me", "/contacts", "/accounts", "/touchpoints", "/tokens"]:
        _error(ApiClient(None).get(path), 401, "not_authenticated")


@pytest.mark.parametrize(
    "header",
    ["Bearer tdm_unknown", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer x" * 50],
)
def test_bad_authorization_header_is_401_and_never_falls_back_to_session(world, header):
    client = Client()
    client.force_login(world.user("head"))
    response = client.get(f"{API}/me", headers={"Authorization": header})
    _error(response, 401, "invalid_token")


def test_revoked_and_expired_tokens_are_401_with_reason(world):
    user = world.user("sales_rep")
    secret = token_for(user)
    ApiToken.objects.update(revoked_at=timezone.now())
    _error(ApiClient(secret).get("/me"), 401, "token_revoked")
    secret = token_for(user)
    ApiToken.objects.filter(revoked_at__isnull=True).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    _error(ApiClient(secret).get("/me"), 401, "token_expired")


def test_read_token_reads_but_cannot_write(world):
    rep = world.user("sales_rep")
    api = api_as(rep, "read")
    contact = world.contacts[("sales_rep", "north")]
    assert api.get(f"/contacts/{contact.pk}").status_code == 200
    before = Contact.objects.count()
    _error(api.post("/contacts", {"first_name": "New"}), 403, "read_only_token")
    _error(api.patch(f"/contacts/{contact.pk}", {"title": "x"}), 403, "read_only_token")
    _error(api.delete(f"/contacts/{contact.pk}"), 403, "read_only_token")
    _error(
        api.post(
            "/touchpoints",
            {"contact_id": contact.pk, "channel": "phone", "kind": "call", "department": "sales"},
        ),
        403,
        "read_only_token",
    )
    contact.refresh_from_db()
    assert Contact.objects.count() == before
    assert contact.title == ""


def test_token_acts_as_its_user(world):
    rep = world.user("field_rep", "south")
    body = api_as(rep, "read").get("/me").json()
    assert body["id"] == rep.pk
    assert body["role"] == "field_rep"
    assert body["department"] == "field"
    assert body["team"] == "South field"
    assert body["token"]["scope"] == "read"


def test_last_used_at_is_recorded(world):
    user = world.user("head")
    secret = token_for(user)
    assert ApiToken.objects.get().last_used_at is None
    ApiClient(secret).get("/me")
    assert ApiToken.objects.get().last_used_at is not None


def test_session_reads_and_writes_with_csrf_only(world):
    user = world.user("marketer")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"{API}/me").json()["id"] == user.pk
    response = client.post(
        f"{API}/contacts", data='{"first_name": "Csrf"}', content_type="application/json"
    )
    _error(response, 403, "csrf_failed")
    assert not Contact.objects.filter(first_name="Csrf").exists()
    client.get(f"{API}/docs")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"{API}/contacts",
        data='{"first_name": "Csrf"}',
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201
    assert Contact.objects.get(first_name="Csrf").owner == user


@override_settings(API_RATE_LIMIT=3)
def test_rate_limit_per_user_answers_429_with_retry_after(world):
    user = world.user("head")
    first, second = ApiClient(token_for(user, name="a")), ApiClient(token_for(user, name="b"))
    assert [first.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    response = first.get("/me")
    body = _error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert body["details"]["limit"] == 3
    # a fresh token buys no fresh budget: the limit is the user's (issue 15.4)
    _error(second.get("/me"), 429, "rate_limited")
    other = ApiClient(token_for(world.user("marketer"), name="c"))
    assert other.get("/me").status_code == 200  # another user has their own
    # refused writes count too and change nothing
    _error(first.post("/contacts", {"first_name": "Late"}), 429, "rate_limited")
    assert not Contact.objects.filter(first_name="Late").exists()


def test_rate_limit_window_restarts(world):
    from tandem.core.api_auth import check_rate_limit
    from tandem.core.api_errors import ApiError

    check_rate_limit("w", limit=1, now=120.0)
    with pytest.raises(ApiError) as caught:
        check_rate_limit("w", limit=1, now=150.5)
    assert caught.value.headers == {"Retry-After": "30"}
    check_rate_limit("w", limit=1, now=180.0)  # the next minute


def test_tokens_are_created_by_session_listed_and_revoked(world):
    user = world.user("sales_rep")
    client = Client()
    client.force_login(user)
    response = client.post(
        f"{API}/tokens",
        data='{"name": "script", "scope": "write"}',
        content_type="application/json",
    )
    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("tdm_")
    assert created["scope"] == "write"
    api = ApiClient(created["secret"])
    listed = api.get("/tokens").json()
    assert [t["name"] for t in listed] == ["script"]
    assert "secret" not in listed[0]
    assert created["secret"] not in api.get("/tokens").content.decode()
    assert api.delete(f"/tokens/{created['id']}").status_code == 204
    _error(api.get("/me"), 401, "token_revoked")
    entries = AuditEntry.objects.filter(model="core.ApiToken").order_by("id")
    assert [(e.action, e.token_id) for e in entries] == [
        ("create", None),
        ("update", created["id"]),
    ]


def test_a_token_cannot_mint_tokens(world):
    api = api_as(world.user("head"))
    _error(api.post("/tokens", {"name": "child", "scope": "write"}), 403, "session_required")
    assert ApiToken.objects.count() == 1


def test_others_tokens_are_404(world):
    other = world.user("head", "south")
    token_for(other, name="theirs")
    theirs = ApiToken.objects.get(user=other)
    api = api_as(world.user("head"))
    assert [t["name"] for t in api.get("/tokens").json()] == ["test"]
    _error(api.delete(f"/tokens/{theirs.pk}"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_docs_page_loads_its_assets_from_tandem(world):
    client = Client()
    html = client.get(f"{API}/docs").content.decode()
    assert "cdn" not in html.lower()
    assert "https://" not in html
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js"]:
        assert f'"{API}/docs/assets/{asset}"' in html
        response = client.get(f"{API}/docs/assets/{asset}")
        assert response.status_code == 200
        assert len(b"".join(response.streaming_content)) > 1000
    assert client.get(f"{API}/docs/assets/..%2Fsettings.py").status_code == 404
    assert client.get(f"{API}/openapi.json").json()["info"]["title"] == "Tandem API"


def test_error_messages_follow_accept_language(world):
    # A request activates its language for the thread; restore it so later tests run in English.
    with translation.override("en"):
        api = api_as(world.user("head"), "read")
        response = api.get("/contacts/999999", headers={"Accept-Language": "ru"})
        assert response.json() == {
            "code": "not_found",
            "message": "Такой записи нет.",
            "details": {},
        }
        marketer = api_as(world.user("marketer"))
        contact = world.contacts[("sales_rep", "north")]
        response = marketer.delete(f"/contacts/{contact.pk}", headers={"Accept-Language": "ru"})
        assert response.status_code == 403
        assert response.json()["message"] == "Вам нельзя удалять эту запись."
