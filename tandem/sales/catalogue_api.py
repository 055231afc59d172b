"""API operations of the catalogue under /api/v1/sales: products, price lists and their prices,
and product lines of deals. Thin: parse, call `tandem.sales.catalogue` / `services`, render.

Invariants:
- reading products and price lists is open to every signed-in caller (reps pick from them);
  every change needs the `manage_catalogue` capability (403 `forbidden` without it);
- a missing product, price list or price is a 404; bad input a 400 naming the field;
- a deal line is changed only on a deal the caller may change (404 invisible, 403 only visible).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_fields import UNCHANGED, drop_null_defaults
from tandem.sales import catalogue, services
from tandem.sales.models import Deal, DealLine, Price, PriceList, Product

router = Router(tags=["sales catalogue"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: Error, 413: Error, 415: Error}
MAX_ID = 2**63 - 1

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")]
Sku = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^\x00]*$")]
ProductName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
ListName = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00]*$")]
Description = Annotated[str, Field(max_length=5000, pattern=r"^[^\x00]*$")]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class ProductIn(Input):
    sku: Sku
    name: ProductName
    description: Description = ""
    self_service: bool = False


class ProductPatch(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    sku: Sku = UNCHANGED
    name: ProductName = UNCHANGED
    description: Description = UNCHANGED
    self_service: bool = UNCHANGED
    active: bool = UNCHANGED


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    description: str
    active: bool
    self_service: bool


class ProductFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    offered_on: dt.date | None = Field(
        None, description="Only products priced in a price list offered on this day"
    )
    currency: Currency | None = None


class PriceListIn(Input):
    name: ListName
    currency: Currency
    tax_percent: Percent = Decimal("0")
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    is_default: bool = False


class PriceListPatch(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    name: ListName = UNCHANGED
    currency: Currency = UNCHANGED
    tax_percent: Percent = UNCHANGED
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    is_default: bool = UNCHANGED
    active: bool = UNCHANGED


class PriceOut(Schema):
    product_id: int
    unit_price: Decimal


class PriceListOut(Schema):
    id: int
    name: str
    currency: str
    tax_percent: Decimal
    valid_from: dt.date | None
    valid_until: dt.date | None
    is_default: bool
    active: bool
    prices: list[PriceOut]

    @staticmethod
    def resolve_prices(obj: PriceList) -> list[Price]:
        return list(obj.prices.order_by("product_id"))


class PriceListFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    offered_on: dt.date | None = Field(None, description="Only the lists offered on this day")
    currency: Currency | None = None


class PriceIn(Input):
    unit_price: Money


class DealLineIn(Input):
    product_id: RecordId
    price_list_id: RecordId | None = None
    quantity: Quantity = Decimal("1")
    discount_percent: Percent = Decimal("0")
    unit_price: Money | None = None


class DealLineOut(Schema):
    id: int
    deal_id: int
    product_id: int
    price_list_id: int | None
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_percent: Decimal
    total: Decimal


def _manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_catalogue"):
        raise ApiError(403, "forbidden", _("You may not change products and price lists."))
    return who


def _patch(payload: Schema, nullable: set[str]) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    for key, value in data.items():
        if value is None and key not in nullable:
            raise ApiError(
                400, "invalid", _("Some fields are not valid."), {key: [_("may not be null")]}
            )
    return data


# --- products -------------------------------------------------------------------------------


@router.get("/products", response={200: list[ProductOut], **READ_ERRORS})
def list_products(request: HttpRequest, filters: Query[ProductFilters]) -> QuerySet[Product]:
    """Products by name; `offered_on` keeps the active ones priced in a list offered that day."""
    who = caller(request)
    if filters.offered_on is not None:
        offered = catalogue.offered_products(filters.offered_on, filters.currency)
        return scoped(who.user, Product).filter(pk__in=offered.values("pk")).order_by("name")
    products = scoped(who.user, Product).order_by("name", "id")
    if filters.active is not None:
        products = products.filter(active=filters.active)
    return products


@router.post("/products", response={201: ProductOut, **WRITE_ERRORS})
def create_product(request: HttpRequest, payload: ProductIn) -> Status[Product]:
    who = _manager(request)
    return Status(201, catalogue.product_create(actor=who.actor, **payload.model_dump()))


@router.get("/products/{product_id}", response={200: ProductOut, **READ_ERRORS})
def get_product(request: HttpRequest, product_id: RecordId) -> Product:
    return get_scoped(caller(request).user, Product, product_id)


@router.patch("/products/{product_id}", response={200: ProductOut, **WRITE_ERRORS})
def update_product(request: HttpRequest, product_id: RecordId, payload: ProductPatch) -> Product:
    """Change a product; `"active": false` archives it, `true` restores it."""
    who = _manager(request)
    product = get_object_or_404(Product, pk=product_id)
    return catalogue.product_update(
        actor=who.actor, product_id=product.pk, **_patch(payload, set())
    )


# --- price lists ----------------------------------------------------------------------------


def _lists(user: object) -> QuerySet[PriceList]:
    return scoped(user, PriceList).prefetch_related("prices")


@router.get("/price-lists", response={200: list[PriceListOut], **READ_ERRORS})
def list_price_lists(request: HttpRequest, filters: Query[PriceListFilters]) -> QuerySet[PriceList]:
    """Price lists with their prices; `offered_on` keeps those offered that day."""
    lists = _lists(caller(request).user)
    if filters.offered_on is not None:
        lists = lists.filter(PriceList.valid_on(filters.offered_on))
    if filters.currency:
        lists = lists.filter(currency=filters.currency.upper())
    return lists.order_by("currency", "name")


@router.post("/price-lists", response={201: PriceListOut, **WRITE_ERRORS})
def create_price_list(request: HttpRequest, payload: PriceListIn) -> Status[PriceList]:
    who = _manager(request)
    data = payload.model_dump()
    data["currency_code"] = data.pop("currency")
    price_list = catalogue.price_list_create(actor=who.actor, **data)
    return Status(201, _lists(who.user).get(pk=price_list.pk))


@router.get("/price-lists/{price_list_id}", response={200: PriceListOut, **READ_ERRORS})
def get_price_list(request: HttpRequest, price_list_id: RecordId) -> PriceList:
    who = caller(request)
    get_scoped(who.user, PriceList, price_list_id)
    return _lists(who.user).get(pk=price_list_id)


@router.patch("/price-lists/{price_list_id}", response={200: PriceListOut, **WRITE_ERRORS})
def update_price_list(
    request: HttpRequest, price_list_id: RecordId, payload: PriceListPatch
) -> PriceList:
    """Change a price list; `"active": false` archives it (no longer offered), `true` restores
    it; `valid_from` / `valid_until` may be null (open-ended)."""
    who = _manager(request)
    price_list = get_object_or_404(PriceList, pk=price_list_id)
    data = _patch(payload, {"valid_from", "valid_until"})
    catalogue.price_list_update(actor=who.actor, price_list_id=price_list.pk, **data)
    return _lists(who.user).get(pk=price_list_id)


@router.put(
    "/price-lists/{price_list_id}/prices/{product_id}",
    response={200: PriceOut, **WRITE_ERRORS},
)
def set_price(
    request: HttpRequest, price_list_id: RecordId, product_id: RecordId, payload: PriceIn
) -> Price:
    """The product's unit price in the list (created or changed)."""
    who = _manager(request)
    price_list = get_object_or_404(PriceList, pk=price_list_id)
    product = get_object_or_404(Product, pk=product_id)
    return catalogue.price_set(
        actor=who.actor, price_list=price_list, product=product, unit_price=payload.unit_price
    )


