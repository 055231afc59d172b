"""Quotes: totals, PDF with Cyrillic, the signed public link, view, accept, expiry, questions,
and the self-service price request (page and JSON)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact, ContactEmail, Touchpoint
from tandem.sales import quotes, services
from tandem.sales.models import Deal, DealSource, Quote, QuoteStatus

START = dt.datetime(2025, 3, 3, 10, tzinfo=dt.UTC)


@pytest.fixture
def deal(world, sales):  # type: ignore[no-untyped-def]
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    with time_machine.travel(START, tick=False):
        return services.deal_create(
            actor=Actor(user=rep),
            name="Тракторы для севера",
            owner_id=rep.pk,
            contacts=[{"contact_id": contact.pk, "role": "champion"}],
            amount="0",
        )


@pytest.fixture
def quote(world, sales, deal):  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False):
        q = quotes.quote_create(
            actor=Actor(user=world.user("sales_rep")),
            deal=deal,
            valid_days=14,
            lines=[
                {
                    "product_id": sales.widget.pk,
                    "quantity": "3",
                    "discount_percent": "10",
                    "tax_percent": "20",
                },
                {"description": "Доставка и монтаж", "quantity": "1", "unit_price": "99.99"},
            ],
        )
        quotes.quote_send(actor=Actor(user=world.user("sales_rep")), quote=q)
    q.refresh_from_db()
    return q


def test_totals(quote):
    lines = list(quote.lines.values_list("net", "tax"))
    assert lines == [(Decimal("270.00"), Decimal("54.00")), (Decimal("99.99"), Decimal("0.00"))]
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("369.99"),
        Decimal("54.00"),
        Decimal("423.99"),
    )
    assert quote.number == f"Q-2025-{quote.pk:05d}"
    assert quote.expires_at == START + dt.timedelta(days=14)


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed"
)


@needs_pdftotext
def test_a_one_page_quote_embeds_a_font_subset_and_reads_back_in_both_languages(quote):
    with translation.override("en"):
        pdf = quotes.quote_pdf(quote)
    with translation.override("ru"):
        russian = quotes.quote_pdf(quote)
    for document in (pdf, russian):
        assert document.startswith(b"%PDF-")
        assert document.rstrip().endswith(b"%%EOF")
        # the font file alone is 756 KB: a subset of the glyphs used keeps a quote small
        assert len(document) < 100_000
        assert b"/FontFile2" in document
        assert b"/ToUnicode" in document
    text = _pdf_text(pdf)
    assert f"Quote {quote.number}" in text
    assert "Доставка и монтаж" in text
    assert "Тракторы для севера" in text
    assert "Description" in text
    assert "270.00 EUR" in text
    assert "423.99 EUR" in text
    text_ru = _pdf_text(russian)
    assert f"Коммерческое предложение {quote.number}" in text_ru
    assert "Доставка и монтаж" in text_ru
    assert "423,99 EUR" in text_ru


@needs_pdftotext
def test_a_long_quote_breaks_onto_more_pages_and_keeps_every_line(world, sales, deal):
    lines = [
        {"description": f"Позиция {n} " + "очень длинное описание " * 4, "unit_price": "1"}
        for n in range(60)
    ]
    with time_machine.travel(START, tick=False):
        long_quote = quotes.quote_create(
            actor=Actor(user=world.user("sales_rep")),
            deal=deal,
            valid_days=14,
            lines=lines,
            notes="Оплата в течение 30 дней.",
        )
    with translation.override("en"):
        pdf = quotes.quote_pdf(long_quote)
    pages = _pdf_text(pdf).split("\f")
    assert len([p for p in pages if p.strip()]) > 1
    text = " ".join(pages)
    assert all(f"Позиция {n} " in text for n in range(60))
    assert "60.00 EUR" in text
    assert "Оплата в течение 30 дней." in text


@needs_pdftotext
def test_an_accepted_quote_says_who_accepted_it(quote):
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        quotes.quote_accept(quote=quote, name="Ирина Петрова", ip=None)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    with translation.override("en"):
        text = _pdf_text(quotes.quote_pdf(quote))
    assert "Accepted online by Ирина Петрова" in text


def test_public_link_is_signed_and_withdrawal_kills_it(world, quote):
    token = quotes.public_token(quote)
    assert str(quote.pk) not in token.split(":")[0] or len(token) > 20
    assert quotes.quote_from_token(token) == quote
    assert quotes.quote_from_token(token[:-2] + "xx") is None
    assert quotes.quote_from_token(f"{quote.pk}") is None
    quotes.quote_withdraw(actor=Actor(user=world.user("sales_rep")), quote=quote)
    assert quotes.quote_from_token(token) is None


def test_buyer_views_then_accepts_and_the_deal_is_won(client, world, sales, quote, deal):
    sales.pipeline.quote_viewed_stage = sales.stages["Negotiate"]
    sales.pipeline.save(update_fields=["quote_viewed_stage"])
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)])
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        page = client.get(url, REMOTE_ADDR="203.0.113.9")
        assert page.status_code == 200
        assert "Доставка и монтаж" in page.content.decode()
        client.get(url)  # a second view records nothing more
    deal.refresh_from_db()
    assert deal.stage.name == "Negotiate"
    viewed = Touchpoint.objects.filter(kind="quote_viewed")
    assert [(t.department, t.properties["ip"]) for t in viewed] == [("self_service", "203.0.113.9")]
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        response = client.post(
            url + "accept/", {"name": "Иван Петров", "agree": "on"}, REMOTE_ADDR="203.0.113.9"
        )
    assert response.status_code == 302
    quote.refresh_from_db()
    assert (quote.status, quote.accepted_name, quote.accepted_ip, quote.accepted_at) == (
        "accepted",
        "Иван Петров",
        "203.0.113.9",
        START + dt.timedelta(days=2),
    )
    deal.refresh_from_db()
    assert (deal.status, deal.amount) == ("won", Decimal("369.99"))
    won = Touchpoint.objects.get(kind="deal_won")
    assert won.department == "self_service"
    accepted_page = client.get(url).content.decode()
    assert "Thank you! Accepted by Иван Петров on" in accepted_page
    assert ".." not in accepted_page.split("Accepted by", 1)[1].split("<", 1)[0]
    again = client.post(url + "accept/", {"name": "Someone else", "agree": "on"})
    assert again.status_code == 409
    quote.refresh_from_db()
    assert quote.accepted_name == "Иван Петров"


def test_expired_quote_shows_a_clear_page_and_cannot_be_accepted(client, quote, deal):
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)])
    with time_machine.travel(START + dt.timedelta(days=14, seconds=1), tick=False):
        page = client.get(url)
        assert page.status_code == 410
        assert "This quote has expired." in page.content.decode()
        assert b"accept/" not in page.content
        response = client.post(url + "accept/", {"name": "Late Buyer", "agree": "on"})
        assert response.status_code == 410
        pdf = client.get(url + "pdf/")
        assert pdf.status_code == 410
        assert not pdf.content.startswith(b"%PDF")
        with pytest.raises(InvalidInput):
            quotes.quote_accept(quote=quote, name="Late Buyer", ip=None)
    quote.refresh_from_db()
    assert (quote.status, quote.accepted_at) == ("sent", None)
    assert Deal.objects.get(pk=deal.pk).status == "open"
    assert Touchpoint.objects.filter(kind="quote_viewed").count() == 0


def test_bad_accept_and_forged_links(client, quote):
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)])
    response = client.post(url + "accept/", {"name": ""})
    assert response.status_code == 400
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT
    assert client.get(url.replace(url[-6:-1], "AAAAA")).status_code == 404
    assert client.get(reverse("sales_public:quote", args=["1"])).status_code == 404


def test_question_emails_the_owner(client, world, quote, django_capture_on_commit_callbacks):
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url + "question/", {"name": "Ivan", "text": "Можно в рублях?"})
    assert response.status_code == 302
    assert quote.questions.get().text == "Можно в рублях?"
    assert [m.to for m in mail.outbox] == [[world.user("sales_rep").email]]
    assert Touchpoint.objects.filter(kind="quote_question").count() == 1


def test_price_request_page_creates_contact_deal_and_quote_without_a_rep(client, sales):
    url = reverse("sales_public:price_request")
    data = {
        "email": "New.Buyer@Example.com",
        "first_name": "Олег",
        "company": "Agro LLC",
        "product": sales.widget.pk,
        "quantity": "2",
    }
    first = client.post(url, data)
    assert first.status_code == 302
    second = client.post(url, {**data, "quantity": "5"})
    assert second.status_code == 302
    assert ContactEmail.objects.filter(email="new.buyer@example.com").count() == 1
    contact = Contact.objects.get(email="new.buyer@example.com")
    deals = Deal.objects.filter(deal_contacts__contact=contact).order_by("id")
    assert [(d.source, d.owner_id, d.amount) for d in deals] == [
        (DealSource.SELF_SERVICE, None, Decimal("200.00")),
        (DealSource.SELF_SERVICE, None, Decimal("500.00")),
    ]
    assert contact.lifecycle_stage == "opportunity"
    page = client.get(first["Location"])
    assert page.status_code == 200
    assert "Widget" in page.content.decode()


def test_price_request_refuses_bad_input_and_stores_nothing(client, sales):
    url = reverse("sales_public:price_request")
    for data in (
        {"email": "not-an-email", "product": sales.widget.pk, "quantity": "1"},
        {"email": "a@b.example", "product": sales.gadget.pk, "quantity": "1"},
        {"email": "a@b.example", "product": sales.widget.pk, "quantity": "-3"},
    ):
        assert client.post(url, data).status_code == 400
    assert Deal.objects.count() == 0
    assert Contact.objects.filter(email="a@b.example").count() == 0


def test_price_request_json_is_public(client, sales):
    url = "/api/v1/sales/price-request"
    body = {
        "email": "json@buyer.example",
        "product_id": sales.widget.pk,
        "quantity": "1.5",
        "currency": "RUB",
    }
    response = client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["amount"], data["currency"], data["handed_to_sales"]) == ("13500.00", "RUB", False)
    assert data["quote_url"].startswith("http://testserver/quote/")
    bad = client.post(
        url, json.dumps({**body, "product_id": sales.gadget.pk}), content_type="application/json"
    )
    assert bad.status_code in (400, 422)
    assert bad.json()["details"] == {"product_id": ["this product is not offered online"]}
    assert client.post(url, "{", content_type="application/json").status_code == 400
    assert Deal.objects.count() == 1


def test_a_buyer_who_asks_to_talk_to_sales_is_handed_to_a_rep(client, world, sales):
    from tandem.leads.models import Handoff, RepCapacity

    rep = world.user("sales_rep", "south")
    RepCapacity.objects.create(user=rep, weight=1, capacity=5)  # in the round-robin

    body = {
        "email": "talk@buyer.example",
        "product_id": sales.widget.pk,
        "quantity": "3",
        "message": "Can we get a volume discount?",
        "talk_to_sales": True,
    }
    response = client.post(
        "/api/v1/sales/price-request", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["handed_to_sales"] is True
    handoff = Handoff.objects.get(contact__email="talk@buyer.example")
    deal = Deal.objects.get(deal_contacts__contact=handoff.contact)
    assert (handoff.trigger, handoff.source_ref) == ("quote_request", f"deal:{deal.pk}")
    assert handoff.assigned_to == rep  # routed by round-robin: the buyer has no account owner
    assert "volume discount" in handoff.note


def test_price_requests_for_one_address_are_limited_from_any_client(sales, settings):
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    url = reverse("sales_public:price_request")
    data = {"email": "victim@example.com", "product": sales.widget.pk, "quantity": "1"}
    answers = [Client(REMOTE_ADDR=f"192.0.2.{i}").post(url, data).status_code for i in range(1, 4)]
    assert answers == [302, 302, 429]


def test_questions_mailed_to_one_owner_are_limited_from_any_client(
    world, quote, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    url = reverse("sales_public:quote", args=[quotes.public_token(quote)]) + "question/"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            Client(REMOTE_ADDR=f"192.0.2.{i}").post(url, {"name": "X", "text": f"q{i}"}).status_code
            for i in range(1, 5)
        ]
    assert answers == [302, 302, 429, 429]
    assert len(mail.outbox) == 2  # the owner's inbox is not a target
    assert quote.questions.count() == 2


def test_price_request_api_for_one_address_is_limited_from_any_client(sales, settings):
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    body = json.dumps({"email": "victim@example.com", "product_id": sales.widget.pk})
    answers = [
        Client(REMOTE_ADDR=f"192.0.2.{i}")
        .post("/api/v1/sales/price-request", body, content_type="application/json")
        .status_code
        for i in range(1, 4)
    ]
    assert answers == [201, 201, 429]
