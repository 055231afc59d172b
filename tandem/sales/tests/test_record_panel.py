"""The sales panel on a contact's and an account's page: the record's deals and quotes, only
those the viewer may see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.sales import quotes, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(world, sales):  # type: ignore[no-untyped-def]
    north = world.user("sales_rep", "north")
    north.first_name, north.last_name = "Nina", "Northcott"
    north.save(update_fields=["first_name", "last_name"])
    contact = world.contacts[("sales_rep", "north")]
    ours = services.deal_create(
        actor=Actor(user=north),
        name="Northern expansion",
        pipeline_id=sales.pipeline.pk,
        account_id=contact.account_id,
        owner_id=north.pk,
        amount="1200",
        currency_code="EUR",
        close_date=dt.date(2031, 5, 17),
        contacts=[{"contact_id": contact.pk, "role": "champion"}],
    )
    quote = quotes.quote_create(
        actor=Actor(user=north),
        deal=ours,
        lines=[{"product_id": sales.widget.pk, "quantity": "2", "price_list_id": sales.eur.pk}],
    )
    south = world.user("sales_rep", "south")
    theirs = services.deal_create(
        actor=Actor.system(),
        name="Southern secret",
        pipeline_id=sales.pipeline.pk,
        account_id=contact.account_id,
        owner_id=south.pk,
        amount="999",
        currency_code="EUR",
        contacts=[{"contact_id": contact.pk, "role": "other"}],
    )
    return {"contact": contact, "ours": ours, "theirs": theirs, "quote": quote}


def _page(user: User, url: str) -> str:
    """The sales panel of the record's page ("" when the page has none)."""
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    start = html.find('<section class="card" id="record-deals">')
    return "" if start < 0 else html[start : html.index("</section>", start)]


@pytest.mark.parametrize("kind", ["contact", "account"])
def test_a_rep_sees_the_records_deals_and_quotes_of_their_team_only(world, deals, kind):  # type: ignore[no-untyped-def]
    contact = deals["contact"]
    url = (
        f"/crm/contacts/{contact.pk}/"
        if kind == "contact"
        else f"/crm/accounts/{contact.account_id}/"
    )
    html = _page(world.user("sales_rep", "north"), url)
    assert html
    assert f'href="/sales/deals/{deals["ours"].pk}/"' in html
    assert "Northern expansion" in html
    assert "Nina Northcott" in html  # the owner by name
    assert deals["quote"].number in html
    assert "Southern secret" not in html
    assert f"/sales/deals/{deals['theirs'].pk}/" not in html


def test_the_head_sees_every_deal_of_the_contact(world, deals):  # type: ignore[no-untyped-def]
    html = _page(world.user("head"), f"/crm/contacts/{deals['contact'].pk}/")
    assert "Northern expansion" in html
    assert "Southern secret" in html
    assert deals["quote"].number in html


def test_a_contact_in_no_deal_says_so(world, sales):  # type: ignore[no-untyped-def]
    contact = world.contacts[("field_rep", "north")]
    html = _page(world.user("head"), f"/crm/contacts/{contact.pk}/")
    assert "No deals." in html
