"""The catalogue from its settings pages and API: products and price lists (currency, tax,
validity) made on the page are what a deal's and a quote's line picker offers and prices, only
while the list is valid, and what the online price request offers. Reps can neither open the
pages nor change the catalogue through the API; bad input is a form error or a 4xx."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.sales import catalogue, quotes, services
from tandem.sales.models import Deal, DealLine, PriceList, Product, Quote

pytestmark = pytest.mark.django_db
API = "/api/v1/sales"


@pytest.fixture
def head(world) -> Client:
    client = Client()
    client.force_login(world.user("head"))
    return client


@pytest.fixture
def rep(world) -> Client:
    client = Client()
    client.force_login(world.user("sales_rep"))
    return client


@pytest.fixture
def deal(world, sales) -> Deal:
    user = world.user("sales_rep")
    return services.deal_create(
        actor=Actor(user=user),
        name="Irrigation",
        owner_id=user.pk,
        contacts=[{"contact_id": world.contacts[("sales_rep", "north")].pk}],
    )


def _json(client: Client, method: str, url: str, body: object) -> object:
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _make_on_the_page(head: Client, *, valid_until: str = "") -> tuple[Product, PriceList]:
    made = head.post(
        reverse("sales:product_create"),
        {
            "product-sku": "PUMP-9",
            "product-name": "Drip pump",
            "product-description": "",
            "product-self_service": "on",
        },
    )
    assert made.status_code == 302
    product = Product.objects.get(sku="PUMP-9")
    today = catalogue.business_date()
    made = head.post(
        reverse("sales:price_list_create"),
        {
            "price_list-name": "Pumps 2026",
            "price_list-currency": "eur",
            "price_list-tax_percent": "20",
            "price_list-valid_from": (today - dt.timedelta(days=30)).isoformat(),
            "price_list-valid_until": valid_until or (today + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert made.status_code == 302
    price_list = PriceList.objects.get(name="Pumps 2026")
    assert made["Location"] == reverse("sales:price_list_edit", args=[price_list.pk])
    priced = head.post(
        reverse("sales:price_set", args=[price_list.pk]),
        {"product": product.pk, "unit_price": "80.00"},
    )
    assert priced.status_code == 302
    return product, price_list


def test_a_product_and_price_list_made_on_the_page_price_a_deal_line_and_a_quote(head, rep, deal):
    product, price_list = _make_on_the_page(head)
    assert (price_list.currency, price_list.tax_percent) == ("EUR", Decimal("20.00"))
    page = rep.get(reverse("sales:deal_detail", args=[deal.pk])).content.decode()
    assert "Drip pump (PUMP-9)" in page
    assert "Pumps 2026 — EUR, tax 20%" in page

    added = rep.post(
        reverse("sales:deal_line_add", args=[deal.pk]),
        {
            "product": product.pk,
            "price_list": price_list.pk,
            "quantity": "3",
            "discount_percent": "0",
        },
    )
    assert added.status_code == 302
    line = DealLine.objects.get(deal=deal)
    assert (line.unit_price, line.tax_percent, line.price_list_id, line.total) == (
        Decimal("80.00"),
        Decimal("20.00"),
        price_list.pk,
        Decimal("240.00"),
    )
    deal.refresh_from_db()
    assert (deal.amount, deal.currency) == (Decimal("240.00"), "EUR")
    shown = rep.get(reverse("sales:deal_detail", args=[deal.pk])).content.decode()
    assert "Pumps 2026" in shown
    assert "20.00%" in shown

    quoted = rep.post(
        reverse("sales:quote_create", args=[deal.pk]),
        {
            "product": product.pk,
            "price_list": price_list.pk,
            "quantity": "2",
            "discount_percent": "0",
            "valid_days": "30",
        },
    )
    assert quoted.status_code == 302
    quote = Quote.objects.get(deal=deal)
    assert (quote.currency, quote.subtotal, quote.tax_total, quote.total) == (
        "EUR",
        Decimal("160.00"),
        Decimal("32.00"),
        Decimal("192.00"),
    )
    assert quote.lines.get().price_list_id == price_list.pk
    from_deal = quotes.quote_create(
        actor=Actor(user=deal.owner), deal=deal, lines=quotes.lines_from_deal(deal)
    )
    assert (from_deal.subtotal, from_deal.tax_total) == (Decimal("240.00"), Decimal("48.00"))
    assert AuditEntry.objects.filter(model="sales.PriceList", action="create").exists()
    assert AuditEntry.objects.filter(model="sales.Product", action="create").exists()


def test_an_expired_price_list_is_neither_offered_nor_used(head, rep, world, deal):
    product, price_list = _make_on_the_page(head)
    yesterday = catalogue.business_date() - dt.timedelta(days=1)
    edited = head.post(
        reverse("sales:price_list_edit", args=[price_list.pk]),
        {
            "name": "Pumps 2026",
            "currency": "EUR",
            "tax_percent": "20",
            "valid_from": (yesterday - dt.timedelta(days=30)).isoformat(),
            "valid_until": yesterday.isoformat(),
        },
    )
    assert edited.status_code == 302
    page = rep.get(reverse("sales:deal_detail", args=[deal.pk])).content.decode()
    assert "Pumps 2026" not in page
    assert "Drip pump" not in page
    refused = rep.post(
        reverse("sales:deal_line_add", args=[deal.pk]),
        {
            "product": product.pk,
            "price_list": price_list.pk,
            "quantity": "1",
            "discount_percent": "0",
        },
    )
    assert refused.status_code == 400
    assert not DealLine.objects.exists()
    with pytest.raises(InvalidInput) as err:
        services.deal_line_add(
            actor=Actor(user=world.user("sales_rep")),
            deal=deal,
            product_id=product.pk,
            price_list_id=price_list.pk,
        )
    assert "is not offered on" in err.value.errors["lines"][0]
    # a deal made on a day the list was valid took its price then
    made_then = services.deal_create(
        actor=Actor.system(),
        name="Back then",
        lines=[{"product_id": product.pk, "price_list_id": price_list.pk}],
        at=dt.datetime.combine(yesterday, dt.time(12), tzinfo=dt.UTC),
    )
    assert made_then.amount == Decimal("80.00")


def test_an_archived_product_or_list_is_not_offered(head, rep, deal, sales):
    product, price_list = _make_on_the_page(head)
    today = catalogue.business_date()
    assert product in catalogue.offered_products(today, "EUR")
    head.post(reverse("sales:product_archive", args=[product.pk, "archive"]))
    assert product not in catalogue.offered_products(today, "EUR")
    head.post(reverse("sales:product_archive", args=[product.pk, "restore"]))
    head.post(reverse("sales:price_list_archive", args=[price_list.pk, "archive"]))
    assert price_list not in catalogue.offered_price_lists(today)
    assert product not in catalogue.offered_products(today, "EUR")
    assert AuditEntry.objects.filter(
        model="sales.PriceList", object_id=str(price_list.pk), action="update"
    ).exists()


def test_the_price_request_offers_the_active_self_service_products_priced_today(
    client, head, sales
):
    _product, price_list = _make_on_the_page(head)
    page = client.get(reverse("sales_public:price_request")).content.decode()
    assert "Drip pump" in page
    assert "Widget" in page  # self-service, priced in the open-ended default list
    assert "Гаджет" not in page  # not offered online
    catalogue.price_list_update(
        actor=Actor.system(),
        price_list_id=price_list.pk,
        valid_until=catalogue.business_date() - dt.timedelta(days=1),
        valid_from=None,
    )
    assert "Drip pump" not in client.get(reverse("sales_public:price_request")).content.decode()


def test_reps_cannot_reach_the_catalogue_pages_nor_change_it_through_the_api(rep, sales):
    assert rep.get(reverse("sales:catalogue")).status_code == 403
    assert rep.get(reverse("sales:price_list_edit", args=[sales.eur.pk])).status_code == 403
    assert (
        rep.post(
            reverse("sales:product_create"), {"product-sku": "X", "product-name": "X"}
        ).status_code
        == 403
    )
    refused = _json(rep, "post", f"{API}/products", {"sku": "X", "name": "X"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert (
        _json(rep, "patch", f"{API}/products/{sales.widget.pk}", {"active": False}).status_code
        == 403
    )
    put = _json(
        rep,
        "put",
        f"{API}/price-lists/{sales.eur.pk}/prices/{sales.widget.pk}",
        {"unit_price": "1"},
    )
    assert put.status_code == 403
    assert not Product.objects.filter(sku="X").exists()
    # reading is for everyone: reps pick from it
    assert rep.get(f"{API}/products").status_code == 200


def test_bad_input_is_a_form_error_on_the_page_and_a_4xx_from_the_api(head, sales):
    dates = head.post(
        reverse("sales:price_list_create"),
        {
            "price_list-name": "Backwards",
            "price_list-currency": "EURO",
            "price_list-tax_percent": "120",
            "price_list-valid_from": "2026-05-01",
            "price_list-valid_until": "2026-04-01",
        },
    )
    assert dates.status_code == 400
    text = dates.content.decode()
    assert "A three-letter currency code such as EUR." in text
    assert "Ensure this value is less than or equal to 100." in text
    assert "The last day is before the first." in text
    same_sku = head.post(
        reverse("sales:product_create"), {"product-sku": "W-1", "product-name": "Copy"}
    )
    assert same_sku.status_code == 400
    assert "a product with this SKU exists" in same_sku.content.decode()
    assert not PriceList.objects.filter(name="Backwards").exists()

    backwards = _json(
        head,
        "post",
        f"{API}/price-lists",
        {
            "name": "Later",
            "currency": "EUR",
            "valid_from": "2026-05-01",
            "valid_until": "2026-04-01",
        },
    )
    assert backwards.status_code == 400
    assert "valid_until" in backwards.json()["details"]
    assert _json(
        head, "post", f"{API}/price-lists", {"name": "T", "currency": "EUR", "tax_percent": "101"}
    ).status_code in (400, 422)
    assert _json(head, "patch", f"{API}/products/999999", {"name": "Z"}).status_code == 404


def test_the_api_makes_and_reads_the_catalogue_and_adds_deal_lines(head, rep, deal):
    made = _json(head, "post", f"{API}/products", {"sku": "P-2", "name": "Valve"})
    assert made.status_code == 201, made.content
    product_id = made.json()["id"]
    today = catalogue.business_date()
    listed = _json(
        head,
        "post",
        f"{API}/price-lists",
        {"name": "Valves", "currency": "EUR", "tax_percent": "10", "valid_from": today.isoformat()},
    )
    assert listed.status_code == 201, listed.content
    list_id = listed.json()["id"]
    put = _json(
        head, "put", f"{API}/price-lists/{list_id}/prices/{product_id}", {"unit_price": "12.50"}
    )
    assert put.status_code == 200
    body = rep.get(f"{API}/price-lists/{list_id}").json()
    assert (body["tax_percent"], body["prices"]) == (
        "10.00",
        [{"product_id": product_id, "unit_price": "12.50"}],
    )
    offered = rep.get(
        f"{API}/products", {"offered_on": today.isoformat(), "currency": "EUR"}
    ).json()
    assert "Valve" in [p["name"] for p in offered]
    before = (today - dt.timedelta(days=1)).isoformat()
    assert "Valve" not in [
        p["name"] for p in rep.get(f"{API}/products", {"offered_on": before}).json()
    ]

    line = _json(
        rep,
        "post",
        f"{API}/deals/{deal.pk}/lines",
        {"product_id": product_id, "price_list_id": list_id, "quantity": "4"},
    )
    assert line.status_code == 201, line.content
    assert (line.json()["unit_price"], line.json()["tax_percent"], line.json()["total"]) == (
        "12.50",
        "10.00",
        "50.00",
    )
    assert rep.get(f"{API}/deals/{deal.pk}").json()["amount"] == "50.00"
    gone = rep.delete(f"{API}/deals/{deal.pk}/lines/{line.json()['id']}")
    assert gone.status_code == 204
    assert rep.delete(f"{API}/deals/{deal.pk}/lines/{line.json()['id']}").status_code == 404
    archived = _json(head, "patch", f"{API}/price-lists/{list_id}", {"active": False})
    assert archived.json()["active"] is False
    refused = _json(
        rep,
        "post",
        f"{API}/deals/{deal.pk}/lines",
        {"product_id": product_id, "price_list_id": list_id},
    )
    assert refused.status_code == 400


def test_the_catalogue_page_and_the_settings_link_in_russian(head):
    head.post(reverse("core:language"), {"language": "ru"})
    page = head.get(reverse("sales:catalogue")).content.decode()
    assert "Товары и прайс-листы" in page
    assert "Новый прайс-лист" in page
    settings = head.get(reverse("core:settings")).content.decode()
    assert reverse("sales:catalogue") in settings
    assert "Другие настройки" in settings


def test_the_new_product_and_new_price_list_forms_label_their_own_inputs(head, sales):
    html = head.get(reverse("sales:catalogue")).content.decode()
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), ids
    for prefix in ("product", "price_list"):
        assert f'id="id_{prefix}-name"' in html
        assert f'for="id_{prefix}-name"' in html
    assert 'id="id_name"' not in html
