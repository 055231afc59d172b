"""People are shown by name, never by username, on the record pages: a contact's, an account's
and a deal's pages with every panel filled (owner, deal, quote, hand-off, dispute thread,
activity) show each person by full name, for every role that sees them."""

from __future__ import annotations

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.leads import disputes
from tandem.leads.models import Handoff, RoutedBy
from tandem.sales import quotes
from tandem.sales import services as sales

pytestmark = pytest.mark.django_db


def test_no_username_appears_on_the_record_pages(world):  # type: ignore[no-untyped-def]
    names = {}
    for (role, side), user in world.users.items():
        user.first_name, user.last_name = f"{side.title()}", f"{role.title().replace('_', '')}son"
        user.save(update_fields=["first_name", "last_name"])
        names[user.username] = user.get_full_name()
    rep = world.user("sales_rep", "north")
    contact = world.contacts[("sales_rep", "north")]
    pipeline = sales.pipeline_create(
        actor=Actor.system(),
        name="New business",
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    product = sales.product_create(actor=Actor.system(), sku="W-1", name="Widget")
    eur = sales.price_list_create(
        actor=Actor.system(), name="Euro", currency_code="EUR", is_default=True
    )
    sales.price_set(actor=Actor.system(), price_list=eur, product=product, unit_price="100")
    deal = sales.deal_create(
        actor=Actor(user=rep),
        name="Renewal",
        pipeline_id=pipeline.pk,
        account_id=contact.account_id,
        owner_id=rep.pk,
        currency_code="EUR",
        contacts=[{"contact_id": contact.pk, "role": "champion"}],
    )
    quotes.quote_create(
        actor=Actor(user=rep),
        deal=deal,
        lines=[{"product_id": product.pk, "quantity": "1", "price_list_id": eur.pk}],
    )
    Handoff.objects.create(
        contact=contact, trigger="mql", assigned_to=rep, routed_by=RoutedBy.ACCOUNT_OWNER
    )
    disputes.dispute_open(
        actor=Actor(user=world.user("marketer")),
        subject="ownership",
        target=contact,
        summary="Whose lead is this?",
        body="We met them at the fair first.",
    )
    crm.touchpoint_record(
        channel="meeting",
        kind="meeting",
        department="sales",
        contact=contact,
        actor=rep,
        properties={"note": "Kick-off"},
    )
    pages = [
        f"/crm/contacts/{contact.pk}/",
        f"/crm/accounts/{contact.account_id}/",
        f"/sales/deals/{deal.pk}/",
    ]
    for viewer in (rep, world.user("head"), world.user("marketer"), world.user("admin")):
        client = Client()
        client.force_login(viewer)
        for url in pages:
            html = client.get(url).content.decode()
            for username in names:
                assert username not in html, (viewer.username, url, username)
        contact_page = client.get(pages[0]).content.decode()
        assert names[rep.username] in contact_page  # the owner, the deal's, the hand-off's rep
    assert str(rep) == "North SalesRepson"
    assert str(User(username="nameless")) == "nameless"
