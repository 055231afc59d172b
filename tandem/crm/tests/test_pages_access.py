"""The page half of the access matrix: 5 roles x 2 sides x every customer-record page (exports
included).

Heads, admins and marketers see every record; reps see their own (their teammates here own
nothing). Marketers may not delete. An invisible record is a 404 on every page and is missing
from lists, counts and search.
"""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponseBase
from django.test import Client

from conftest import ROLES, SIDES, World
from tandem.crm.models import Account, Contact, Touchpoint

OWNERS = [(role, side) for side in SIDES for role in ("sales_rep", "field_rep")]
PERSONAS = [(role, side) for role in ROLES for side in SIDES]


def sees(viewer: tuple[str, str], owner: tuple[str, str]) -> bool:
    return viewer[0] in ("head", "admin", "marketer") or viewer == owner


def may_delete(viewer: tuple[str, str], owner: tuple[str, str]) -> bool:
    return viewer[0] in ("head", "admin") or viewer == owner


def _client(world: World, persona: tuple[str, str]) -> Client:
    client = Client()
    client.force_login(world.user(*persona))
    return client


def _row_links(html: str, kind: str) -> set[int]:
    return {int(pk) for pk in re.findall(rf'href="/crm/{kind}/(\d+)/"', html)}


def _export_ids(response: HttpResponseBase) -> set[int]:
    """The record ids of a CSV export (first column)."""
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    return {int(line.split(",", 1)[0]) for line in body.splitlines()[1:]}


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_contact_pages_follow_the_scope(world: World, persona: tuple[str, str]) -> None:
    client = _client(world, persona)
    expected = {world.contacts[o].pk for o in OWNERS if sees(persona, o)}

    listing = client.get("/crm/contacts/")
    assert listing.status_code == 200
    assert _row_links(listing.content.decode(), "contacts") == expected
    count = f"{len(expected)} contact{'s' if len(expected) != 1 else ''}"
    assert count in listing.content.decode()

    search = client.get("/crm/contacts/", {"q": "customer"})  # every contact's last name
    assert _row_links(search.content.decode(), "contacts") == expected
    assert _export_ids(client.get("/crm/contacts/export/", {"q": "customer"})) == expected

    for owner in OWNERS:
        contact = world.contacts[owner]
        visible = sees(persona, owner)
        for url in (
            f"/crm/contacts/{contact.pk}/",
            f"/crm/contacts/{contact.pk}/edit/",
            f"/crm/contacts/{contact.pk}/timeline/",
        ):
            assert client.get(url).status_code == (200 if visible else 404), url
        delete = client.get(f"/crm/contacts/{contact.pk}/delete/")
        assert delete.status_code == (200 if may_delete(persona, owner) else 404)


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_account_pages_follow_the_scope(world: World, persona: tuple[str, str]) -> None:
    client = _client(world, persona)
    expected = {world.accounts[o].pk for o in OWNERS if sees(persona, o)}

    listing = client.get("/crm/accounts/")
    assert _row_links(listing.content.decode(), "accounts") == expected
    search = client.get("/crm/accounts/", {"q": "account"})
    assert _row_links(search.content.decode(), "accounts") == expected
    by_domain = client.get("/crm/accounts/", {"q": "example.com"})
    assert _row_links(by_domain.content.decode(), "accounts") == expected
    assert _export_ids(client.get("/crm/accounts/export/", {"format": "csv"})) == expected

    for owner in OWNERS:
        account = world.accounts[owner]
        visible = sees(persona, owner)
        for url in (
            f"/crm/accounts/{account.pk}/",
            f"/crm/accounts/{account.pk}/edit/",
            f"/crm/accounts/{account.pk}/timeline/",
        ):
            assert client.get(url).status_code == (200 if visible else 404), url
        delete = client.get(f"/crm/accounts/{account.pk}/delete/")
        assert delete.status_code == (200 if may_delete(persona, owner) else 404)


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_forbidden_writes_are_404_and_change_nothing(
    world: World, persona: tuple[str, str]
) -> None:
    client = _client(world, persona)
    for owner in OWNERS:
        contact = world.contacts[owner]
        account = world.accounts[owner]
        touchpoints = Touchpoint.objects.count()
        if not sees(persona, owner):
            edit = client.post(
                f"/crm/contacts/{contact.pk}/edit/",
                {"first_name": "Hacked", "lifecycle_stage": "lead", "consent": "unknown"},
            )
            assert edit.status_code == 404
            activity = client.post(
                f"/crm/contacts/{contact.pk}/activity/", {"kind": "note", "note": "x"}
            )
            assert activity.status_code == 404
            assert (
                client.post(
                    f"/crm/accounts/{account.pk}/edit/", {"name": "Hacked", "industry": "other"}
                ).status_code
                == 404
            )
        if not may_delete(persona, owner):
            assert client.post(f"/crm/contacts/{contact.pk}/delete/").status_code == 404
            assert client.post(f"/crm/accounts/{account.pk}/delete/").status_code == 404
        assert Touchpoint.objects.count() == touchpoints
    for owner in OWNERS:
        survivor = Contact.objects.get(pk=world.contacts[owner].pk)
        assert survivor.first_name == owner[1]
        assert Account.objects.filter(pk=world.accounts[owner].pk).exists()
        assert (
            Account.objects.get(pk=world.accounts[owner].pk).name
            == f"{owner[1]} {owner[0]} account"
        )


