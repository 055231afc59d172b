"""Cleaners of sales input: money, percentages, currency codes and text, each raising
`InvalidInput` on its field with a reason.

Invariants: money is a `Decimal` rounded half-up to cents, never from a float; a percentage is
from 0 to 100; a currency is three upper-case letters.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput

CENT = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def money(field: str, value: Any, *, allow_negative: bool = False) -> Decimal:
    """A Decimal with two places, from a Decimal, int or numeric string (never a float)."""
    if isinstance(value, bool | float):
        raise InvalidInput({field: [_("must be a decimal number")]})
    try:
        amount = Decimal(str(value).strip().replace(",", ".")) if value != "" else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise InvalidInput({field: [_("must be a decimal number")]})
    if amount < 0 and not allow_negative:
        raise InvalidInput({field: [_("must not be negative")]})
    if abs(amount) > MAX_MONEY:
        raise InvalidInput({field: [_("is too large")]})
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def percent(field: str, value: Any) -> Decimal:
    amount = money(field, value if value not in (None, "") else "0")
    if amount > 100:
        raise InvalidInput({field: [_("must be between 0 and 100")]})
    return amount


def currency(field: str, value: Any) -> str:
    code = str(value or "").strip().upper()
    if not _CURRENCY.match(code):
        raise InvalidInput({field: [_("must be a three-letter currency code such as EUR")]})
    return code


def text(field: str, value: Any, limit: int, *, required: bool = False) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInput({field: [_("must be text")]})
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidInput({field: [_("is required")]})
    if len(cleaned) > limit:
        raise InvalidInput({field: [_("at most %(n)d characters") % {"n": limit}]})
    return cleaned


def line_total(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    gross = quantity * unit_price
    return (gross - gross * discount / 100).quantize(CENT, rounding=ROUND_HALF_UP)
