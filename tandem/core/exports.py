"""Spreadsheet exports for every list: CSV (streamed) and XLSX, safe against formula injection.

A page or endpoint builds its rows from the same `scoped(user, Model)` query as the list it
exports (with the list's filters, search and sort), describes the columns, and hands both to
`respond`, which answers the download and writes the audit entry.

Invariants:
- every text cell a spreadsheet would run as a formula is neutralised with a leading single
  quote (OWASP "CSV injection"): text starting with ``= + - @``, a tab or a carriage return, also
  after leading whitespace (`` =1+1``); the same in CSV and XLSX, so no cell of an export is ever
  a formula; numbers (int, float, Decimal) stay numbers, booleans stay booleans;
- CSV is UTF-8 with a byte-order mark (Excel then reads Cyrillic right) and CRLF line ends, and
  is streamed row by row (`StreamingHttpResponse`): memory stays flat however long the list;
- XLSX is written by openpyxl in write-only mode into a spooled temporary file and sent in
  blocks; it holds at most `XLSX_MAX_ROWS` rows (Excel's sheet limit): a longer export is refused
  with `InvalidInput` before anything is sent (CSV has no limit);
- a format other than ``csv`` or ``xlsx`` is `InvalidInput` (a 400 with the reason), never a 500;
- every export writes one audit entry (action ``export``): who, which model (and which record it
  was taken from: a segment, an event, an import job), the format, the number of data rows sent
  and the filters. For XLSX it is written before the file is sent; for a streamed CSV when the
  last row has been sent, or, if the download is broken off, with the rows sent so far and
  ``complete: false``;
- times are written in the current time zone, without offset (spreadsheets have no time zones).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import FileResponse, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook

from tandem.core.access import can
from tandem.core.audit import Actor, record_changes
from tandem.core.errors import InvalidInput
from tandem.core.models import User

logger = logging.getLogger("tandem.exports")

T = TypeVar("T")

FORMATS = ("csv", "xlsx")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows per sheet, less the header
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
CSV_FLUSH_ROWS = 500  # rows per streamed chunk
EXPORT_ACTION = "export"


# --- cells ----------------------------------------------------------------------------------


_TRIGGERS = frozenset(FORMULA_START)


def safe_text(value: str) -> str:
    """Neutralise spreadsheet formula injection (OWASP CSV injection) with a leading quote."""
    if not value:
        return value
    first = value[0]
    if first in _TRIGGERS or (first.isspace() and value.lstrip()[:1] in _TRIGGERS):
        return "'" + value
    return value


def _local(value: dt.datetime) -> dt.datetime:
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None, microsecond=0)


def cell(value: Any) -> Any:
    """A value as an XLSX cell: numbers, booleans and dates as such, everything else safe text."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if value is None:
        return ""
    if kind is int or kind is float or kind is bool or kind is decimal.Decimal:
        return value
    if isinstance(value, dt.datetime):
        return _local(value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool | int | float | decimal.Decimal):  # subclasses (IntEnum…)
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return safe_text("; ".join(str(v) for v in value))
    if isinstance(value, dict):
        return safe_text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return safe_text(str(value))


def csv_cell(value: Any) -> Any:
    """A value as a CSV field: like `cell`, with times as ``YYYY-MM-DD HH:MM:SS`` text."""
    value = cell(value)
    kind = type(value)
    if kind is str or kind is int:
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# --- writers --------------------------------------------------------------------------------


class _Line:
    """A write target that hands back what csv.writer wrote."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def csv_chunks(rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV as UTF-8 chunks, BOM first, a chunk every `CSV_FLUSH_ROWS` rows."""
    line = _Line()
    writer = csv.writer(line, lineterminator="\r\n")
    yield "\ufeff".encode()
    for n, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v) for v in row])
        if n % CSV_FLUSH_ROWS == 0:
            yield line.take().encode("utf-8")
    rest = line.take()
    if rest:
        yield rest.encode("utf-8")


def to_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole (small) CSV in memory."""
    return b"".join(csv_chunks(rows))


def _sheet_title(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title.strip()[:31] or "Sheet"


def _discard(ws: Any) -> None:
    """Finish a write-only sheet that will not be saved and remove its temporary file."""
    ws.close()
    writer = getattr(ws, "_writer", None)
    if writer is not None:
        writer.cleanup()


def write_xlsx(rows: Iterable[Sequence[Any]], target: Any, *, sheet: str) -> int:
    """Write the rows (header first) as one sheet into `target`; returns the data rows written.

    Raises InvalidInput, before `target` holds a workbook, when there are more rows than a
    sheet takes."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet))
    written = -1
    for row in rows:
        written += 1
        if written > XLSX_MAX_ROWS:
            _discard(ws)
            raise InvalidInput(
                {
                    "format": [
                        _(
                            "An XLSX sheet holds at most %(n)s rows; this export has more. "
                            "Export as CSV or narrow the filters."
                        )
                        % {"n": f"{XLSX_MAX_ROWS:,}"}
                    ]
                },
                code="too_many_rows",
            )
        ws.append([cell(v) for v in row])
    wb.save(target)
    return max(written, 0)


