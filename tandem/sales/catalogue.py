"""The catalogue: products, price lists (currency, tax rate, validity) and the prices in them,
and the one lookup that prices a product for a deal or quote line on a given day.

Invariants:
- each write is one transaction with its audit entry; bad input raises `InvalidInput` on its
  field before anything is written;
- products and price lists are archived (`active=False`), never deleted: lines that used them
  keep pointing at them;
- a price list is offered on a day when it is active and the day lies within its dates (both
  included, blank = open-ended), in the organisation's calendar (`business_date`);
- at most one price list per currency is the default (setting one clears the others);
- `list_price` is the only place that picks a price: an explicit list must be offered on the
  day and be in the currency asked for; without one, the currency's offered default list is
  taken, else the first offered list (by name) that prices the product.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation
from tandem.sales.cleaning import currency, money, percent, text
from tandem.sales.models import Price, PriceList, Product

__all__ = [
    "ListPrice",
    "business_date",
    "list_price",
    "offered_price_lists",
    "offered_products",
    "price_list_create",
    "price_list_update",
    "price_remove",
    "price_set",
    "product_create",
    "product_update",
]


def business_date(at: dt.datetime | None = None) -> dt.date:
    """The organisation's calendar day at `at` (default now): the day price lists are read on."""
    try:
        zone = ZoneInfo(Organisation.current().time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return timezone.localtime(at or timezone.now(), zone).date()


# --- products -------------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *, actor: Actor, sku: str, name: str, description: str = "", self_service: bool = False
) -> Product:
    sku = text("sku", sku, 60, required=True)
    if Product.objects.filter(sku=sku).exists():
        raise InvalidInput({"sku": [_("a product with this SKU exists")]})
    product = Product.objects.create(
        sku=sku,
        name=text("name", name, 200, required=True),
        description=text("description", description, 5000),
        self_service=bool(self_service),
    )
    record_change(
        actor=actor, action="create", instance=product, changes=diff({}, snapshot(product))
    )
    return product


PRODUCT_FIELDS = {"sku", "name", "description", "self_service", "active"}


