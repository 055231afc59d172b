"""Cursor pagination for API lists: keyset queries over an indexed (time, id) sort, newest first.

Invariants:
- no OFFSET and no COUNT: a page is `WHERE (t, id) < (cursor) ORDER BY t DESC, id DESC LIMIT n+1`;
  the extra row only tells whether there is a next page;
- a cursor is opaque and signed (django.core.signing) with the list it belongs to, so a forged or
  foreign cursor is a 400, never a query on attacker-chosen values;
- pages never repeat or skip a row that existed when the first page was read, because (t, id) is
  a total order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.core import signing
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tandem.core.api_errors import ApiError

M = TypeVar("M", bound=models.Model)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_SALT = "tandem.api.cursor"


def encode_cursor(kind: str, at: dt.datetime, pk: int) -> str:
    return signing.dumps([kind, at.isoformat(), pk], salt=_SALT, compress=False)


def decode_cursor(kind: str, cursor: str) -> tuple[dt.datetime, int]:
    try:
        value = signing.loads(cursor, salt=_SALT)
        found_kind, at, pk = value
        if found_kind != kind or not isinstance(pk, int):
            raise ValueError(kind)
        return dt.datetime.fromisoformat(at), pk
    except (signing.BadSignature, ValueError, TypeError):
        raise ApiError(
            400,
            "invalid_cursor",
            _("The cursor is not valid for this list."),
            {"cursor": [_("use the next_cursor of a previous page")]},
        ) from None


def keyset_page(
    qs: QuerySet[M], *, kind: str, time_field: str, cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """One page of `qs` newest first by (time_field, id), and the cursor of the next page."""
    if cursor:
        at, pk = decode_cursor(kind, cursor)
        # The redundant `<=` lets the database range-scan the (time, id) index.
        qs = qs.filter(Q(**{f"{time_field}__lte": at})).filter(
            Q(**{f"{time_field}__lt": at}) | Q(pk__lt=pk)
        )
    rows = list(qs.order_by(f"-{time_field}", "-pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    last_at: Any = getattr(last, time_field)
    return rows, encode_cursor(kind, last_at, last.pk)
