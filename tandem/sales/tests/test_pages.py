"""Sales pages: board, list, detail, forecast render; the board's move POST needs CSRF; another
side's deal is a 404; bad form input is a form error and changes nothing."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from tandem.core.audit import Actor
from tandem.sales import services
from tandem.sales.models import Deal, Quote


def _deal(world, side="north", name="Combine harvester"):  # type: ignore[no-untyped-def]
    rep = world.user("sales_rep", side)
    return services.deal_create(
        actor=Actor(user=rep),
        name=name,
        owner_id=rep.pk,
        amount="500",
        contacts=[{"contact_id": world.contacts[("sales_rep", side)].pk, "role": "decision_maker"}],
    )


def test_pages_render_for_the_rep(client, world, sales):
    deal = _deal(world)
    _deal(world, "south", "Southern secret")
    client.force_login(world.user("sales_rep"))
    board = client.get(reverse("sales:board"))
    assert board.status_code == 200
    text = board.content.decode()
    assert "Combine harvester" in text
    assert "Southern secret" not in text
    assert reverse("sales:deal_move", args=[deal.pk]) in text
    listing = client.get(reverse("sales:deal_list") + "?q=harvester&status=open")
    assert "Combine harvester" in listing.content.decode()
    assert "Southern secret" not in listing.content.decode()
    detail = client.get(reverse("sales:deal_detail", args=[deal.pk]))
    assert detail.status_code == 200
    assert "Decision maker" in detail.content.decode()
    assert client.get(reverse("sales:forecast")).status_code == 200
    assert client.get(reverse("sales:tasks")).status_code == 200
    assert client.get(reverse("sales:sequence_list")).status_code == 200


def test_other_sides_deal_is_404(client, world, sales):
    south = _deal(world, "south")
    client.force_login(world.user("sales_rep", "north"))
    assert client.get(reverse("sales:deal_detail", args=[south.pk])).status_code == 404
    stage = sales.stages["Propose"].pk
    response = client.post(reverse("sales:deal_move", args=[south.pk]), {"stage": stage})
    assert response.status_code == 404
    assert Deal.objects.get(pk=south.pk).stage == sales.stages["Qualify"]


def test_board_move_needs_csrf_and_returns_json(world, sales):
    deal = _deal(world)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.user("sales_rep"))
    url = reverse("sales:deal_move", args=[deal.pk])
    stage = sales.stages["Propose"].pk
    assert browser.post(url, {"stage": stage}).status_code == 403
    board = browser.get(reverse("sales:board"))
    token = board.cookies["csrftoken"].value
    moved = browser.post(
        url, {"stage": stage}, HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json"
    )
    assert moved.json() == {"ok": True, "stage_id": stage, "status": "open"}
    refused = browser.post(
        url,
        {"stage": sales.stages["Lost"].pk},
        HTTP_X_CSRFTOKEN=token,
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["message"] == "a lost deal needs a reason"
    assert Deal.objects.get(pk=deal.pk).stage_id == stage


def test_marketer_sees_deal_but_cannot_move_it(client, world, sales):
    deal = _deal(world)
    client.force_login(world.user("marketer", "south"))
    assert client.get(reverse("sales:deal_detail", args=[deal.pk])).status_code == 200
    response = client.post(reverse("sales:deal_win", args=[deal.pk]))
    assert response.status_code == 403
    assert Deal.objects.get(pk=deal.pk).status == "open"
    assert client.get(reverse("sales:deal_create")).status_code == 404


def test_new_deal_form_errors_store_nothing(client, world, sales):
    client.force_login(world.user("sales_rep"))
    url = reverse("sales:deal_create")
    bad = client.post(
        url,
        {
            "name": "",
            "pipeline": sales.pipeline.pk,
            "amount": "abc",
            "currency": "EURO",
            "role": "champion",
        },
    )
    assert bad.status_code == 400
    assert Deal.objects.count() == 0
    good = client.post(
        url,
        {
            "name": "Форма",
            "pipeline": sales.pipeline.pk,
            "amount": "10",
            "currency": "eur",
            "role": "champion",
        },
    )
    assert good.status_code == 302
    assert Deal.objects.get().currency == "EUR"


def test_lose_form_and_quote_from_the_detail_page(client, world, sales):
    deal = _deal(world)
    client.force_login(world.user("sales_rep"))
    url = reverse("sales:quote_create", args=[deal.pk])
    response = client.post(
        url,
        {
            "product": sales.widget.pk,
            "quantity": "2",
            "discount_percent": "0",
            "tax_percent": "20",
            "valid_days": "30",
        },
    )
    assert response.status_code == 302
    quote = Quote.objects.get(deal=deal)
    assert str(quote.total) == "240.00"
    pdf = client.get(reverse("sales:quote_pdf", args=[quote.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    client.post(reverse("sales:deal_lose", args=[deal.pk]), {"loss_reason": "999"})
    assert Deal.objects.get(pk=deal.pk).status == "open"
    client.post(reverse("sales:deal_lose", args=[deal.pk]), {"loss_reason": sales.reason.pk})
    assert Deal.objects.get(pk=deal.pk).status == "lost"


def test_public_quote_page_in_russian(client, world, sales):
    from tandem.sales import quotes

    deal = _deal(world)
    quote = quotes.quote_create(
        actor=Actor.system(), deal=deal, lines=[{"product_id": sales.widget.pk}]
    )
    quotes.quote_send(actor=Actor.system(), quote=quote)
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert "Принять предложение" in text
    assert f"Коммерческое предложение {quote.number}" in text
