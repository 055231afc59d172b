"""Segment identify traits and alias merges, through the real /v1/batch endpoint: the `name`
trait fills first and last name; after an alias merges two known people, every touchpoint that
moved shows on the surviving contact's account timeline (page and selector)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.crm import selectors
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.tracking.models import Source
from tandem.tracking.services import trait_names

pytestmark = pytest.mark.django_db


def _send(key: str, *events: dict[str, Any]) -> None:
    response = Client().post(
        "/v1/batch",
        data=json.dumps({"writeKey": key, "batch": events}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({"name": "Ann Lee"}, ("Ann", "Lee")),
        ({"name": "  Ann   Marie  Lee "}, ("Ann", "Marie Lee")),
        ({"name": "Cher"}, ("Cher", "")),
        ({"name": "Ann Lee", "firstName": "Annie"}, ("Annie", "Lee")),
        ({"name": "Ann Lee", "lastName": "Lee-Smith"}, ("Ann", "Lee-Smith")),
        ({"name": "Ann Lee", "first_name": "A", "last_name": "L"}, ("A", "L")),
        ({"name": 42}, ("", "")),
        ({"name": "Ольга Смирнова"}, ("Ольга", "Смирнова")),
    ],
)
def test_the_name_trait_splits_into_first_and_last_name(
    traits: dict[str, Any], expected: tuple[str, str]
) -> None:
    names = trait_names(traits)
    assert (names["first_name"], names["last_name"]) == expected


def test_identify_with_a_name_trait_fills_first_and_last_name(
    website: tuple[Source, str],
) -> None:
    _source, key = website
    _send(
        key,
        {
            "type": "identify",
            "userId": "u-name",
            "messageId": "n1",
            "traits": {"email": "ann.lee@example.org", "name": "Ann Marie Lee"},
        },
    )
    ann = Contact.objects.get(email="ann.lee@example.org")
    assert (ann.first_name, ann.last_name) == ("Ann", "Marie Lee")
    # a known contact without a name gets it from a later identify (blanks only)
    bo = crm.contact_create(actor=Actor.system(), email="bo@example.org")
    _send(
        key,
        {
            "type": "identify",
            "userId": "u-bo",
            "messageId": "n2",
            "traits": {"email": "bo@example.org", "name": "Bo Berg"},
        },
        {
            "type": "identify",
            "userId": "u-bo",
            "messageId": "n3",
            "traits": {"name": "Someone Else"},
        },
    )
    bo.refresh_from_db()
    assert (bo.first_name, bo.last_name) == ("Bo", "Berg")


def test_after_an_alias_merge_every_moved_touchpoint_shows_on_the_survivors_account(
    website: tuple[Source, str], world: World
) -> None:
    _source, key = website
    acme = crm.account_create(actor=Actor.system(), name="Acme", domains=["acme.example"])
    _send(
        key,
        {
            "type": "identify",
            "userId": "new-id",
            "messageId": "i1",
            "traits": {"email": "ann@acme.example", "name": "Ann Lee"},
        },
    )
    survivor = Contact.objects.get(email="ann@acme.example")
    crm.contact_update(actor=Actor.system(), contact=survivor, account_id=acme.pk)
    other = crm.account_create(actor=Actor.system(), name="Old Employer")
    _send(
        key,
        {"type": "page", "anonymousId": "anon-9", "messageId": "p1"},
        {"type": "track", "event": "Pricing Viewed", "anonymousId": "anon-9", "messageId": "t1"},
        {
            "type": "identify",
            "userId": "old-id",
            "anonymousId": "anon-9",
            "messageId": "i2",
            "traits": {"email": "ann.personal@example.org"},
        },
        {"type": "track", "event": "Demo Requested", "userId": "old-id", "messageId": "t2"},
    )
    old = Contact.objects.get(email="ann.personal@example.org")
    crm.contact_update(actor=Actor.system(), contact=old, account_id=other.pk)
    _send(key, {"type": "track", "event": "Trial Started", "userId": "old-id", "messageId": "t3"})
    moved = set(Touchpoint.objects.filter(contact=old).values_list("pk", flat=True))
    assert len(moved) == 5  # page, track, identify, two tracks as the known person
    assert Touchpoint.objects.filter(pk__in=moved, account__isnull=True).exists()

    _send(key, {"type": "alias", "previousId": "old-id", "userId": "new-id", "messageId": "a1"})

    assert not Contact.objects.filter(pk=old.pk).exists()
    rows = Touchpoint.objects.filter(pk__in=moved)
    assert set(rows.values_list("contact_id", "account_id")) == {(survivor.pk, acme.pk)}
    head = world.user("head")
    on_timeline = {t.pk for t in selectors.timeline(head, account=acme, size=100).items}
    assert moved <= on_timeline
    assert not Touchpoint.objects.filter(account=other).exists()
    client = Client()
    assert client.login(username=head.username, password=PASSWORD)
    page = client.get(f"/crm/accounts/{acme.pk}/").content.decode()
    for kind in ("Pricing Viewed", "Demo Requested", "Trial Started"):
        assert kind in page
