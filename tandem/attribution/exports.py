"""CSV and XLSX exports of an attribution run.

One table: ``dimension, name, conversions, value, share, lower, upper`` per credited item,
then the top paths; given the adjusted credit (`services.department_credit_adjusted`), rows
``department_adjusted`` with the credit after the head's decisions (lower and upper hold the
model's conversions and share, for comparison) and a ``decision`` row per decision (name: the
deal and the decision's link). Written by the shared writers of `tandem.core.exports`, so the same
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


def rows(result: dict[str, Any], adjusted: dict[str, Any] | None = None) -> Iterator[list[Any]]:
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
    if adjusted and adjusted.get("adjustments"):
        for r in adjusted["rows"]:
            yield [
                "department_adjusted",
                r["name"],
                r["conversions"],
                r["value"],
                r["share"],
                r["model_conversions"],
                r["model_share"],
            ]
        for a in adjusted["adjustments"]:
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(a["shares"].items()))
            name = f"{a['deal']}: {shares} ({a['decision_url']})"
            yield ["decision", name, 1, None, None, None, None]


def to_csv(result: dict[str, Any], adjusted: dict[str, Any] | None = None) -> bytes:
    return exports.to_csv(rows(result, adjusted))


def to_xlsx(result: dict[str, Any], adjusted: dict[str, Any] | None = None) -> bytes:
    return exports.to_xlsx(rows(result, adjusted), sheet=_("Attribution"))