def test_home_counts_only_visible_records(world: World) -> None:
    rep = _client(world, ("sales_rep", "south")).get("/").content.decode()
    # the head's home is the cockpit; the admin's counts the records as every role's home does
    admin = _client(world, ("admin", "north")).get("/").content.decode()
    assert re.search(r'class="stat-value">1<', rep)
    assert len(re.findall(r'class="stat-value">4<', admin)) == 2
    assert "north sales_rep customer" not in rep  # the recent timeline is scoped as well


def test_capability_pages_by_role(world: World) -> None:
    expected = {
        "head": (200, 200),
        "admin": (200, 200),
        "marketer": (403, 403),
        "sales_rep": (403, 403),
        "field_rep": (403, 403),
    }
    for persona in PERSONAS:
        client = _client(world, persona)
        assert (
            client.get("/settings/").status_code,
            client.get("/audit/").status_code,
        ) == expected[persona[0]], persona
        assert client.get("/tokens/").status_code == 200


def test_navigation_by_role(world: World) -> None:
    rep = _client(world, ("field_rep", "north")).get("/").content.decode()
    admin = _client(world, ("admin", "north")).get("/").content.decode()
    nav = re.compile(r'<nav class="nav".*?</nav>', re.S)
    rep_nav, admin_nav = nav.search(rep).group(0), nav.search(admin).group(0)  # type: ignore[union-attr]
    rep_items = re.findall(r">([^<]+)</a>", rep_nav)
    admin_items = re.findall(r">([^<]+)</a>", admin_nav)
    assert rep_items[:4] == ["Home", "Contacts", "Accounts", "Duplicates"]
    assert admin_items[:4] == ["Home", "Contacts", "Accounts", "Duplicates"]
    assert "API tokens" in rep_items
    assert "Audit log" not in rep_items
    assert "Organisation" not in rep_items
    assert "Channel rules" not in rep_items
    assert admin_items[-3:] == ["Background work", "Audit log", "API tokens"]
    assert {"Organisation", "Users and teams", "Channel rules"} <= set(admin_items)
    assert "Users and teams" not in rep_items


def test_anonymous_is_sent_to_sign_in(client: Client, world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    for url in (
        "/",
        "/crm/contacts/",
        f"/crm/contacts/{contact.pk}/",
        "/crm/contacts/export/",
        "/crm/accounts/export/",
        "/settings/",
        "/tokens/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