def to_xlsx(rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet") -> bytes:
    """A whole (small) XLSX in memory."""
    out = io.BytesIO()
    write_xlsx(rows, out, sheet=sheet)
    return out.getvalue()


# --- requests -------------------------------------------------------------------------------


def parse_format(value: object) -> str:
    """``csv`` (the default when nothing is given) or ``xlsx``; anything else is InvalidInput."""
    if value is None or value == "":
        return "csv"
    text = str(value).strip().lower()
    if text not in FORMATS:
        raise InvalidInput(
            {
                "format": [
                    _("Unknown export format %(value)s: use csv or xlsx.")
                    % {"value": repr(str(value)[:20])}
                ]
            },
            code="bad_format",
        )
    return text


def page_format(user: object, value: object) -> str:
    """The format a page's export link asks for, for a user who may export.

    Raises PermissionDenied (a 403) for a user without the ``export`` capability and
    InvalidInput for a bad format (answer it with `refused`)."""
    if not isinstance(user, User) or not can(user, "export"):
        raise PermissionDenied
    return parse_format(value)


def refused(exc: InvalidInput) -> HttpResponse:
    """A page export's 400: the reason as plain text (the browser shows it as is)."""
    reasons = "; ".join(m for messages in exc.errors.values() for m in messages)
    return HttpResponse(reasons, status=400, content_type="text/plain; charset=utf-8")


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an export: its (translated) header and how to read it off a record."""

    header: str
    value: Callable[[T], Any]


def record_export(
    *,
    actor: Actor,
    model: type[models.Model],
    fmt: str,
    rows: int,
    source: models.Model | None = None,
    filters: Mapping[str, Any] | None = None,
    complete: bool = True,
) -> None:
    """The audit entry of one export: who, what, how many rows, with which filters.

    Written with `tandem.core.audit.record_changes` (an export changes no record, so there is no
    instance for `record_change`): the model exported, and the record it was taken from (segment,
    event, import job) as object id and name, else an empty id and the model's name."""
    changes: dict[str, Any] = {
        "format": fmt,
        "rows": rows,
        "filters": {k: v for k, v in (filters or {}).items() if v not in (None, "", [])},
    }
    if source is not None:
        changes["source"] = source._meta.label
    if not complete:
        changes["complete"] = False
    object_id = str(source.pk) if source is not None else ""
    name = str(source) if source is not None else str(model._meta.verbose_name_plural)
    with transaction.atomic():
        record_changes(
            actor=actor, model=model, entries=[(EXPORT_ACTION, object_id, name, changes)]
        )


def _table(columns: Sequence[Column[T]], records: Iterable[T]) -> Iterator[list[Any]]:
    yield [c.header for c in columns]
    for record in records:
        yield [c.value(record) for c in columns]


def _counted(rows: Iterable[list[Any]], seen: list[int]) -> Iterator[list[Any]]:
    for row in rows:
        seen[0] += 1
        yield row


def _streamed(
    chunks: Iterator[bytes], language: str | None, done: Callable[[bool], None]
) -> Iterator[bytes]:
    """Stream the chunks in the request's language; report whether all were sent at the end."""
    complete = False
    try:
        with translation.override(language):
            yield from chunks
        complete = True
    finally:
        done(complete)


def respond(
    *,
    actor: Actor,
    fmt: str,
    filename: str,
    columns: Sequence[Column[T]],
    records: Iterable[T],
    model: type[models.Model],
    source: models.Model | None = None,
    filters: Mapping[str, Any] | None = None,
    sheet: str = "",
) -> HttpResponseBase:
    """The download of `records` (already scoped, filtered and sorted) as CSV or XLSX.

    `fmt` must come from `parse_format`. Raises InvalidInput for an XLSX over the sheet limit."""
    fmt = parse_format(fmt)
    name = f"{filename}-{timezone.localdate():%Y%m%d}.{fmt}"
    table = _table(columns, records)
    if fmt == "xlsx":
        target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        try:
            rows = write_xlsx(table, target, sheet=sheet or filename)
        except BaseException:
            target.close()
            raise
        record_export(actor=actor, model=model, fmt=fmt, rows=rows, source=source, filters=filters)
        target.seek(0)
        response: HttpResponseBase = FileResponse(
            target, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE
        )
        return response

    seen = [0]

    def done(complete: bool) -> None:
        try:
            record_export(
                actor=actor,
                model=model,
                fmt=fmt,
                rows=max(seen[0] - 1, 0),  # less the header
                source=source,
                filters=filters,
                complete=complete,
            )
        except Exception:  # the download is already under way: log, do not lose the stream
            logger.exception("could not write the audit entry of an export")
            if complete:
                raise

    response = StreamingHttpResponse(
        _streamed(csv_chunks(_counted(table, seen)), translation.get_language(), done),
        content_type=CSV_CONTENT_TYPE,
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
