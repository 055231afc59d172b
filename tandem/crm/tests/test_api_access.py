"""The API half of the access matrix: every role x side against every endpoint (exports included).

Invisible records are a 404 on their own URL and missing from lists and search; reps cannot
change others' records; marketers cannot delete; only head and admin delete anything.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tandem.crm.models import Account, Contact, Touchpoint
from tandem.crm.tests.api_client import api_as

pytestmark = pytest.mark.django_db

PERSONAS = [
    (role, side)
    for role in ("head", "marketer", "sales_rep", "field_rep", "admin")
    for side in ("north", "south")
]
REPS = ("sales_rep", "field_rep")
OWNERS = [(role, side) for role in REPS for side in ("north", "south")]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def _visible(role, side, owner):
    """Does the persona see the records owned by `owner` (a (role, side) of a rep)?"""
    return role not in REPS or owner == (role, side)


def _ids(response):
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def _export_ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return {int(line.split(",", 1)[0]) for line in body.splitlines()[1:]}


@pytest.mark.parametrize(("role", "side"), PERSONAS)
def test_reads(world, role, side):
    api = api_as(world.user(role, side), "read")
    contacts = {o: world.contacts[o].pk for o in OWNERS}
    accounts = {o: world.accounts[o].pk for o in OWNERS}
    seen = {o for o in OWNERS if _visible(role, side, o)}

    assert _ids(api.get("/contacts")) == {contacts[o] for o in seen}
    assert _ids(api.get("/accounts")) == {accounts[o] for o in seen}
    assert _ids(api.get("/touchpoints")) == set(
        Touchpoint.objects.filter(contact_id__in=[contacts[o] for o in seen]).values_list(
            "pk", flat=True
        )
    )
    # search and filters never reveal an invisible record
    assert _ids(api.get("/contacts?q=customer")) == {contacts[o] for o in seen}
    assert _ids(api.get("/accounts?q=example.com")) == {accounts[o] for o in seen}
    # exports hold exactly the list's records
    assert _export_ids(api.get("/contacts/export?q=customer")) == {contacts[o] for o in seen}
    assert _export_ids(api.get("/accounts/export?format=csv")) == {accounts[o] for o in seen}
    for owner in OWNERS:
        status = 200 if owner in seen else 404
        c, a = contacts[owner], accounts[owner]
        for path in (
            f"/contacts/{c}",
            f"/contacts/{c}/timeline",
            f"/accounts/{a}",
            f"/accounts/{a}/timeline",
        ):
            response = api.get(path)
            assert response.status_code == status, (path, response.content)
            if status == 404:
                assert response.json()["code"] == "not_found"
        email = world.contacts[owner].email
        assert _ids(api.get(f"/contacts?email={email}")) == ({c} if owner in seen else set())
        assert _ids(api.get(f"/touchpoints?contact_id={c}")) == (
            set(Touchpoint.objects.filter(contact_id=c).values_list("pk", flat=True))
            if owner in seen
            else set()
        )


@pytest.mark.parametrize(("role", "side"), PERSONAS)
def test_changes(world, role, side):
    api = api_as(world.user(role, side))
    for owner in OWNERS:
        contact, account = world.contacts[owner], world.accounts[owner]
        expected = 200 if _visible(role, side, owner) else 404
        response = api.patch(f"/contacts/{contact.pk}", {"title": f"by {role}"})
        assert response.status_code == expected, response.content
        response = api.patch(f"/accounts/{account.pk}", {"region": f"by {role}"})
        assert response.status_code == expected, response.content
        contact.refresh_from_db()
        account.refresh_from_db()
        assert contact.title == (f"by {role}" if expected == 200 else "")
        assert account.region == (f"by {role}" if expected == 200 else "")

        before = Touchpoint.objects.count()
        response = api.post(
            "/touchpoints",
            {
                "contact_id": contact.pk,
                "channel": "phone",
                "kind": "sales_call",
                "department": "sales",
            },
        )
        if expected == 200:
            assert response.status_code == 201
            assert Touchpoint.objects.count() == before + 1
        else:
            assert response.status_code == 400
            assert response.json()["details"] == {"contact_id": ["no such contact"]}
            assert Touchpoint.objects.count() == before


@pytest.mark.parametrize(("role", "side"), PERSONAS)
def test_deletes(world, role, side):
    api = api_as(world.user(role, side))
    for owner in OWNERS:
        contact, account = world.contacts[owner], world.accounts[owner]
        if not _visible(role, side, owner):
            expected = 404
        elif role == "marketer":
            expected = 403
        else:
            expected = 204
        assert api.delete(f"/contacts/{contact.pk}").status_code == expected
        assert Contact.objects.filter(pk=contact.pk).exists() == (expected != 204)
        assert api.delete(f"/accounts/{account.pk}").status_code == expected
        assert Account.objects.filter(pk=account.pk).exists() == (expected != 204)


@pytest.mark.parametrize(("role", "side"), PERSONAS)
def test_read_tokens_cannot_write(world, role, side):
    api = api_as(world.user(role, side), "read")
    contact = world.contacts[("sales_rep", side)]
    account = world.accounts[("sales_rep", side)]
    calls = [
        api.post("/contacts", {"first_name": "X"}),
        api.post("/accounts", {"name": "X"}),
        api.patch(f"/contacts/{contact.pk}", {"title": "X"}),
        api.patch(f"/accounts/{account.pk}", {"region": "X"}),
        api.delete(f"/contacts/{contact.pk}"),
        api.delete(f"/accounts/{account.pk}"),
        api.post(
            "/touchpoints",
            {"contact_id": contact.pk, "channel": "phone", "kind": "call", "department": "sales"},
        ),
    ]
    assert [r.status_code for r in calls] == [403] * 7
    assert {r.json()["code"] for r in calls} == {"read_only_token"}
    assert (Contact.objects.count(), Account.objects.count(), Touchpoint.objects.count()) == (
        4,
        4,
        4,
    )


def test_rep_cannot_attach_a_contact_to_an_invisible_account(world):
    rep = world.user("sales_rep", "north")
    api = api_as(rep)
    theirs = world.accounts[("sales_rep", "south")]
    response = api.post("/contacts", {"first_name": "Sneaky", "account_id": theirs.pk})
    assert response.status_code == 400
    assert response.json()["details"] == {"account_id": ["no such account"]}
    mine = world.contacts[("sales_rep", "north")]
    response = api.patch(f"/contacts/{mine.pk}", {"account_id": theirs.pk})
    assert response.status_code == 400
    mine.refresh_from_db()
    assert mine.account_id == world.accounts[("sales_rep", "north")].pk
    assert not Contact.objects.filter(first_name="Sneaky").exists()
