"""Reading uploaded CSV files for marketing imports (costs, attendance, badge scans, social stats).

Invariants:
- the file is UTF-8, with or without a byte-order mark; anything else is refused with a reason
  (`InvalidInput`), never a traceback;
- headers are matched case-insensitively, ignoring surrounding spaces and quotes, through an
  alias table (`columns`): a missing required column refuses the whole file before any row is read;
- rows are numbered as a spreadsheet shows them (the header is row 1), so a report points at the
  line people see;
- at most `MAX_BYTES` and `MAX_ROWS`: a larger file is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000


@dataclass
class RowReport:
    """What an import did, row by row: stored rows and the reasons others were skipped."""

    imported: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def fail(self, row: int, reason: str) -> None:
        self.skipped += 1
        self.errors.append((row, reason))

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "errors": [{"row": r, "reason": m} for r, m in self.errors],
        }


def _norm(header: str) -> str:
    return " ".join(header.strip().strip('"').lower().split())


def read_rows(
    data: bytes,
    *,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {key: text}) for each data row; `columns` maps a key to header aliases."""
    if len(data) > MAX_BYTES:
        raise InvalidInput({"file": [_("The file is larger than 10 MB.")]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"file": [_("The file is not UTF-8 text.")]}) from None
    if "\x00" in text:
        raise InvalidInput({"file": [_("The file is not a CSV text file.")]})
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput({"file": [_("The file is empty.")]}) from None
    except csv.Error:
        raise InvalidInput({"file": [_("The file is not a readable CSV file.")]}) from None
    position = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    index: dict[str, int] = {}
    for key, aliases in columns.items():
        for alias in aliases:
            if _norm(alias) in position:
                index[key] = position[_norm(alias)]
                break
    missing = [columns[k][0] for k in required if k not in index]
    if missing:
        raise InvalidInput(
            {"file": [_("Missing columns: %(names)s.") % {"names": ", ".join(missing)}]}
        )
    try:
        for number, values in enumerate(reader, start=2):
            if number - 1 > MAX_ROWS:
                raise InvalidInput({"file": [_("At most 100,000 rows per file.")]})
            if not any(v.strip() for v in values):
                continue
            yield (
                number,
                {k: (values[i].strip() if i < len(values) else "") for k, i in index.items()},
            )
    except csv.Error:
        raise InvalidInput({"file": [_("The file is not a readable CSV file.")]}) from None
