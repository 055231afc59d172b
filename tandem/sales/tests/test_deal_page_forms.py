"""The deal page's POSTs go through Django forms: refused input re-renders the deal with the
form's errors (HTTP 400, JSON for the board) and changes nothing; good input saves and goes back
to the deal. Actions are for those who sell: a marketer gets the page, never the change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.sales import quotes, services
from tandem.sales.models import Deal, DealContact, Quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(world, sales) -> Deal:
    rep = world.user("sales_rep")
    return services.deal_create(
        actor=Actor(user=rep),
        name="Seed drills",
        owner_id=rep.pk,
        amount="1200",
        close_date=dt.date(2025, 5, 1),
        contacts=[{"contact_id": world.contacts[("sales_rep", "north")].pk, "role": "champion"}],
    )


@pytest.fixture
def rep(client: Client, world) -> Client:
    client.force_login(world.user("sales_rep"))
    return client


def _url(name: str, deal: Deal) -> str:
    return reverse(f"sales:{name}", args=[deal.pk])


def test_moving_without_a_stage_re_renders_the_deal_with_the_reason(rep, sales, deal):
    response = rep.post(_url("deal_move", deal), {"stage": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a stage." in html
    assert "Seed drills" in html
    assert rep.post(_url("deal_move", deal), {"stage": "abc"}).status_code == 400
    assert Deal.objects.get(pk=deal.pk).stage == sales.stages["Qualify"]


def test_a_stage_of_another_pipeline_is_refused_on_the_page(rep, sales, deal):
    other = services.pipeline_create(
        actor=Actor.system(),
        name="Renewals",
        stages=[
            {"name": "Talk", "probability": 50},
            {"name": "Renewed", "kind": "won"},
            {"name": "Gone", "kind": "lost"},
        ],
    )
    foreign = other.stages.get(name="Talk")
    response = rep.post(_url("deal_move", deal), {"stage": foreign.pk})
    assert response.status_code == 400
    assert "not a stage of this deal" in response.content.decode()
    moved = rep.post(_url("deal_move", deal), {"stage": sales.stages["Propose"].pk})
    assert moved.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage == sales.stages["Propose"]


def test_the_board_gets_json_for_a_refused_move(world, sales, deal):
    board = Client(enforce_csrf_checks=True)
    board.force_login(world.user("sales_rep"))
    token = board.get(reverse("sales:board")).cookies["csrftoken"].value
    refused = board.post(
        _url("deal_move", deal),
        {"stage": ""},
        HTTP_X_CSRFTOKEN=token,
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["ok"] is False
    assert body["message"] == "Choose a stage."
    assert list(body["errors"]) == ["stage"]


def test_editing_with_an_empty_name_or_bad_date_keeps_the_deal(rep, deal):
    empty = rep.post(_url("deal_edit", deal), {"name": "", "close_date": "2025-06-01"})
    assert empty.status_code == 400
    assert "This field is required." in empty.content.decode()
    bad_date = rep.post(_url("deal_edit", deal), {"name": "X", "close_date": "31.02.2025"})
    assert bad_date.status_code == 400
    too_long = rep.post(_url("deal_edit", deal), {"name": "x" * 201})
    assert too_long.status_code == 400
    unchanged = Deal.objects.get(pk=deal.pk)
    assert (unchanged.name, unchanged.close_date) == ("Seed drills", dt.date(2025, 5, 1))


def test_a_good_edit_saves_name_date_and_forecast_category(rep, deal):
    response = rep.post(
        _url("deal_edit", deal),
        {"name": "Сеялки", "close_date": "2025-06-30", "forecast_category": "commit"},
    )
    assert response.status_code == 302
    assert response["Location"] == _url("deal_detail", deal)
    saved = Deal.objects.get(pk=deal.pk)
    assert (saved.name, saved.close_date, saved.forecast_category) == (
        "Сеялки",
        dt.date(2025, 6, 30),
        "commit",
    )


def test_adding_a_contact_needs_an_id_a_role_and_a_visible_contact(rep, world, deal):
    assert (
        rep.post(_url("deal_contact_add", deal), {"contact": "", "role": "user"}).status_code == 400
    )
    bad_role = rep.post(
        _url("deal_contact_add", deal),
        {"contact": world.contacts[("sales_rep", "north")].pk, "role": "boss"},
    )
    assert bad_role.status_code == 400
    hidden = rep.post(
        _url("deal_contact_add", deal),
        {"contact": world.contacts[("sales_rep", "south")].pk, "role": "user"},
    )
    assert hidden.status_code == 400
    assert DealContact.objects.filter(deal=deal).count() == 1
    changed = rep.post(
        _url("deal_contact_add", deal),
        {"contact": world.contacts[("sales_rep", "north")].pk, "role": "decision_maker"},
    )
    assert changed.status_code == 302
    assert list(DealContact.objects.filter(deal=deal).values_list("role", flat=True)) == [
        "decision_maker"
    ]


def test_losing_with_an_unknown_reason_re_renders_the_lose_form(rep, sales, deal):
    response = rep.post(_url("deal_lose", deal), {"loss_reason": "999", "note": "too dear"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).status == "open"
    lost = rep.post(_url("deal_lose", deal), {"loss_reason": sales.reason.pk, "note": "too dear"})
    assert lost.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason, deal.loss_note) == ("lost", sales.reason, "too dear")


def test_moving_a_closed_deal_says_to_reopen_it_first(rep, sales, deal):
    assert rep.post(_url("deal_win", deal)).status_code == 302
    refused = rep.post(_url("deal_move", deal), {"stage": sales.stages["Propose"].pk})
    assert refused.status_code == 400
    assert "reopen it first" in refused.content.decode()
    # winning again has no input to correct: the refusal is a message on the deal
    again = rep.post(_url("deal_win", deal), follow=True)
    assert "reopen it first" in again.content.decode()
    assert rep.post(_url("deal_reopen", deal)).status_code == 302
    reopened = Deal.objects.get(pk=deal.pk)
    assert (reopened.status, reopened.stage) == ("open", sales.stages["Negotiate"])


def test_a_quote_with_a_bad_line_re_renders_the_quote_form_and_stores_nothing(rep, sales, deal):
    base = {"product": sales.widget.pk, "quantity": "1", "discount_percent": "0"}
    bad = rep.post(_url("quote_create", deal), {**base, "tax_percent": "120", "valid_days": "30"})
    assert bad.status_code == 400
    assert "Ensure this value is less than or equal to 100." in bad.content.decode()
    no_days = rep.post(_url("quote_create", deal), {**base, "tax_percent": "0", "valid_days": "0"})
    assert no_days.status_code == 400
    assert not Quote.objects.exists()
    good = rep.post(
        _url("quote_create", deal), {**base, "tax_percent": "20", "valid_days": "10"}, follow=True
    )
    quote = Quote.objects.get()
    assert f"Quote {quote.number} created." in good.content.decode()
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("100.00"),
        Decimal("20.00"),
        Decimal("120.00"),
    )


def test_a_quote_from_the_deals_products(rep, sales, deal):
    services.deal_lines_set(
        actor=Actor.system(),
        deal=deal,
        lines=[
            {"product_id": sales.widget.pk, "quantity": "2"},
            {"product_id": sales.gadget.pk, "quantity": "1", "discount_percent": "50"},
        ],
    )
    response = rep.post(
        _url("quote_create", deal),
        {
            "use_deal_products": "on",
            "quantity": "1",
            "discount_percent": "0",
            "tax_percent": "10",
            "valid_days": "30",
        },
    )
    assert response.status_code == 302
    quote = Quote.objects.get()
    # 2 x 100 + 250.50 less half = 325.25; 10 % tax
    assert (quote.subtotal, quote.total) == (Decimal("325.25"), Decimal("357.78"))
    assert quote.lines.count() == 2


def test_sending_and_withdrawing_a_quote_from_the_page(rep, world, sales, deal):
    quote = quotes.quote_create(
        actor=Actor(user=world.user("sales_rep")),
        deal=deal,
        lines=[{"product_id": sales.widget.pk, "quantity": "1"}],
    )
    sent = rep.post(reverse("sales:quote_send", args=[quote.pk]))
    assert sent.status_code == 302
    assert Quote.objects.get(pk=quote.pk).status == "sent"
    page = rep.get(_url("deal_detail", deal)).content.decode()
    # the signed token carries the second it was made: compare the signed value only
    assert (
        reverse("sales_public:quote", args=[quotes.public_token(quote).split(":")[0]])[:-1] in page
    )
    assert rep.post(reverse("sales:quote_withdraw", args=[quote.pk])).status_code == 302
    assert Quote.objects.get(pk=quote.pk).status == "withdrawn"
    # a second withdrawal is refused with a message, never a server error
    again = rep.post(reverse("sales:quote_withdraw", args=[quote.pk]), follow=True)
    assert again.status_code == 200


def test_another_sides_quote_is_404_and_a_marketers_change_is_403(client, world, sales, deal):
    quote = quotes.quote_create(
        actor=Actor(user=world.user("sales_rep")),
        deal=deal,
        lines=[{"product_id": sales.widget.pk, "quantity": "1"}],
    )
    client.force_login(world.user("sales_rep", "south"))
    assert client.post(reverse("sales:quote_send", args=[quote.pk])).status_code == 404
    assert client.get(reverse("sales:quote_pdf", args=[quote.pk])).status_code == 404
    client.force_login(world.user("marketer"))
    assert client.get(_url("deal_detail", deal)).status_code == 200
    assert client.post(reverse("sales:quote_send", args=[quote.pk])).status_code == 403
    assert client.post(_url("deal_edit", deal), {"name": "Mine"}).status_code == 403
    assert Quote.objects.get(pk=quote.pk).status == "draft"


def test_selling_is_a_capability_the_pages_and_the_api_ask(client, world, sales):
    marketer, rep = world.user("marketer"), world.user("sales_rep")
    assert (can(marketer, "sell"), can(rep, "sell"), can(world.user("head"), "sell")) == (
        False,
        True,
        True,
    )
    client.force_login(marketer)
    assert client.get(reverse("sales:deal_create")).status_code == 404
    assert client.get(reverse("sales:sequence_list")).status_code == 404
    assert client.get(reverse("sales:tasks")).status_code == 404
    refused = client.post(
        "/api/v1/sales/deals", {"name": "Not mine"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert not Deal.objects.exists()
