"""``tandem attribution-file PATH --model M``: attribute conversions in a CSV file.

Two layouts, detected by the header:

* aggregated paths (channelattribution's layout): ``path``, ``total_conversions`` and,
  optional as in that package, ``total_conversion_value`` and ``total_null`` (0 when
  absent); path items separated by ``>``;
* touchpoints: ``journey_id``, ``ts`` (ISO-8601 or epoch seconds), ``channel``,
  ``converted``, ``value``.

Output is an aligned table, or with ``--json``
``{"model": ..., "channels": {name: {"conversions", "value"[, "removal_effect"]}}}``.
A malformed or unreadable file prints one message naming the line to stderr and exits
with status 2 -- never a traceback; so do numbers whose totals exceed what a float holds
(about 1.8e308), rather than printing `inf`. Shapley over more than 20 channels is the
simplified value, identical for this worth function (as `attribution.services` does).
Pure: no Django import.

The file is read as columns of byte ranges (`csv_fields`): paths are tokenized in place by
the engine (`Journeys.from_path_spans`) and numbers parsed by numpy, so no Python object is
made per row (ISO-8601 timestamps are the exception: parsed one by one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from tandem.attribution.csv_fields import CsvError, CsvFields, FloatArray, IntArray
from tandem.attribution.engine import JourneyError, Journeys, credit
from tandem.attribution.engine.result import AttributionResult
from tandem.attribution.engine.shapley import MAX_EXACT_PLAYERS
from tandem.attribution.engine.tokenize import tokenize_spans

PATH_COLUMNS = ("path", "total_conversions")
PATH_OPTIONAL = ("total_conversion_value", "total_null")  # 0 when absent, as in the package
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


def read_journeys(path: str) -> Journeys:
    """Read either layout into `Journeys`; raises `InputError` with a line number."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        if not data.isascii():
            data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        fields = CsvFields.read(data)
        if "path" in fields.header:
            return _read_paths(fields)
        if "journey_id" in fields.header:
            return _read_touchpoints(fields)
    except CsvError as exc:
        raise InputError(str(exc)) from None
    raise InputError(
        "line 1: header must contain either "
        f"{', '.join(PATH_COLUMNS)} or {', '.join(TOUCH_COLUMNS)}"
    )


def _columns(header: list[str], wanted: Sequence[str]) -> dict[str, int]:
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"line 1: missing column(s): {', '.join(missing)}")
    return {c: header.index(c) for c in wanted}


def _no_data(fields: CsvFields) -> None:
    if fields.n_records == 0:
        raise InputError("line 2: no data rows")


def _counts(fields: CsvFields, column: int, name: str) -> FloatArray:
    values = fields.numbers(column, name)
    negative = np.flatnonzero(values < 0)
    if negative.size:
        start, end = fields.field(column)
        text = fields.text(start, end, int(negative[0]))
        line = int(fields.lines[negative[0]])
        raise InputError(f"line {line}: {name} must not be negative: {text!r}")
    return values


def _read_paths(fields: CsvFields) -> Journeys:
    col = _columns(fields.header, PATH_COLUMNS)
    col.update({c: fields.header.index(c) for c in PATH_OPTIONAL if c in fields.header})
    _no_data(fields)
    fields.require(max(col.values()) + 1)
    start, end = fields.field(col["path"])
    conv = _counts(fields, col["total_conversions"], "total_conversions")
    val = nulls = None
    if "total_conversion_value" in col:
        val = fields.numbers(col["total_conversion_value"], "total_conversion_value")
    if "total_null" in col:
        nulls = _counts(fields, col["total_null"], "total_null")
    try:
        return Journeys.from_path_spans(fields.data, start, end, conv, val, nulls)
    except JourneyError as exc:
        if exc.row is None:
            raise
        path = fields.text(start, end, exc.row)
        line = int(fields.lines[exc.row])
        if not path.strip():
            raise InputError(f"line {line}: empty path") from None
        raise InputError(f"line {line}: empty channel in path {path!r}") from None


def _timestamps(fields: CsvFields, column: int) -> FloatArray:
    """Epoch seconds in numpy; ISO-8601 text (the rows numpy cannot read) one by one."""
    try:
        return fields.numbers(column, "ts")
    except CsvError:
        pass
    start, end = fields.field(column)
    out = np.empty(fields.n_records, dtype=np.float64)
    for i in range(fields.n_records):
        text = fields.text(start, end, i)
        try:
            out[i] = float(text)
            continue
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            line = int(fields.lines[i])
            raise InputError(f"line {line}: ts is neither ISO-8601 nor epoch: {text!r}") from None
        if parsed.tzinfo is None:
            out[i] = (parsed - datetime(1970, 1, 1)).total_seconds()  # noqa: DTZ001 - naive = UTC
        else:
            out[i] = parsed.timestamp()
    return out


def _names(fields: CsvFields, column: int, name: str) -> tuple[IntArray, list[str]]:
    """A column of names as codes into its distinct (stripped) names; blank names refused."""
    start, end = fields.field(column)
    ids, _lengths, raw = tokenize_spans(fields.data, start, end, "\n")  # one item per field
    blank = np.flatnonzero(np.isin(ids, [i for i, r in enumerate(raw) if not r.strip()]))
    if blank.size:
        raise InputError(f"line {int(fields.lines[blank[0]])}: empty {name}")
    names = sorted({r.strip() for r in raw})
    index = {n: i for i, n in enumerate(names)}
    codes = np.array([index[r.strip()] for r in raw], dtype=np.int64)[ids]
    return codes, names


def _read_touchpoints(fields: CsvFields) -> Journeys:
    col = _columns(fields.header, TOUCH_COLUMNS)
    _no_data(fields)
    fields.require(max(col.values()) + 1)
    journey, _ = _names(fields, col["journey_id"], "journey_id")
    channel, channels = _names(fields, col["channel"], "channel")
    ts = _timestamps(fields, col["ts"])
    conv = _counts(fields, col["converted"], "converted")
    start, end = fields.field(col["value"])
    empty = np.flatnonzero(end == start)
    if empty.size:  # an empty value is 0
        value = np.zeros(fields.n_records, dtype=np.float64)
        given = np.setdiff1d(np.arange(fields.n_records), empty)
        if given.size:
            value[given] = fields.numbers(col["value"], "value", only=given)
    else:
        value = fields.numbers(col["value"], "value")
    return Journeys.from_touchpoints(journey, ts, channel, conv, value, channel_names=channels)


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
        model = MODEL_NAMES[args.model]
        if model == "shapley" and journeys.n_channels > MAX_EXACT_PLAYERS:
            model = "simplified-shapley"
        with np.errstate(over="ignore", invalid="ignore"):
            if not all(
                np.isfinite(numbers.sum()) for numbers in (journeys.conversions, journeys.value)
            ):  # some models would answer 0 or inf where the total is no number
                raise InputError(
                    "the numbers are too large: their totals exceed what a float holds "
                    "(about 1.8e308)"
                )
            result = credit(journeys, model, **params)
            finite = all(
                np.isfinite(numbers).all() and np.isfinite(numbers.sum())
                for numbers in (result.conversions, result.value)
            )
        if not finite:
            raise InputError(
                "the numbers are too large: their totals exceed what a float holds (about 1.8e308)"
            )
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
