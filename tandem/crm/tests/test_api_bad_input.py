"""Bad input to every writing endpoint is a 4xx JSON error and leaves the data unchanged."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from tandem.core.models import ApiToken, AuditEntry
from tandem.crm.models import Account, AccountDomain, Contact, ContactEmail, Tag, Touchpoint
from tandem.crm.tests.api_client import API, api_as

pytestmark = pytest.mark.django_db

BIG = 5 * 1024 * 1024 + 1


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def _state():
    """Everything an API write could touch, as plain values."""
    return {
        "accounts": list(Account.objects.order_by("pk").values()),
        "domains": list(AccountDomain.objects.order_by("pk").values()),
        "contacts": list(Contact.objects.order_by("pk").values()),
        "emails": list(ContactEmail.objects.order_by("pk").values()),
        "tags": list(Tag.objects.order_by("pk").values()),
        "touchpoints": list(Touchpoint.objects.order_by("pk").values()),
        "audit": AuditEntry.objects.count(),
        "tokens": list(ApiToken.objects.order_by("pk").values("pk", "revoked_at")),
    }


def _endpoints(world):
    contact = world.contacts[("sales_rep", "north")].pk
    account = world.accounts[("sales_rep", "north")].pk
    return {
        "create account": ("post", "/accounts", {"name": "A"}),
        "update account": ("patch", f"/accounts/{account}", {"name": "A"}),
        "create contact": ("post", "/contacts", {"first_name": "A"}),
        "update contact": ("patch", f"/contacts/{contact}", {"first_name": "A"}),
        "log touchpoint": (
            "post",
            "/touchpoints",
            {"contact_id": contact, "channel": "phone", "kind": "call", "department": "sales"},
        ),
    }


# (case, body builder from a valid body, expected status, expected code)
RAW_CASES = [
    ("malformed json", lambda ok: b'{"name": ', "application/json", 400, "malformed_json"),
    ("bad utf-8", lambda ok: b'{"name": "\xc3\x28"}', "application/json", 400, "bad_encoding"),
    ("lone surrogate", lambda ok: b'{"name": "\\ud800"}', "application/json", 400, "bad_encoding"),
    ("NaN", lambda ok: b'{"name": NaN}', "application/json", 400, "malformed_json"),
    (
        "wrong content type",
        lambda ok: json.dumps(ok).encode(),
        "text/plain",
        415,
        "unsupported_media_type",
    ),
    (
        "form body",
        lambda ok: b"name=A",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    (
        "latin-1 charset",
        lambda ok: json.dumps(ok).encode(),
        "application/json; charset=latin-1",
        415,
        "unsupported_media_type",
    ),
    (
        "oversize",
        lambda ok: b'{"name": "' + b"x" * BIG + b'"}',
        "application/json",
        413,
        "too_large",
    ),
    (
        "deep nesting",
        lambda ok: b'{"custom": ' + b'{"a": ' * 40 + b"1" + b"}" * 41,
        "application/json",
        400,
        "invalid",
    ),
    (
        "NUL character",
        lambda ok: json.dumps({**ok, "custom": {"k": "a\x00b"}}).encode(),
        "application/json",
        400,
        "invalid",
    ),
    ("not an object", lambda ok: b"[1, 2]", "application/json", 400, "invalid"),
]

FIELD_CASES = {
    # endpoint: [(case, body, field)]
    "create account": [
        ("missing field", {"region": "x"}, "name"),
        ("wrong type", {"name": ["A"]}, "name"),
        ("too long", {"name": "x" * 201}, "name"),
        ("unknown field", {"name": "A", "nmae": "B"}, "nmae"),
        ("bad choice", {"name": "A", "industry": "mining"}, "industry"),
        ("bad domain", {"name": "A", "domains": ["not a domain"]}, "domains"),
        (
            "bad industry attribute",
            {"name": "A", "industry": "medical", "industry_attributes": {"beds": -1}},
            "industry_attributes",
        ),
        ("undefined custom attribute", {"name": "A", "custom": {"colour": "red"}}, "custom.colour"),
        ("huge id", {"name": "A", "owner_id": 2**70}, "owner_id"),
        ("unknown owner", {"name": "A", "owner_id": 999999}, "owner_id"),
        ("null name", {"name": None}, "name"),
    ],
    "update account": [
        ("wrong type", {"tags": "vip"}, "tags"),
        ("empty name", {"name": ""}, "name"),
        ("null name", {"name": None}, "name"),
        ("unknown field", {"id": 5}, "id"),
        ("too many tags", {"tags": [f"t{i}" for i in range(51)]}, "tags"),
    ],
    "create contact": [
        ("nothing to name it", {"title": "CEO"}, "__all__"),
        ("bad email", {"email": "nobody"}, "email"),
        ("wrong type", {"first_name": 5}, "first_name"),
        ("too long", {"phone": "1" * 41}, "phone"),
        ("unknown field", {"first_name": "A", "mail": "a@b.cd"}, "mail"),
        ("bad stage", {"first_name": "A", "lifecycle_stage": "hot"}, "lifecycle_stage"),
        ("missing account", {"first_name": "A", "account_id": 999999}, "account_id"),
    ],
    "update contact": [
        ("null stage", {"lifecycle_stage": None}, "lifecycle_stage"),
        ("bad consent", {"consent": "yes"}, "consent"),
        ("bad email", {"email": "a@b"}, "email"),
        ("zero id", {"owner_id": 0}, "owner_id"),
    ],
    "log touchpoint": [
        ("missing field", {"contact_id": 1, "channel": "phone", "kind": "call"}, "department"),
        (
            "naive time",
            {
                "contact_id": 1,
                "channel": "phone",
                "kind": "call",
                "department": "sales",
                "occurred_at": "2024-01-01T10:00:00",
            },
            "occurred_at",
        ),
        (
            "absurd time",
            {
                "contact_id": 1,
                "channel": "phone",
                "kind": "call",
                "department": "sales",
                "occurred_at": "0001-01-01T00:00:00+14:00",
            },
            "occurred_at",
        ),
        (
            "empty channel",
            {"contact_id": 1, "channel": "", "kind": "call", "department": "sales"},
            "channel",
        ),
        ("no subject", {"channel": "phone", "kind": "call", "department": "sales"}, "__all__"),
        (
            "bad department",
            {"contact_id": 1, "channel": "phone", "kind": "call", "department": "finance"},
            "department",
        ),
    ],
}


@pytest.mark.parametrize("endpoint", list(FIELD_CASES))
def test_field_errors_name_the_field_and_change_nothing(world, endpoint):
    api = api_as(world.user("head"))
    method, path, _ok = _endpoints(world)[endpoint]
    for case, body, field in FIELD_CASES[endpoint]:
        before = _state()
        response = getattr(api, method)(path, body)
        assert response.status_code == 400, (case, response.content)
        error = response.json()
        assert field in error["details"], (case, error)
        assert error["details"][field], case
        assert _state() == before, case


@pytest.mark.parametrize(
    "endpoint",
    ["create account", "update account", "create contact", "update contact", "log touchpoint"],
)
@pytest.mark.parametrize(
    ("case", "make", "content_type", "status", "code"), RAW_CASES, ids=[c[0] for c in RAW_CASES]
)
def test_bad_bodies_are_refused_and_change_nothing(
    world, endpoint, case, make, content_type, status, code
):
    api = api_as(world.user("head"))
    method, path, ok = _endpoints(world)[endpoint]
    before = _state()
    response = getattr(api, method)(path, data=make(ok), content_type=content_type)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert _state() == before


def test_query_parameters_are_validated(world):
    api = api_as(world.user("head"))
    for path, field in [
        ("/contacts?limit=201", "limit"),
        ("/contacts?limit=abc", "limit"),
        ("/contacts?owner_id=-1", "owner_id"),
        ("/contacts?lifecycle_stage=hot", "lifecycle_stage"),
        ("/accounts?industry=mining", "industry"),
        ("/touchpoints?include_bots=maybe", "include_bots"),
        ("/contacts?q=%00", "q"),
        (f"/contacts?q={'x' * 201}", "q"),
        ("/contacts/99999999999999999999999", "contact_id"),
        ("/accounts/abc", "account_id"),
    ]:
        response = api.get(path)
        assert response.status_code == 400, (path, response.content)
        assert field in response.json()["details"], path


def test_unknown_paths_and_methods_are_json(world):
    api = api_as(world.user("head"))
    response = api.get("/nothing/here")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = api.client.put(f"{API}/contacts", headers=api.headers)
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]


def test_token_creation_bad_input(world):
    client = Client()
    client.force_login(world.user("head"))
    for body, field in [
        ({}, "name"),
        ({"name": "x", "scope": "root"}, "scope"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "extra": 1}, "extra"),
    ]:
        response = client.post(
            f"{API}/tokens", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["details"]
    assert ApiToken.objects.count() == 0
