"""Template helpers: money in the organisation's currency, formatted for the active language."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.core.cache import cache
from django.utils import translation
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from tandem.core import labels
from tandem.core.labels import KIND_LABELS as KIND_LABELS
from tandem.core.labels import kind_label as kind_label
from tandem.core.models import Organisation

register = template.Library()

CURRENCY_CACHE_KEY = "tandem:organisation_currency"
SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "RUB": "₽",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "KZT": "₸",
    "UAH": "₴",
    "CHF": "CHF",
}


def organisation_currency() -> str:
    code = cache.get(CURRENCY_CACHE_KEY)
    if not isinstance(code, str):
        code = Organisation.current().currency
        cache.set(CURRENCY_CACHE_KEY, code, 60)
    return code


def format_money(value: Any, currency: str | None = None, language: str | None = None) -> str:
    """`1234.5` -> "€1,234.50" in English, "1 234,50 €" in Russian; "" for no number."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    code = (currency or organisation_currency()).upper()
    symbol = SYMBOLS.get(code, code)
    lang = (language or get_language() or "en").lower()
    with translation.override(lang):
        number = number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    sign = "-" if amount < 0 else ""
    if lang.startswith("ru"):
        return f"{sign}{number}\u00a0{symbol}"
    if len(symbol) > 1:
        return f"{sign}{symbol}\u00a0{number}"
    return f"{sign}{symbol}{number}"


@register.filter
def money(value: Any, currency: str | None = None) -> str:
    return format_money(value, currency)


def format_percent(value: Any, digits: int = 1, language: str | None = None) -> str:
    """A ratio as a percentage for the active language: `0.1234` -> "12.3%" in English,
    "12,3 %" in Russian (a no-break space, as Russian typography has it); "" for no number."""
    if value is None or value == "":
        return ""
    try:
        ratio = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not ratio.is_finite():
        return ""
    lang = (language or get_language() or "en").lower()
    with translation.override(lang):
        number = number_format(ratio * 100, digits, use_l10n=True, force_grouping=True)
    return f"{number}\u00a0%" if lang.startswith("ru") else f"{number}%"


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    return format_percent(value, int(digits))


@register.filter
def percentage(value: Any, digits: int = 0) -> str:
    """A number that is a percentage already (a stage's probability 20, a tax rate 20.00):
    "20%" in English, "20 %" in Russian; "" for no number."""
    try:
        ratio = Decimal(str(value)) / 100
    except (InvalidOperation, ValueError):
        return ""
    return format_percent(ratio, int(digits))


def person_name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """A user's full name, else their username; "" for nobody (all three None)."""
    full = f"{first_name or ''} {last_name or ''}".strip()
    return full or (username or "")


@register.filter
def person(user: Any) -> str:
    """A user's full name, else their username; "" for nobody."""
    if user is None:
        return ""
    return person_name(
        getattr(user, "first_name", ""),
        getattr(user, "last_name", ""),
        str(getattr(user, "username", "")),
    )


def _links(items: Any) -> SafeString:
    return format_html_join(
        "",
        '<a href="{}"{}>{}</a>',
        ((item["url"], CURRENT if item["active"] else "", item["label"]) for item in items),
    )


@register.simple_tag
def nav_menu(groups: Any) -> SafeString:
    """The workspaces (`context_processors.navigation`): a workspace with one page is its link,
    one with several a disclosure (`<details>`) holding their links; the workspace holding the
    current page is marked."""
    parts = []
    for group in groups:
        if len(group["items"]) == 1:
            parts.append(_links(group["items"]))
            continue
        parts.append(
            format_html(
                '<details class="nav-group" data-group="{}"><summary{}>{}</summary>'
                '<div class="nav-menu">{}</div></details>',
                group["key"],
                ACTIVE_GROUP if group["active"] else "",
                group["label"],
                _links(group["items"]),
            )
        )
    return format_html_join("", "{}", ((part,) for part in parts))


ACTIVE_GROUP = mark_safe(' class="active"')
CURRENT = mark_safe(' aria-current="page"')


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""


register.filter("kind_label", labels.kind_label)
register.filter("channel_label", labels.channel_label)
register.filter("attribution_model_label", labels.attribution_model_label)
register.filter("department_label", labels.department_label)
