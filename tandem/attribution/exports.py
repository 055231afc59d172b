"""CSV and XLSX exports of an attribution run.

One table: ``dimension, name, conversions, value, share, lower, upper`` per credited item,
then the top paths. Invariants: every text cell that a spreadsheet would read as a formula
(starting with ``= + - @``, a tab or a carriage return) is prefixed with a single quote, in
CSV and XLSX alike; numbers stay numbers; the CSV is UTF-8 with a BOM (Excel reads Cyrillic
names right).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from tandem.attribution.journeys import DIMENSIONS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Neutralise spreadsheet formula injection (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value)
    return value


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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows(result):
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(result: dict[str, Any]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Attribution"))
    for row in rows(result):
        ws.append([_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