@transaction.atomic
def product_update(*, actor: Actor, product_id: int, **data: Any) -> Product:
    """Change a product's SKU, name, description, self-service offer, or archive it
    (`active=False`) and restore it."""
    unknown = set(data) - PRODUCT_FIELDS
    if unknown:
        raise InvalidInput({k: [_("unknown field")] for k in sorted(unknown)})
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise InvalidInput({"product_id": [_("no such product")]}, code="not_found")
    cleaned: dict[str, Any] = {}
    if "sku" in data:
        cleaned["sku"] = text("sku", data["sku"], 60, required=True)
        if Product.objects.filter(sku=cleaned["sku"]).exclude(pk=product.pk).exists():
            raise InvalidInput({"sku": [_("a product with this SKU exists")]})
    if "name" in data:
        cleaned["name"] = text("name", data["name"], 200, required=True)
    if "description" in data:
        cleaned["description"] = text("description", data["description"], 5000)
    for flag in ("self_service", "active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise InvalidInput({flag: [_("must be true or false")]})
            cleaned[flag] = data[flag]
    before = snapshot(product)
    for field, value in cleaned.items():
        setattr(product, field, value)
    if cleaned:
        product.save(update_fields=list(cleaned))
    changes = diff(before, snapshot(product))
    if changes:
        record_change(actor=actor, action="update", instance=product, changes=changes)
    return product


# --- price lists ----------------------------------------------------------------------------


def _dates(valid_from: Any, valid_until: Any) -> tuple[dt.date | None, dt.date | None]:
    for field, value in (("valid_from", valid_from), ("valid_until", valid_until)):
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise InvalidInput({field: [_("must be a date")]})
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise InvalidInput({"valid_until": [_("must not be before the first valid day")]})
    return valid_from, valid_until


@transaction.atomic
def price_list_create(
    *,
    actor: Actor,
    name: str,
    currency_code: str,
    is_default: bool = False,
    tax_percent: Any = "0",
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> PriceList:
    code = currency("currency", currency_code)
    name = text("name", name, 120, required=True)
    tax = percent("tax_percent", tax_percent)
    start, end = _dates(valid_from, valid_until)
    if PriceList.objects.filter(name=name).exists():
        raise InvalidInput({"name": [_("a price list with this name exists")]})
    if is_default:
        PriceList.objects.filter(currency=code, is_default=True).update(is_default=False)
    price_list = PriceList.objects.create(
        name=name,
        currency=code,
        is_default=bool(is_default),
        tax_percent=tax,
        valid_from=start,
        valid_until=end,
    )
    record_change(
        actor=actor, action="create", instance=price_list, changes=diff({}, snapshot(price_list))
    )
    return price_list


PRICE_LIST_FIELDS = {
    "name",
    "currency",
    "is_default",
    "tax_percent",
    "valid_from",
    "valid_until",
    "active",
}


@transaction.atomic
def price_list_update(*, actor: Actor, price_list_id: int, **data: Any) -> PriceList:
    """Change a price list's name, currency, default flag, tax rate or dates, or archive it
    (`active=False`: no longer offered, and no longer the default) and restore it."""
    unknown = set(data) - PRICE_LIST_FIELDS
    if unknown:
        raise InvalidInput({k: [_("unknown field")] for k in sorted(unknown)})
    price_list = PriceList.objects.select_for_update().filter(pk=price_list_id).first()
    if price_list is None:
        raise InvalidInput({"price_list_id": [_("no such price list")]}, code="not_found")
    cleaned: dict[str, Any] = {}
    if "name" in data:
        cleaned["name"] = text("name", data["name"], 120, required=True)
        if PriceList.objects.filter(name=cleaned["name"]).exclude(pk=price_list.pk).exists():
            raise InvalidInput({"name": [_("a price list with this name exists")]})
    if "currency" in data:
        cleaned["currency"] = currency("currency", data["currency"])
    if "tax_percent" in data:
        cleaned["tax_percent"] = percent("tax_percent", data["tax_percent"])
    start, end = _dates(
        data.get("valid_from", price_list.valid_from),
        data.get("valid_until", price_list.valid_until),
    )
    if "valid_from" in data:
        cleaned["valid_from"] = start
    if "valid_until" in data:
        cleaned["valid_until"] = end
    for flag in ("is_default", "active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise InvalidInput({flag: [_("must be true or false")]})
            cleaned[flag] = data[flag]
    if cleaned.get("active") is False:
        cleaned["is_default"] = False
    elif cleaned.get("is_default") and not cleaned.get("active", price_list.active):
        raise InvalidInput({"is_default": [_("an archived price list cannot be the default")]})
    before = snapshot(price_list)
    for field, value in cleaned.items():
        setattr(price_list, field, value)
    if price_list.is_default:
        PriceList.objects.filter(currency=price_list.currency, is_default=True).exclude(
            pk=price_list.pk
        ).update(is_default=False)
    if cleaned:
        price_list.save(update_fields=list(cleaned))
    changes = diff(before, snapshot(price_list))
    if changes:
        record_change(actor=actor, action="update", instance=price_list, changes=changes)
    return price_list


@transaction.atomic
def price_set(*, actor: Actor, price_list: PriceList, product: Product, unit_price: Any) -> Price:
    """A product's unit price in a price list (created or changed)."""
    amount = money("unit_price", unit_price)
    price, created = Price.objects.select_for_update().get_or_create(
        price_list=price_list, product=product, defaults={"unit_price": amount}
    )
    before = None if created else str(price.unit_price)
    if not created and price.unit_price != amount:
        price.unit_price = amount
        price.save(update_fields=["unit_price"])
    if created or before != str(amount):
        record_change(
            actor=actor,
            action="create" if created else "update",
            instance=price,
            changes={
                "unit_price": [before, str(amount)],
                "product": [None, product.pk],
                "price_list": [None, price_list.pk],
            },
        )
    return price


@transaction.atomic
def price_remove(*, actor: Actor, price_list: PriceList, product: Product) -> bool:
    """Take a product out of a price list; False if it was not in it. Lines that used the price
    keep theirs."""
    price = Price.objects.select_for_update().filter(price_list=price_list, product=product).first()
    if price is None:
        return False
    record_change(
        actor=actor,
        action="delete",
        instance=price,
        changes={
            "unit_price": [str(price.unit_price), None],
            "product": [product.pk, None],
            "price_list": [price_list.pk, None],
        },
    )
    price.delete()
    return True


# --- what is offered on a day ---------------------------------------------------------------


def offered_price_lists(day: dt.date, currency_code: str | None = None) -> QuerySet[PriceList]:
    """The price lists offered on `day` (optionally in one currency), defaults first."""
    lists = PriceList.objects.filter(PriceList.valid_on(day))
    if currency_code:
        lists = lists.filter(currency=currency_code)
    return lists.order_by("currency", "-is_default", "name")


def offered_products(
    day: dt.date, currency_code: str | None = None, *, self_service: bool = False
) -> QuerySet[Product]:
    """Active products priced in a list offered on `day` (optionally in one currency); with
    `self_service`, only those buyers may ask a price for online."""
    lists = offered_price_lists(day, currency_code)
    priced = Price.objects.filter(product=OuterRef("pk"), price_list__in=lists)
    products = Product.objects.filter(Exists(priced), active=True)
    if self_service:
        products = products.filter(self_service=True)
    return products.order_by("name", "id")


@dataclass(frozen=True)
class ListPrice:
    price_list: PriceList
    unit_price: Decimal
    tax_percent: Decimal


def _day_text(day: dt.date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def list_price(
    product: Product,
    currency_code: str,
    price_list: PriceList | None,
    *,
    on: dt.date,
    field: str = "lines",
) -> ListPrice:
    """The product's price and tax rate on day `on`, from `price_list` or (None) the offered
    lists of the currency; `InvalidInput` on `field` naming why none applies."""
    if price_list is not None:
        if price_list.currency != currency_code:
            raise InvalidInput(
                {
                    field: [
                        _("the price list %(list)s is in %(list_currency)s, not %(currency)s")
                        % {
                            "list": price_list.name,
                            "list_currency": price_list.currency,
                            "currency": currency_code,
                        }
                    ]
                }
            )
        if not PriceList.objects.filter(PriceList.valid_on(on), pk=price_list.pk).exists():
            raise InvalidInput(
                {
                    field: [
                        _("the price list %(list)s is not offered on %(day)s")
                        % {"list": price_list.name, "day": _day_text(on)}
                    ]
                }
            )
        lists: Any = [price_list]
    else:
        lists = offered_price_lists(on, currency_code)
    price = (
        Price.objects.filter(product=product, price_list__in=lists)
        .select_related("price_list")
        .order_by("-price_list__is_default", "price_list__name")
        .first()
    )
    if price is None:
        raise InvalidInput(
            {
                field: [
                    _("%(product)s has no price in %(currency)s")
                    % {"product": product.name, "currency": currency_code}
                ]
            }
        )
    return ListPrice(price.price_list, price.unit_price, price.price_list.tax_percent)


def line_price(
    product: Product,
    *,
    currency_code: str,
    on: dt.date,
    price_list_id: Any = None,
    default_list: PriceList | None = None,
    unit_price: Any = None,
    tax_percent: Any = None,
    field: str = "lines",
) -> tuple[Decimal, Decimal, PriceList | None]:
    """(unit price, tax rate, price list) of a deal or quote line for `product`.

    A line names its price list (`price_list_id`), else uses `default_list` when that is offered
    on the day, else the currency's offered lists (see `list_price`). A `unit_price` or
    `tax_percent` given on the line overrides the list's; with an explicit unit price a product
    the lists do not price is still allowed (no list, tax as given or 0)."""
    chosen: PriceList | None = None
    if price_list_id not in (None, ""):
        try:
            chosen = PriceList.objects.get(pk=int(price_list_id))
        except (TypeError, ValueError, PriceList.DoesNotExist):
            raise InvalidInput({field: [_("no such price list")]}) from None
    elif (
        default_list is not None
        and default_list.currency == currency_code
        and PriceList.objects.filter(PriceList.valid_on(on), pk=default_list.pk).exists()
    ):
        chosen = default_list
    own_price = money(field, unit_price) if unit_price not in (None, "") else None
    own_tax = percent(field, tax_percent) if tax_percent not in (None, "") else None
    try:
        found: ListPrice | None = list_price(product, currency_code, chosen, on=on, field=field)
    except InvalidInput:
        if own_price is None or chosen is not None:
            raise
        found = None
    if found is None:
        assert own_price is not None
        return own_price, own_tax or Decimal("0"), None
    return (
        found.unit_price if own_price is None else own_price,
        found.tax_percent if own_tax is None else own_tax,
        found.price_list,
    )
