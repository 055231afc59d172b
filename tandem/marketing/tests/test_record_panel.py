"""The marketing panel on a contact's page: the segments and static lists the contact is in
(marketing's records: marketers see them, reps do not) and its subscriptions, with a link to
the consent history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.marketing import consent
from tandem.marketing.models import SubscriptionType
from tandem.marketing.segments import services as seg
from tandem.marketing.subscriptions.defaults import ensure_defaults

pytestmark = pytest.mark.django_db


def _panel(user: User, url: str) -> str:
    client = Client()
    client.force_login(user)
    html = client.get(url).content.decode()
    start = html.find('<section class="card" id="record-marketing">')
    return "" if start < 0 else html[start : html.index("</section>", start)]


@pytest.fixture
def listed(world: Any) -> dict[str, Any]:
    marketer = world.user("marketer")
    contact = world.contacts[("sales_rep", "north")]
    other = world.contacts[("field_rep", "south")]
    vips = seg.segment_create(actor=Actor(user=marketer), name="VIP buyers", kind="static")
    seg.static_members_add(actor=Actor(user=marketer), segment=vips, contact_ids=[contact.pk])
    elsewhere = seg.segment_create(actor=Actor(user=marketer), name="Far away", kind="static")
    seg.static_members_add(actor=Actor(user=marketer), segment=elsewhere, contact_ids=[other.pk])
    northerners = seg.segment_create(
        actor=Actor(user=marketer),
        name="Northern accounts",
        kind="dynamic",
        definition={"type": "field", "field": "contact.first_name", "op": "eq", "value": "north"},
    )
    seg.segment_refresh(segment_id=northerners.pk)
    ensure_defaults(SubscriptionType)
    newsletter = SubscriptionType.objects.get(key="newsletter")
    consent.subscribe(contact=contact, subscription=newsletter, source="test", proven=True)
    return {"contact": contact, "vips": vips, "dynamic": northerners, "elsewhere": elsewhere}


def test_a_marketer_sees_the_contacts_segments_lists_and_subscriptions(world, listed):  # type: ignore[no-untyped-def]
    contact = listed["contact"]
    panel = _panel(world.user("marketer"), f"/crm/contacts/{contact.pk}/")
    assert f'href="/marketing/segments/{listed["vips"].pk}/"' in panel
    assert "static list" in panel
    assert f'href="/marketing/segments/{listed["dynamic"].pk}/"' in panel
    assert "Far away" not in panel
    assert 'Newsletter: <span class="badge">Granted</span>' in panel
    assert 'Product news: <span class="muted">not subscribed</span>' in panel
    assert f'href="/tracking/contacts/{contact.pk}/consent/"' in panel


def test_a_rep_sees_the_subscriptions_but_no_segments(world, listed):  # type: ignore[no-untyped-def]
    contact = listed["contact"]
    panel = _panel(world.user("sales_rep", "north"), f"/crm/contacts/{contact.pk}/")
    assert "Newsletter" in panel
    assert "VIP buyers" not in panel
    assert "/marketing/segments/" not in panel


def test_an_account_has_no_marketing_panel(world, listed):  # type: ignore[no-untyped-def]
    account_id = listed["contact"].account_id
    assert _panel(world.user("marketer"), f"/crm/accounts/{account_id}/") == ""
