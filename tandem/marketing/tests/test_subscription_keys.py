"""A subscription type whose key has a hyphen works everywhere a key is used."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.marketing.models import SubscriptionType
from tandem.marketing.segments import services as seg

pytestmark = pytest.mark.django_db


def test_hyphenated_key_in_pages_and_segments(world: World) -> None:
    SubscriptionType.objects.create(key="product-news", name="Product news")
    client = Client()
    client.force_login(world.user("marketer"))
    for url in ("/marketing/subscriptions/", "/marketing/email/sends/new"):
        assert client.get(url).status_code == 200, url
    segment = seg.segment_create(
        actor=Actor(user=world.user("marketer")),
        name="Product news readers",
        definition={"type": "subscription", "subscription": "product-news"},
    )
    assert segment.pk


@pytest.mark.parametrize("key", ["Product news", "x;drop", "-lead", "a" * 51])
def test_a_bad_key_in_a_segment_is_refused(world: World, key: str) -> None:
    from tandem.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        seg.segment_create(
            actor=Actor(user=world.user("marketer")),
            name="Bad",
            definition={"type": "subscription", "subscription": key},
        )
