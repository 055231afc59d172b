"""Cursor pagination for API lists: `tandem.core.paging`'s keyset pages, newest first.

Invariants:
- one keyset implementation serves pages and the API (`tandem.core.paging.keyset_page`): no
  OFFSET and no COUNT, a page is `WHERE (t, id) < (cursor) ORDER BY t DESC, id DESC LIMIT n+1`,
  the extra row only telling whether there is a next page;
- a cursor is opaque and signed with a salt per list, so a forged or foreign cursor is a 400
  (`invalid_cursor`) here — where a page would quietly start again from the first page — and
  never a query on attacker-chosen values;
- pages never repeat or skip a row that existed when the first page was read, because (t, id) is
  a total order.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tandem.core import paging
from tandem.core.api_errors import ApiError

M = TypeVar("M", bound=models.Model)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_SALT = "tandem.api.cursor"


def keyset_page(
    qs: QuerySet[M], *, kind: str, time_field: str, cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """One page of `qs` newest first by (time_field, id), and the cursor of the next page."""
    try:
        page = paging.keyset_page(
            qs,
            order=[f"-{time_field}", "-pk"],
            cursor=cursor,
            size=limit,
            salt=f"{_SALT}.{kind}",
            strict=True,
        )
    except paging.BadCursor:
        raise ApiError(
            400,
            "invalid_cursor",
            _("The cursor is not valid for this list."),
            {"cursor": [_("use the next_cursor of a previous page")]},
        ) from None
    return page.items, page.next_cursor
