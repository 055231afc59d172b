"""HTML written in Python for the few fragments a page repeats many times.

A list page repeats its row 25 times and a filter form its <option> a hundred; through the
template language each variable and tag of them is a node resolved on every pass, which made
those fragments most of a list page's cost. Django's admin builds its change-list rows in Python
for the same reason. The helpers here give the same output as the template language would
(`escape` is what autoescaping applies, `attributes` is Django's widget `attrs.html`), so
templates and these fragments can be mixed freely.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe

__all__ = ["attributes", "date_formatter", "escape", "id_url", "markup"]


def escape(value: Any) -> str:
    """`value` as text, escaped as template autoescaping escapes it: text marked safe passes
    unchanged, anything else through `html.escape` (what `django.utils.html.conditional_escape`
    does, without its per-call check for lazy arguments, which costs more than the escaping)."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def markup(parts: Iterable[str]) -> SafeString:
    """Fragments joined into markup that templates will not escape again: the one place this
    module vouches for HTML, so every value inside `parts` must have gone through `escape`,
    `attributes`, `id_url` or `date_formatter`."""
    return mark_safe("".join(parts))  # noqa: S308 - callers escape every value they insert


def attributes(attrs: Mapping[str, Any]) -> str:
    """` name="value"` for each attribute, as Django's widget attrs.html writes them: True
    writes the bare name, False leaves the attribute out."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {name}")
        elif value is not False:
            parts.append(f' {name}="{escape(value)}"')
    return "".join(parts)


_SENTINEL_ID = 987654321987654321


def id_url(viewname: str) -> Callable[[Any], str]:
    """`reverse(viewname, args=[pk])` for many ids at the cost of one reverse(): the URL is
    reversed once with a sentinel id, which each call replaces with the integer id. For URLs
    whose only argument is an integer id; escaped for use in an attribute."""
    url = reverse(viewname, args=[_SENTINEL_ID])
    head, found, tail = url.partition(str(_SENTINEL_ID))
    if not found:  # pragma: no cover - a URL pattern that does not echo its id
        raise ValueError(f"{viewname} does not put its id in the URL")
    head, tail = escape(head), escape(tail)
    return lambda pk: f"{head}{int(pk)}{tail}"


def date_formatter(format_name: str = "SHORT_DATE_FORMAT") -> Callable[[datetime | None], str]:
    """What `{{ value|date:format_name }}` writes, in the active language and time zone: the
    format is looked up once, not per value."""
    fmt = get_format(format_name)

    def format_date(value: datetime | None) -> str:
        if value is None:
            return ""
        if settings.USE_TZ and timezone.is_aware(value):  # as templates show datetimes
            value = timezone.localtime(value)
        return escape(dateformat.format(value, fmt))

    return format_date
