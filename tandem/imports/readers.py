"""Reading import files row by row: CSV (UTF-8, with or without a byte-order mark) and XLSX.

`read_rows(path)` yields `(number, cells)`: the header first as number 1, then each data row with
the number it has in a spreadsheet (blank lines are skipped but keep their number counted).

Invariants:
- rows are streamed, never loaded whole: CSV line by line, XLSX through openpyxl's read-only mode;
- every cell is a `str` (empty cells are ""), and every data row has exactly as many cells as the
  header; a CSV row with more or fewer cells is an `UnreadableFile` naming its line (trailing empty
  XLSX cells are trimmed, a value beyond the header's last column is an error too);
- bytes that are not UTF-8, a malformed CSV or a file that is not a workbook raise
  `UnreadableFile` with a message naming the line, never a traceback;
- a workbook with a document type declaration (DTD) in any of its XML parts is refused before
  any part is parsed: no entity is ever expanded or fetched (billion laughs, external entities),
  whether or not openpyxl has defusedxml at hand.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput

XLSX_MAGIC = b"PK\x03\x04"
_DTD = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_XML_PARTS = (".xml", ".rels", ".vml")
_CHUNK = 64 * 1024


class UnreadableFile(InvalidInput):
    """The file as a whole cannot be read; nothing from it may be stored."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": [message]}, code="unreadable_file")


def is_xlsx(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == XLSX_MAGIC


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The header (number 1), then every non-blank data row with its row number."""
    if is_xlsx(path):
        yield from _xlsx_rows(path)
    else:
        yield from _csv_rows(path)


def read_header(path: Path) -> list[str]:
    for _number, cells in read_rows(path):
        return cells
    raise UnreadableFile(_("The file is empty."))


def _decoded_lines(path: Path, where: list[int]) -> Iterator[str]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            where[0] = number
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise UnreadableFile(
                    _("Line %(line)d is not UTF-8 text (byte %(byte)d). Save the file as UTF-8.")
                    % {"line": number, "byte": exc.start + 1}
                ) from exc
            yield text


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    where = [0]
    reader = csv.reader(_decoded_lines(path, where), strict=True)
    width = 0
    row_number = 0
    try:
        for cells in reader:
            row_number += 1
            if not any(c.strip() for c in cells):
                continue
            if width == 0:
                width = len(cells)
            elif len(cells) != width:
                raise UnreadableFile(
                    _("Line %(line)d has %(found)d columns; the header has %(width)d.")
                    % {"line": reader.line_num, "found": len(cells), "width": width}
                )
            yield row_number, cells
    except csv.Error as exc:
        raise UnreadableFile(
            _("Line %(line)d is not valid CSV: %(reason)s") % {"line": where[0], "reason": exc}
        ) from exc


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _refuse_dtd(path: Path) -> None:
    """Scan every XML part of the workbook (streamed, in chunks overlapping by the marker's
    length) for a document type declaration; a workbook never needs one."""
    try:
        with zipfile.ZipFile(path) as archive:
            for item in archive.infolist():
                if not item.filename.lower().endswith(_XML_PARTS):
                    continue
                with archive.open(item) as part:
                    tail = b""
                    while chunk := part.read(_CHUNK):
                        if _DTD.search(tail + chunk):
                            raise UnreadableFile(
                                _(
                                    "The workbook holds a DTD (in %(part)s); save it again "
                                    "from a spreadsheet program."
                                )
                                % {"part": item.filename[:100]}
                            )
                        tail = chunk[-8:]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise UnreadableFile(_("The file is not a readable XLSX workbook.")) from exc


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    _refuse_dtd(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise UnreadableFile(_("The file is not a readable XLSX workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        width = 0
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            if width == 0:
                width = len(cells)
            elif len(cells) > width:
                raise UnreadableFile(
                    _("Row %(line)d has a value in column %(found)d; the header has %(width)d.")
                    % {"line": number, "found": len(cells), "width": width}
                )
            yield number, cells + [""] * (width - len(cells))
    finally:
        workbook.close()
