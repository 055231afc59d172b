"""Field types of the API whose accepted input is exactly what the OpenAPI schema documents.

pydantic's lax mode would also take a number of seconds for a date or a date-time, and any
year its types hold; these take only the documented text, in the years Tandem can show and
compute with in every time zone.

Invariants:
- `IsoDate` accepts "YYYY-MM-DD" text only (schema: string, format date), years 1900-2999;
- `IsoMoment` accepts RFC 3339 date-time text with an offset only (schema: string, format
  date-time), 1900-01-01 to 2200-01-01 UTC;
- anything else is a 400 naming the field, never a 500;
- an update field declared `Type = UNCHANGED` in a schema with `json_schema_extra=
  drop_null_defaults` may be left out (kept as it is) but not sent as null, and the schema
  says so: not nullable, no `default: null`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

UNCHANGED: Any = None  # the default of an update field that refuses null: left out = kept


def drop_null_defaults(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of update shapes: 'default: null' on a field that is not nullable
    would say the server takes null; drop it."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)
EARLIEST_MOMENT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST_MOMENT = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value  # from Python callers
    elif isinstance(value, str) and _DAY.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("not a calendar date") from None
    else:
        raise ValueError("a date as YYYY-MM-DD")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError("a date between 1900-01-01 and 2999-12-31")
    return day


def _moment(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _MOMENT.match(value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not a calendar date and time") from None
    else:
        raise ValueError("a date and time as YYYY-MM-DDTHH:MM:SS with Z or an offset")
    if moment.tzinfo is None:
        raise ValueError("a date and time with Z or an offset")
    try:
        in_range = EARLIEST_MOMENT <= moment <= LATEST_MOMENT
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("between 1900-01-01 and 2200-01-01 UTC")
    return moment


IsoDate = Annotated[
    dt.date,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^(19|2\d)\d\d-\d\d-\d\d$"}),
]
IsoMoment = Annotated[
    AwareDatetime,
    BeforeValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": (
                r"^(19|20|21)\d\d-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)$"
            ),
        }
    ),
]
