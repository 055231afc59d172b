"""Keyset paging: "next"/"previous" pages by a signed cursor, never OFFSET.

Invariants:
- the ordering ends with a unique field (normally `id`), and all its fields sort the same way, so
  every row has exactly one place and a page never repeats or skips a row;
- a cursor is signed (`django.core.signing`) with a salt per list: a forged or foreign cursor is
  refused (`BadCursor`), and the page answers it as the first page;
- a page costs one query of `size + 1` rows with a range condition on the leading sort field, so
  an index on the ordering serves every page in the same time, however deep.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import Q, QuerySet

M = TypeVar("M", bound=models.Model)


class BadCursor(ValueError):
    """A cursor that was not made by Tandem for this list."""


@dataclass
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def encode_cursor(values: Sequence[Any], direction: str, *, salt: str) -> str:
    return signing.dumps(
        {"v": [_plain(v) for v in values], "d": direction}, salt=salt, compress=True
    )


def decode_cursor(cursor: str, *, salt: str, width: int) -> tuple[list[Any], str]:
    try:
        data = signing.loads(cursor, salt=salt)
    except signing.BadSignature as exc:
        raise BadCursor("the cursor is not valid") from exc
    values, direction = data.get("v"), data.get("d")
    if not isinstance(values, list) or len(values) != width or direction not in ("n", "p"):
        raise BadCursor("the cursor is not valid")
    return values, direction


def _split(order: Sequence[str]) -> tuple[list[str], bool]:
    names = [o.lstrip("-") for o in order]
    descending = {o.startswith("-") for o in order}
    if len(descending) != 1:
        raise ValueError("every field of a keyset ordering must sort the same way")
    return names, descending.pop()


def after(names: Sequence[str], values: Sequence[Any], *, descending: bool) -> Q:
    """Rows strictly after `values` in the ordering, with a range on the leading field."""
    strict, loose = ("lt", "lte") if descending else ("gt", "gte")
    alternatives = Q()
    for i, name in enumerate(names):
        equal = dict(zip(names[:i], values[:i], strict=True))
        alternatives |= Q(**equal, **{f"{name}__{strict}": values[i]})
    return Q(**{f"{names[0]}__{loose}": values[0]}) & alternatives


def keyset_page(
    qs: QuerySet[M],
    *,
    order: Sequence[str],
    cursor: str | None,
    size: int,
    salt: str,
    strict: bool = False,
) -> Page[M]:
    """One page of `qs` in `order`, after (or before) the row the cursor names.

    A cursor that is not valid gives the first page, or raises `BadCursor` when `strict`."""
    names, descending = _split(order)
    direction = "n"
    values: list[Any] | None = None
    if cursor:
        try:
            values, direction = decode_cursor(cursor, salt=salt, width=len(names))
        except BadCursor:
            if strict:
                raise
            values, direction = None, "n"

    def key(item: M) -> list[Any]:
        return [getattr(item, n) for n in names]

    if direction == "n":
        page_qs = qs.order_by(*order)
        if values is not None:
            page_qs = page_qs.filter(after(names, values, descending=descending))
        rows = list(page_qs[: size + 1])
        items = rows[:size]
        page = Page(items=items)
        if len(rows) > size:
            page.next_cursor = encode_cursor(key(items[-1]), "n", salt=salt)
        if values is not None and items:
            page.prev_cursor = encode_cursor(key(items[0]), "p", salt=salt)
        return page

    assert values is not None
    reverse = [n if descending else f"-{n}" for n in names]
    rows = list(
        qs.order_by(*reverse).filter(after(names, values, descending=not descending))[: size + 1]
    )
    items = list(reversed(rows[:size]))
    page = Page(items=items)
    if len(rows) > size:
        page.prev_cursor = encode_cursor(key(items[0]), "p", salt=salt)
    if items:
        page.next_cursor = encode_cursor(key(items[-1]), "n", salt=salt)
    return page


def capped_count(qs: QuerySet[Any], cap: int = 1000) -> tuple[int, bool]:
    """How many rows, counting at most `cap` (+1 to know there are more): cheap on any size.

    `SELECT COUNT(*)` over the compiled `LIMIT cap + 1` query, as `QuerySet.count()` writes it
    for a sliced query, without the aggregation machinery it compiles on the way."""
    try:
        sql, params = qs.order_by().values("pk")[: cap + 1].query.sql_with_params()
    except EmptyResultSet:  # qs.none(), or a filter nothing can match
        return 0, False
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS capped", params)
        n = cursor.fetchone()[0]
    return (cap, True) if n > cap else (n, False)


def page_count(page: Page[Any], qs: QuerySet[Any], cap: int = 1000) -> tuple[int, bool]:
    """`capped_count`, skipped when the page alone holds every row (a narrow search)."""
    if not page.has_next and not page.has_prev:
        return len(page.items), False
    return capped_count(qs, cap)
