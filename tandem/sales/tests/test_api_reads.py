"""Sales API reads and the public endpoints: deal filters, pipelines with their stages, the
forecast's period and filters, the public price request's validation and its quote link, and
the buyer's PDF behind the signed link."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.sales import quotes, services
from tandem.sales.models import Deal

BASE = "/api/v1/sales"


@pytest.fixture
def rep_client(client: Client, world) -> Client:
    client.force_login(world.user("sales_rep", "north"))
    return client


@pytest.fixture
def deals(world, sales) -> list[Deal]:
    rep = world.user("sales_rep", "north")
    made = [
        services.deal_create(
            actor=Actor(user=rep), name=name, owner_id=rep.pk, amount=amount, close_date=None
        )
        for name, amount in (("Ploughs", "100"), ("Harrows", "200"), ("Balers", "300"))
    ]
    services.deal_win(actor=Actor(user=rep), deal=made[2])
    services.deal_move(actor=Actor(user=rep), deal=made[1], stage_id=sales.stages["Propose"].pk)
    return made


def _ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json()["items"])


def test_deal_filters_by_status_stage_owner_and_search(rep_client, world, sales, deals):
    ploughs, harrows, balers = deals
    assert _ids(rep_client.get(f"{BASE}/deals?status=won")) == [balers.pk]
    assert _ids(rep_client.get(f"{BASE}/deals?status=open")) == sorted([ploughs.pk, harrows.pk])
    propose = sales.stages["Propose"].pk
    assert _ids(rep_client.get(f"{BASE}/deals?stage_id={propose}")) == [harrows.pk]
    assert _ids(rep_client.get(f"{BASE}/deals?q=harr")) == [harrows.pk]
    owner = world.user("sales_rep", "north").pk
    assert len(_ids(rep_client.get(f"{BASE}/deals?owner_id={owner}"))) == 3
    assert _ids(rep_client.get(f"{BASE}/deals?pipeline_id={sales.pipeline.pk}&limit=200")) == (
        sorted(d.pk for d in deals)
    )


@pytest.mark.parametrize(
    "query", ["status=closed", "limit=0", "limit=201", "stage_id=-1", "cursor=%00", "cursor=zz"]
)
def test_a_bad_deal_filter_is_a_400(rep_client, deals, query):
    assert rep_client.get(f"{BASE}/deals?{query}").status_code == 400


def test_pipelines_list_their_stages_in_order(rep_client, sales):
    response = rep_client.get(f"{BASE}/pipelines")
    assert response.status_code == 200
    (pipeline,) = response.json()
    assert (pipeline["name"], pipeline["is_default"]) == ("New business", True)
    assert [(s["name"], s["kind"]) for s in pipeline["stages"]] == [
        ("Qualify", "open"),
        ("Propose", "open"),
        ("Negotiate", "open"),
        ("Won", "won"),
        ("Lost", "lost"),
    ]


def test_the_forecast_reports_its_period_and_refuses_bad_filters(rep_client, deals):
    year = rep_client.get(f"{BASE}/forecast?period=year&date=2025-06-01&group_by=team")
    assert year.status_code == 200
    body = year.json()
    assert (body["period"], body["start"], body["end"], body["group_by"]) == (
        "FY2025",
        "2025-01-01",
        "2026-01-01",
        "team",
    )
    assert rep_client.get(f"{BASE}/forecast?period=week").status_code == 400
    assert rep_client.get(f"{BASE}/forecast?date=tomorrow").status_code == 400
    assert rep_client.get(f"{BASE}/forecast?currency=euro").status_code == 400


def _price_request(client: Client, body: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(
        f"{BASE}/price-request",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="198.51.100.77",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@b.test"},
        {"email": "x", "product_id": 1},
        {"email": "buyer@farm.test", "product_id": 1, "quantity": "-2"},
        {"email": "buyer@farm.test", "product_id": 1, "message": "x" * 2001},
        {"email": "buyer@farm.test", "product_id": 1, "first_name": "nul\u0000"},
        {"email": "buyer@farm.test", "product_id": 1, "extra": True},
    ],
)
def test_a_bad_public_price_request_is_a_4xx_and_creates_nothing(client, sales, body):
    response = _price_request(client, body)
    assert 400 <= response.status_code < 500
    assert not Deal.objects.exists()


def test_a_public_price_request_answers_a_quote_link_that_opens(client, sales):
    response = _price_request(
        client, {"email": "buyer@farm.test", "product_id": sales.widget.pk, "quantity": "3"}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["amount"], body["currency"], body["handed_to_sales"]) == ("300.00", "EUR", False)
    page = client.get(body["quote_url"])
    assert page.status_code == 200
    assert "Widget" in page.content.decode()


def test_the_buyers_pdf_is_behind_the_signed_link_only(client, world, sales, deals):
    quote = quotes.quote_create(
        actor=Actor(user=world.user("sales_rep")),
        deal=deals[0],
        lines=[{"product_id": sales.widget.pk, "quantity": "1"}],
    )
    token = quotes.quote_send(actor=Actor.system(), quote=quote)
    pdf = client.get(f"/quote/{token}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'inline; filename="{quote.number}.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    assert client.get(f"/quote/{token[:-3]}abc/pdf/").status_code == 404
    quotes.quote_withdraw(actor=Actor.system(), quote=quote)
    assert client.get(f"/quote/{token}/pdf/").status_code == 404
