"""Writing many rows of one model at once: `COPY` on PostgreSQL, `bulk_create` elsewhere.

    ids = insert_rows(Contact, ["first_name", "email", ...], rows, with_ids=True)

Used by the bulk services (imports), which build plain tuples instead of model instances.

Invariants:
- columns are attribute names (`account_id`, not `account`); a JSON column takes the Python value
  (it is encoded here); no model `save()`, signals or `auto_now` run: the caller sets every value;
- with `with_ids=True` the new primary keys come back in the order of `rows` (on PostgreSQL they
  are reserved from the table's sequence first and copied with the rows);
- it runs on the caller's connection and transaction; it must be called inside `atomic()`, so a
  failing row rolls back the whole batch; a refusal is raised as Django's `DatabaseError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.db import connection, models, transaction


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys from the table's sequence (PostgreSQL only)."""
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    with_ids: bool = False,
) -> list[int]:
    """Insert `rows` (tuples in the order of `columns`); the new ids if `with_ids` (then `rows`
    must be a list). On PostgreSQL `rows` may be a generator: it is consumed while the server
    stores what was sent, so building the rows and storing them overlap."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("insert_rows must run inside a transaction")
    fields = {f.attname: f for f in model._meta.concrete_fields}
    json_at = [i for i, c in enumerate(columns) if isinstance(fields[c], models.JSONField)]
    if not _postgres():
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=500)
        return [o.pk for o in objects] if with_ids else []
    ids: list[int] = []
    if with_ids:
        assert isinstance(rows, list)
        ids = reserve_ids(model, len(rows))
        rows = ((pk, *row) for pk, row in zip(ids, rows, strict=True))
        json_at = [i + 1 for i in json_at]
    pk = model._meta.pk
    assert pk is not None
    names = ([str(pk.column)] if with_ids else []) + [str(fields[c].column) for c in columns]
    quote = connection.ops.quote_name
    table = quote(str(model._meta.db_table))
    sql = f"COPY {table} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    from psycopg.copy import QueuedLibpqWriter

    with connection.cursor() as wrapper, connection.wrap_database_errors:
        raw = wrapper.cursor
        with raw.copy(sql, writer=QueuedLibpqWriter(raw)) as copy:
            write = copy.write_row
            if not json_at:
                for row in rows:
                    write(row)
                return ids
            for row in rows:
                values = list(row)
                for i in json_at:
                    values[i] = _json(values[i])
                write(values)
    return ids


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