@router.delete(
    "/price-lists/{price_list_id}/prices/{product_id}", response={204: None, **WRITE_ERRORS}
)
def remove_price(request: HttpRequest, price_list_id: RecordId, product_id: RecordId) -> Any:
    who = _manager(request)
    price_list = get_object_or_404(PriceList, pk=price_list_id)
    product = get_object_or_404(Product, pk=product_id)
    if not catalogue.price_remove(actor=who.actor, price_list=price_list, product=product):
        raise ApiError(404, "not_found", _("No such record."))
    return Status(204, None)


# --- deal lines -----------------------------------------------------------------------------


def _changeable(who: ApiCaller, deal_id: int) -> Deal:
    deal = get_scoped(who.user, Deal, deal_id)
    if not scoped(who.user, Deal, "change").filter(pk=deal.pk).exists():
        raise ApiError(403, "forbidden", _("You may not change this deal."))
    return deal


@router.post("/deals/{deal_id}/lines", response={201: DealLineOut, **WRITE_ERRORS})
def add_deal_line(request: HttpRequest, deal_id: RecordId, payload: DealLineIn) -> Status[DealLine]:
    """Add a product to the deal, priced (and taxed) from a price list offered today: the named
    one, else the deal's, else the currency's default. The deal's amount follows its lines."""
    who = caller(request)
    deal = _changeable(who, deal_id)
    line = services.deal_line_add(actor=who.actor, deal=deal, **payload.model_dump())
    return Status(201, line)


@router.delete("/deals/{deal_id}/lines/{line_id}", response={204: None, **WRITE_ERRORS})
def remove_deal_line(request: HttpRequest, deal_id: RecordId, line_id: RecordId) -> Any:
    who = caller(request)
    deal = _changeable(who, deal_id)
    if not deal.lines.filter(pk=line_id).exists():
        raise ApiError(404, "not_found", _("No such record."))
    services.deal_line_remove(actor=who.actor, deal=deal, line_id=line_id)
    return Status(204, None)
