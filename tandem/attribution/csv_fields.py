"""A CSV file read as columns of byte ranges with numpy, without a Python object per row.

`CsvFields.read(data)` finds every record and field of a UTF-8 CSV buffer with a few
vectorised passes over its bytes; `numbers(...)` parses a column of numbers the same way.
Pure: numpy only, no Django.

Invariants:
- records are split at ``\\n`` (a ``\\r`` before it is dropped) and fields at ``,``, except
  inside double quotes, as the csv module reads RFC 4180 files; a quoted field loses its
  outer quotes; an escaped quote (``""``) inside a field is refused (`CsvError`), never
  misread; empty records are skipped;
- every message names the file's line (1-based, physical lines: a record spanning lines
  is named by its first);
- numbers are exactly what Python's ``float`` makes of each field: fields of up to 8 bytes
  (counts, mostly) are read as 64-bit words in place and each distinct one parsed once;
  longer ones (a value's 17 significant digits) one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tandem.attribution.engine.tokenize import u64_at

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

QUOTE, COMMA, NEWLINE, CR = (ord(c) for c in '",\n\r')
MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)


class CsvError(Exception):
    """Input that is not the CSV expected; the message names the line."""


@dataclass(frozen=True)
class CsvFields:
    """The records of a CSV buffer after its header, and where each field of each starts."""

    data: bytes
    bytes_: NDArray[np.uint8]
    header: list[str]
    starts: IntArray  # of each record's first byte
    ends: IntArray  # of each record's end (exclusive, without \r\n)
    lines: IntArray  # each record's 1-based line in the file
    commas: IntArray  # positions of the field separators, in order
    first_comma: IntArray  # index into `commas` of each record's first separator
    n_fields: IntArray
    quoted: bool

    @classmethod
    def read(cls, data: bytes) -> CsvFields:
        """Split ``data`` (UTF-8, a header line first) into records and fields."""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if not data:
            raise CsvError("line 1: empty file, expected a header")
        u8 = np.frombuffer(data, dtype=np.uint8)
        quoted = b'"' in data
        newline = u8 == NEWLINE
        comma = u8 == COMMA
        if quoted:
            outside = (np.cumsum(u8 == QUOTE) & 1) == 0
            all_newlines = np.flatnonzero(newline)
            newline &= outside
            comma &= outside
        breaks = np.flatnonzero(newline)
        starts = np.concatenate([[0], breaks + 1]).astype(np.int64)
        ends = np.concatenate([breaks, [len(data)]]).astype(np.int64)
        ends -= (ends > starts) & (u8[np.maximum(ends - 1, 0)] == CR)
        if quoted:
            lines = np.searchsorted(all_newlines, starts).astype(np.int64) + 1
        else:
            lines = np.arange(1, starts.shape[0] + 1, dtype=np.int64)
        keep = ends > starts
        starts, ends, lines = starts[keep], ends[keep], lines[keep]
        if starts.shape[0] == 0:
            raise CsvError("line 1: empty file, expected a header")
        commas = np.flatnonzero(comma).astype(np.int64)
        first_comma = np.searchsorted(commas, starts).astype(np.int64)
        n_fields = np.searchsorted(commas, ends).astype(np.int64) - first_comma + 1
        header_fields = cls._fields_of(
            data, starts[0], commas[first_comma[0] :][: n_fields[0] - 1], ends[0]
        )
        header = [h.strip() for h in header_fields]
        return cls(
            data, u8, header, starts[1:], ends[1:], lines[1:], commas, first_comma[1:],
            n_fields[1:], quoted,
        )  # fmt: skip

    @staticmethod
    def _fields_of(data: bytes, start: int, commas: IntArray, end: int) -> list[str]:
        bounds = [start, *(int(c) + 1 for c in commas)]
        stops = [*(int(c) for c in commas), end]
        text = [data[a:b].decode("utf-8") for a, b in zip(bounds, stops, strict=True)]
        return [t[1:-1] if len(t) >= 2 and t[0] == t[-1] == '"' else t for t in text]

    @property
    def n_records(self) -> int:
        return int(self.starts.shape[0])

    def require(self, columns: int) -> None:
        """Refuse the first record with fewer than ``columns`` fields."""
        short = np.flatnonzero(self.n_fields < columns)
        if short.size:
            line = int(self.lines[short[0]])
            raise CsvError(f"line {line}: expected at least {columns} fields")

    def field(self, column: int) -> tuple[IntArray, IntArray]:
        """``(starts, ends)`` of field ``column`` (0-based) of every record (see `require`)."""
        start = self.starts if column == 0 else self.commas[self.first_comma + column - 1] + 1
        if self.commas.size:
            after = self.first_comma + column
            following = self.commas[np.minimum(after, self.commas.shape[0] - 1)]
            end = np.where(self.n_fields > column + 1, following, self.ends)
        else:
            end = self.ends
        if self.quoted:
            u8 = self.bytes_
            wrapped = (
                (end - start >= 2) & (u8[start] == QUOTE) & (u8[np.maximum(end - 1, 0)] == QUOTE)
            )
            start = start + wrapped
            end = end - wrapped
            inside = np.concatenate([[0], np.cumsum(u8 == QUOTE)])
            escaped = np.flatnonzero(inside[end] - inside[start] > 0)
            if escaped.size:
                line = int(self.lines[escaped[0]])
                raise CsvError(f"line {line}: a quote inside a field is not supported")
        return start, end

    def text(self, start: IntArray, end: IntArray, record: int) -> str:
        return self.data[int(start[record]) : int(end[record])].decode("utf-8")

    def numbers(self, column: int, name: str, only: IntArray | None = None) -> FloatArray:
        """Field ``column`` of every record (or of the records ``only``) as finite floats;
        `CsvError` names the first bad line."""
        start, end = self.field(column)
        lines = self.lines
        if only is not None:
            start, end, lines = start[only], end[only], lines[only]
        width = end - start
        values = np.empty(start.shape[0], dtype=np.float64)
        short = np.flatnonzero(width <= 8)
        if short.size:  # each distinct short field parsed once by float()
            words = u64_at(self.data, start[short]) & MASKS[width[short]]
            distinct, inverse = np.unique(words, return_inverse=True)
            texts = [int(w).to_bytes(8, "little").rstrip(b"\0") for w in distinct.tolist()]
            parsed = np.array([_float(t) for t in texts], dtype=np.float64)
            values[short] = parsed[inverse.reshape(-1)]
        long = np.flatnonzero(width > 8)
        data = self.data
        values[long] = [
            _float(data[a:b]) for a, b in zip(start[long].tolist(), end[long].tolist(), strict=True)
        ]
        bad = np.flatnonzero(~np.isfinite(values) | (width == 0))
        if bad.size:
            i = int(bad[0])
            text = self.text(start, end, i)
            problem = (
                "not a finite number" if np.isinf(values[i]) or _is_nan(text) else "not a number"
            )
            raise CsvError(f"line {int(lines[i])}: {name} is {problem}: {text!r}")
        return values


def _float(text: bytes) -> float:
    """``float(text)``, NaN for text that is not a number (`numbers` names its line)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _is_nan(text: str) -> bool:
    return text.strip().lower().lstrip("+-") == "nan"
