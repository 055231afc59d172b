"""CSV and XLSX exports of an attribution run.

One table: ``dimension, name, conversions, value, share, lower, upper`` per credited item,
then the top paths. Written by the shared writers of `tandem.core.exports`, so the same
invariants hold: every text cell that a spreadsheet would read as a formula (starting with
``= + - @``, a tab or a carriage return, also after leading whitespace) is prefixed with a
single quote, in CSV and XLSX alike; numbers stay numbers; the CSV is UTF-8 with a BOM (Excel
reads Cyrillic names right).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from tandem.attribution.journeys import DIMENSIONS
from tandem.core import exports
from tandem.core.exports import FORMULA_START, safe_text

__all__ = ["FORMULA_START", "rows", "safe_text", "to_csv", "to_xlsx"]


def rows(result: dict[str, Any]) -> Iterator[list[Any]]:
    """The export table, header first."""
    yield [
        _("dimension"),
        _("name"),
        _("conversions"),
        _("value"),
        _("share"),
        _("lower"),
        _("upper"),
    ]
    credits = result.get("credits", {})
    for dim in DIMENSIONS:
        for r in credits.get(dim, []):
            yield [dim, r["name"], r["conversions"], r["value"], r["share"], r["lower"], r["upper"]]
    for p in result.get("top_paths", []):
        yield ["path", p["path"], p["conversions"], p["value"], None, None, None]


def to_csv(result: dict[str, Any]) -> bytes:
    return exports.to_csv(rows(result))


def to_xlsx(result: dict[str, Any]) -> bytes:
    return exports.to_xlsx(rows(result), sheet=_("Attribution"))
