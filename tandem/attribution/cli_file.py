"""``tandem attribution-file PATH --model M``: attribute conversions in a CSV file.

Two layouts, detected by the header:

* aggregated paths (channelattribution's layout): ``path``, ``total_conversions``,
  ``total_conversion_value``, ``total_null``; path items separated by ``>``;
* touchpoints: ``journey_id``, ``ts`` (ISO-8601 or epoch seconds), ``channel``,
  ``converted``, ``value``.

Output is an aligned table, or with ``--json``
``{"model": ..., "channels": {name: {"conversions", "value"[, "removal_effect"]}}}``.
A malformed or unreadable file prints one message naming the line to stderr and exits
with status 2 -- never a traceback. Pure: no Django import.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime

from tandem.attribution.engine import JourneyError, Journeys, credit
from tandem.attribution.engine.result import AttributionResult

PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
TOUCH_COLUMNS = ("journey_id", "ts", "channel", "converted", "value")
MODEL_NAMES = {
    "first": "first",
    "last": "last",
    "linear": "linear",
    "time-decay": "time-decay",
    "position": "position",
    "markov": "markov",
    "shapley": "shapley",
}


class InputError(Exception):
    """A problem with the input file, reported on stderr with exit code 2."""


def _number(text: str, line: int, column: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"line {line}: {column} is not a number: {text!r}") from None
    if not math.isfinite(x):
        raise InputError(f"line {line}: {column} is not a finite number: {text!r}")
    return x


def _count(text: str, line: int, column: str) -> float:
    x = _number(text, line, column)
    if x < 0:
        raise InputError(f"line {line}: {column} must not be negative: {text!r}")
    return x


def _timestamp(text: str, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"line {line}: ts is neither ISO-8601 nor epoch: {text!r}") from None
    if parsed.tzinfo is None:
        return (parsed - datetime(1970, 1, 1)).total_seconds()  # noqa: DTZ001 - naive = UTC
    return parsed.timestamp()


def read_journeys(path: str) -> Journeys:
    """Read either layout into `Journeys`; raises `InputError` with a line number."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise InputError("line 1: empty file, expected a header")
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    if "path" in header:
        return _read_paths(header, rows[1:])
    if "journey_id" in header:
        return _read_touchpoints(header, rows[1:])
    raise InputError(
        "line 1: header must contain either "
        f"{', '.join(PATH_COLUMNS)} or {', '.join(TOUCH_COLUMNS)}"
    )


def _columns(header: list[str], wanted: Sequence[str]) -> dict[str, int]:
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"line 1: missing column(s): {', '.join(missing)}")
    return {c: header.index(c) for c in wanted}


def _cells(row: list[str], col: dict[str, int], line: int) -> dict[str, str]:
    if len(row) < len(col) or max(col.values()) >= len(row):
        raise InputError(f"line {line}: expected at least {max(col.values()) + 1} fields")
    return {name: row[i] for name, i in col.items()}


def _read_paths(header: list[str], rows: list[list[str]]) -> Journeys:
    col = _columns(header, PATH_COLUMNS)
    paths: list[list[str]] = []
    conv: list[float] = []
    val: list[float] = []
    nulls: list[float] = []
    for k, row in enumerate(rows):
        line = k + 2
        if not row:
            continue
        cell = _cells(row, col, line)
        items = [p.strip() for p in cell["path"].split(">")]
        if not cell["path"].strip():
            raise InputError(f"line {line}: empty path")
        if any(not p for p in items):
            raise InputError(f"line {line}: empty channel in path {cell['path']!r}")
        paths.append(items)
        conv.append(_count(cell["total_conversions"], line, "total_conversions"))
        val.append(_number(cell["total_conversion_value"], line, "total_conversion_value"))
        nulls.append(_count(cell["total_null"], line, "total_null"))
    if not paths:
        raise InputError("line 2: no data rows")
    return Journeys.from_sequences(paths, conv, val, nulls)


def _read_touchpoints(header: list[str], rows: list[list[str]]) -> Journeys:
    col = _columns(header, TOUCH_COLUMNS)
    jid: list[str] = []
    ts: list[float] = []
    channel: list[str] = []
    conv: list[float] = []
    val: list[float] = []
    for k, row in enumerate(rows):
        line = k + 2
        if not row:
            continue
        cell = _cells(row, col, line)
        if not cell["journey_id"].strip():
            raise InputError(f"line {line}: empty journey_id")
        if not cell["channel"].strip():
            raise InputError(f"line {line}: empty channel")
        jid.append(cell["journey_id"].strip())
        ts.append(_timestamp(cell["ts"], line))
        channel.append(cell["channel"].strip())
        conv.append(_count(cell["converted"], line, "converted"))
        val.append(_number(cell["value"], line, "value") if cell["value"].strip() else 0.0)
    if not jid:
        raise InputError("line 2: no data rows")
    return Journeys.from_touchpoints(jid, ts, channel, conv, val)


def format_table(result: AttributionResult) -> str:
    headers = ["channel", "conversions", "value"]
    if result.removal_effects is not None:
        headers.append("removal_effect")
    body = []
    for i, name in enumerate(result.channels):
        row = [name, f"{result.conversions[i]:.4f}", f"{result.value[i]:.2f}"]
        if result.removal_effects is not None:
            row.append(f"{result.removal_effects[i]:.4f}")
        body.append(row)
    body.append(
        ["total", f"{result.conversions.sum():.4f}", f"{result.value.sum():.2f}"]
        + ([""] if result.removal_effects is not None else [])
    )
    widths = [max(len(r[k]) for r in [headers, *body]) for k in range(len(headers))]
    lines = [f"model: {result.model}"]
    for r in [headers, *body]:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem attribution-file",
        description="Attribute conversions and value to channels from a CSV file.",
    )
    parser.add_argument("path", metavar="PATH", help="CSV file (aggregated paths or touchpoints)")
    parser.add_argument("--model", required=True, choices=list(MODEL_NAMES))
    parser.add_argument("--order", type=int, default=1, help="Markov order (1-3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.model == "markov" and not 1 <= args.order <= 3:
        print("tandem attribution-file: error: --order must be 1, 2 or 3", file=sys.stderr)
        return 2
    try:
        journeys = read_journeys(args.path)
        params: dict[str, int] = {"order": args.order} if args.model == "markov" else {}
        result = credit(journeys, MODEL_NAMES[args.model], **params)
    except (InputError, JourneyError) as exc:
        print(f"tandem attribution-file: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
