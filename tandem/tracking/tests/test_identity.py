"""Identity resolution: anonymous → identified, conflicts, alias, group, merges."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, Identity, Touchpoint
from tandem.tracking.models import IdentityConflict, Source

pytestmark = pytest.mark.django_db


def _send(key: str, *events: dict[str, Any]) -> None:
    response = Client().post(
        "/v1/batch",
        data=json.dumps({"writeKey": key, "batch": events}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def test_identify_joins_earlier_anonymous_touchpoints(website: tuple[Source, str]) -> None:
    _source, key = website
    _send(
        key,
        {"type": "page", "anonymousId": "anon-7", "messageId": "p1"},
        {
            "type": "track",
            "event": "Whitepaper Downloaded",
            "anonymousId": "anon-7",
            "messageId": "t1",
        },
        {"type": "track", "event": "Pricing Viewed", "userId": "user-7", "messageId": "t2"},
        {"type": "page", "anonymousId": "someone-else", "messageId": "p2"},
    )
    assert Touchpoint.objects.filter(source="Website", contact__isnull=True).count() == 4

    _send(
        key,
        {
            "type": "identify",
            "userId": "user-7",
            "anonymousId": "anon-7",
            "messageId": "i1",
            "traits": {"email": "Eve@Example.org", "firstName": "Eve"},
        },
    )
    contact = Contact.objects.get(email="eve@example.org")
    assert contact.first_name == "Eve"
    assert sorted(Touchpoint.objects.filter(contact=contact).values_list("kind", flat=True)) == [
        "Pricing Viewed",
        "Whitepaper Downloaded",
        "identify",
        "page_view",
    ]
    assert Touchpoint.objects.filter(anonymous_id="someone-else", contact__isnull=True).count() == 1
    # Later events of either id land on the contact directly.
    _send(
        key, {"type": "track", "event": "Trial Started", "anonymousId": "anon-7", "messageId": "t3"}
    )
    assert Touchpoint.objects.get(kind="Trial Started").contact_id == contact.pk


def test_identify_finds_the_existing_contact_by_email(
    world: Any, website: tuple[Source, str]
) -> None:
    _source, key = website
    existing = world.contacts[("sales_rep", "north")]
    _send(
        key,
        {
            "type": "identify",
            "userId": "crm-1",
            "messageId": "i1",
            "traits": {"email": existing.email.upper()},
        },
    )
    assert Identity.objects.get(kind="user_id", value="crm-1").contact_id == existing.pk
    assert Contact.objects.filter(email=existing.email).count() == 1
    assert Touchpoint.objects.get(kind="identify").account_id == existing.account_id


def test_a_user_id_claimed_by_a_second_email_keeps_its_contact_and_is_logged(
    website: tuple[Source, str], caplog: pytest.LogCaptureFixture
) -> None:
    source, key = website
    _send(
        key,
        {
            "type": "identify",
            "userId": "u-1",
            "messageId": "i1",
            "traits": {"email": "first@example.org"},
        },
    )
    first = Contact.objects.get(email="first@example.org")
    with caplog.at_level(logging.WARNING, logger="tandem.tracking"):
        _send(
            key,
            {
                "type": "identify",
                "userId": "u-1",
                "messageId": "i2",
                "traits": {"email": "second@example.org"},
            },
        )
    assert Contact.objects.filter(email="second@example.org").count() == 0
    assert list(first.emails.values_list("email", flat=True)) == ["first@example.org"]
    conflict = IdentityConflict.objects.get()
    assert (conflict.user_id, conflict.kept_contact_id, conflict.claimed_email) == (
        "u-1",
        first.pk,
        "second@example.org",
    )
    row = Touchpoint.objects.get(message_id=f"s{source.pk}:i2")
    assert row.contact_id == first.pk
    assert row.properties["identity_conflict"] == {
        "claimed_email": "second@example.org",
        "kept_contact": first.pk,
    }
    assert "identity conflict: u-1 claimed by second@example.org" in caplog.text


def test_alias_of_two_known_people_merges_them(website: tuple[Source, str]) -> None:
    _source, key = website
    _send(
        key,
        {
            "type": "identify",
            "userId": "new-id",
            "messageId": "i1",
            "traits": {"email": "a@example.org"},
        },
        {
            "type": "identify",
            "userId": "old-id",
            "messageId": "i2",
            "traits": {"email": "b@example.org"},
        },
        {"type": "track", "event": "Old Thing", "userId": "old-id", "messageId": "t1"},
    )
    survivor = Contact.objects.get(email="a@example.org")
    _send(key, {"type": "alias", "previousId": "old-id", "userId": "new-id", "messageId": "a1"})
    assert not Contact.objects.filter(email="b@example.org").exists()
    assert Identity.objects.get(value="old-id").contact_id == survivor.pk
    assert Touchpoint.objects.get(kind="Old Thing").contact_id == survivor.pk
    assert sorted(survivor.emails.values_list("email", flat=True)) == [
        "a@example.org",
        "b@example.org",
    ]


def test_merging_contacts_merges_their_identities(website: tuple[Source, str]) -> None:
    _source, key = website
    _send(
        key,
        {
            "type": "identify",
            "userId": "x1",
            "anonymousId": "dev-1",
            "messageId": "i1",
            "traits": {"email": "x1@example.org"},
        },
        {
            "type": "identify",
            "userId": "x2",
            "anonymousId": "dev-2",
            "messageId": "i2",
            "traits": {"email": "x2@example.org"},
        },
    )
    one = Contact.objects.get(email="x1@example.org")
    two = Contact.objects.get(email="x2@example.org")
    crm.contacts_merge(actor=Actor.system(), survivor=one, merged=two)
    assert sorted(Identity.objects.filter(contact=one).values_list("value", flat=True)) == [
        "dev-1",
        "dev-2",
        "x1",
        "x2",
    ]
    _send(key, {"type": "page", "anonymousId": "dev-2", "messageId": "p9"})
    assert Touchpoint.objects.get(anonymous_id="dev-2", kind="page_view").contact_id == one.pk


def test_group_binds_to_the_account_with_that_domain(
    world: Any, website: tuple[Source, str]
) -> None:
    _source, key = website
    account = world.accounts[("field_rep", "south")]
    _send(
        key,
        {
            "type": "identify",
            "userId": "g-user",
            "messageId": "i1",
            "traits": {"email": "new.person@example.org"},
        },
        {
            "type": "group",
            "userId": "g-user",
            "groupId": "org-42",
            "messageId": "g1",
            "traits": {"name": "Whatever", "website": "https://south-field-rep.example.com/"},
        },
        {
            "type": "group",
            "userId": "g-user",
            "groupId": "org-42",
            "messageId": "g2",
            "traits": {"name": "Renamed"},
        },
    )
    contact = Contact.objects.get(email="new.person@example.org")
    assert contact.account_id == account.pk
    assert Account.objects.count() == 4  # no new account
    assert set(Touchpoint.objects.filter(contact=contact).values_list("account_id", flat=True)) == {
        account.pk
    }
