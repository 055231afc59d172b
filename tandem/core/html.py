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
            parts.append(f" {escape(name)}")
        elif value is not False:
            parts.append(f' {escape(name)}="{escape(value)}"')
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


# Django's date format characters that a str.format() field can write: {0} is the date.
_DATE_FIELDS = {
    "d": "{0.day:02d}",
    "j": "{0.day}",
    "m": "{0.month:02d}",
    "n": "{0.month}",
    "Y": "{0.year:04d}",
    "y": "{1:02d}",  # {1} is the year modulo 100
}


def _numeric_template(fmt: str) -> str | None:
    """`fmt` (Django's date format) as a str.format() template, if it uses only the numeric
    day, month and year characters (as SHORT_DATE_FORMAT does in every language Tandem speaks);
    None for anything else. Split with Django's own pattern, so escapes mean the same."""
    parts = []
    for i, piece in enumerate(dateformat.re_formatchars.split(fmt)):
        if i % 2:
            if piece not in _DATE_FIELDS:
                return None
            parts.append(_DATE_FIELDS[piece])
        elif piece:
            literal = escape(dateformat.re_escaped.sub(r"\1", piece))
            parts.append(literal.replace("{", "{{").replace("}", "}}"))
    return "".join(parts)


def date_formatter(format_name: str = "SHORT_DATE_FORMAT") -> Callable[[datetime | None], str]:
    """What `{{ value|date:format_name }}` writes, in the active language and time zone. The
    format and the zone are looked up once, not per value, and a numeric format is written by
    str.format() instead of Django's general date formatter (5x faster)."""
    fmt = str(get_format(format_name))
    template = _numeric_template(fmt)
    zone = timezone.get_current_timezone() if settings.USE_TZ else None

    def format_date(value: datetime | None) -> str:
        if value is None:
            return ""
        if zone is not None and timezone.is_aware(value):  # as templates show datetimes
            value = value.astimezone(zone)
        if template is not None:
            return template.format(value, value.year % 100)
        return escape(dateformat.format(value, fmt))

    return format_date
