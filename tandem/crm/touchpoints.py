"""Writes of the timeline in bulk: the one place, with `services.touchpoint_record`, that inserts
touchpoints, and the one place that re-points or reclassifies them. Other apps call these through
`tandem.crm.services`; no other module names the touchpoint table.

Invariants:
- `touchpoints_record_bulk` stores plain rows (see `ROW_KEYS`) in one statement on PostgreSQL
  (the rows travel as one JSON parameter) and in multi-row INSERTs of `CHUNK` rows elsewhere,
  in one transaction, with ON CONFLICT (message_id) DO NOTHING: a message id stored already
  (even concurrently) is skipped, and the count returned is what was actually inserted;
- a row without `contact_id` belongs to the contact that owns its Segment userId, else its
  anonymousId, as linked at that moment (none if neither is known); a row without `account_id`
  gets its contact's account. On PostgreSQL both are resolved in the INSERT itself, by index
  probes, so the cost does not grow with the number of identities or contacts stored;
- rows are inserted in the order given (ids grow with it);
- `touchpoints_adopt` only re-points touchpoints that have no contact; `touchpoints_account_fill`
  only fills a missing account; `touchpoints_channel_update` changes channel and department
  alone. Nothing else of a stored touchpoint ever changes (the timeline is append-only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from tandem.core.errors import InvalidInput
from tandem.core.models import Department
from tandem.crm.models import Contact, Identity, Touchpoint

# The keys of a row. Required: occurred_at, channel, department, kind, message_id. Optional:
# contact_id, account_id, actor_id (None), anonymous_id, user_id, campaign, content ("",
# capped by the caller to the column lengths), properties ({}: a dict, or JSON already encoded
# as bytes/str), is_bot (False).
ROW_KEYS = (
    "contact_id",
    "account_id",
    "actor_id",
    "anonymous_id",
    "user_id",
    "occurred_at",
    "channel",
    "department",
    "kind",
    "campaign",
    "content",
    "properties",
    "is_bot",
    "message_id",
)
CHUNK = 1000
_DEPARTMENTS = frozenset(Department.values)


@transaction.atomic
def touchpoints_record_bulk(
    *, rows: Sequence[Mapping[str, Any]], source: str, recorded_at: dt.datetime | None = None
) -> int:
    """Append many touchpoints of one `source` at once; returns how many were new (a row whose
    `message_id` is stored already is skipped). Contacts and accounts are resolved as the module
    docstring says. Raises InvalidInput (nothing stored) for an unknown department."""
    if not rows:
        return 0
    for row in rows:
        if row["department"] not in _DEPARTMENTS:
            raise InvalidInput({"department": [f"{row['department']!r} is not a department"]})
    recorded = recorded_at or timezone.now()
    if connection.vendor == "postgresql":
        return _insert_postgresql(rows, source=source[:60], recorded_at=recorded)
    return _insert_portable(rows, source=source[:60], recorded_at=recorded)


def _json(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return orjson.dumps(value or {})


@cache
def _postgresql_insert() -> str:
    """INSERT ... SELECT FROM json_to_recordset: rows in order, contact from the row or from
    the identities (scalar subqueries: per-row index probes), account from the row or the
    contact, duplicates skipped. Table and column names from the models."""
    qn = connection.ops.quote_name
    tp, contact, identity = (qn(m._meta.db_table) for m in (Touchpoint, Contact, Identity))

    def col(model: Any, name: str) -> str:
        return qn(model._meta.get_field(name).column)

    user_kind, anon_kind = Identity.Kind.USER_ID.value, Identity.Kind.ANONYMOUS_ID.value
    columns = (
        "contact", "account", "actor", "anonymous_id", "user_id", "occurred_at", "channel",
        "department", "kind", "campaign", "content", "properties", "is_bot", "source",
        "message_id", "recorded_at",
    )  # fmt: skip
    return (
        f"INSERT INTO {tp} ({', '.join(col(Touchpoint, c) for c in columns)})"
        " SELECT r.contact_id,"
        f" COALESCE(r.account_id, (SELECT c.{col(Contact, 'account')} FROM {contact} c"
        f"  WHERE c.{col(Contact, 'id')} = r.contact_id)),"
        " r.actor_id, r.anonymous_id, r.user_id, r.occurred_at, r.channel, r.department, r.kind,"
        " r.campaign, r.content, r.properties, r.is_bot, %s, r.message_id, %s"
        " FROM (SELECT j.n, j.account_id, j.actor_id, j.anonymous_id, j.user_id, j.occurred_at,"
        " j.channel, j.department, j.kind, j.campaign, j.content, j.properties, j.is_bot,"
        " j.message_id, COALESCE(j.contact_id,"
        f"  (SELECT i.{col(Identity, 'contact')} FROM {identity} i"
        f"    WHERE i.{col(Identity, 'kind')} = '{user_kind}'"
        f"    AND i.{col(Identity, 'value')} = j.user_id AND j.user_id <> ''),"
        f"  (SELECT i.{col(Identity, 'contact')} FROM {identity} i"
        f"    WHERE i.{col(Identity, 'kind')} = '{anon_kind}'"
        f"    AND i.{col(Identity, 'value')} = j.anonymous_id AND j.anonymous_id <> '')"
        " ) AS contact_id"
        " FROM json_to_recordset(%s::json) AS j(n integer, contact_id bigint, account_id bigint,"
        " actor_id bigint, anonymous_id text, user_id text, occurred_at timestamptz,"
        " channel text, department text, kind text, campaign text, content text,"
        " properties jsonb, is_bot boolean, message_id text)"
        " ORDER BY j.n) r"
        f" ON CONFLICT ({col(Touchpoint, 'message_id')}) DO NOTHING"
    )


def _insert_postgresql(
    rows: Sequence[Mapping[str, Any]], *, source: str, recorded_at: dt.datetime
) -> int:
    payload = orjson.dumps(
        [
            {
                "n": n,
                "contact_id": row.get("contact_id"),
                "account_id": row.get("account_id"),
                "actor_id": row.get("actor_id"),
                "anonymous_id": row.get("anonymous_id", ""),
                "user_id": row.get("user_id", ""),
                "occurred_at": row["occurred_at"],
                "channel": row["channel"],
                "department": row["department"],
                "kind": row["kind"],
                "campaign": row.get("campaign", ""),
                "content": row.get("content", ""),
                "properties": orjson.Fragment(_json(row.get("properties"))),
                "is_bot": row.get("is_bot", False),
                "message_id": row["message_id"],
            }
            for n, row in enumerate(rows)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(_postgresql_insert(), [source, recorded_at, payload.decode()])
        return max(cursor.rowcount, 0)


_PORTABLE_COLUMNS = (
    "contact_id",
    "account_id",
    "actor_id",
    "anonymous_id",
    "user_id",
    "occurred_at",
    "channel",
    "department",
    "kind",
    "campaign",
    "content",
    "properties",
    "is_bot",
    "source",
    "message_id",
    "recorded_at",
)


def _insert_portable(
    rows: Sequence[Mapping[str, Any]], *, source: str, recorded_at: dt.datetime
) -> int:
    """Other databases (SQLite): the identities and contacts the rows need looked up once (two
    queries at most), then multi-row INSERT ... ON CONFLICT (message_id) DO NOTHING."""
    user_ids: set[str] = set()
    anon_ids: set[str] = set()
    given: set[int] = set()
    for row in rows:
        if row.get("contact_id") is None:
            if row.get("user_id"):
                user_ids.add(row["user_id"])
            if row.get("anonymous_id"):
                anon_ids.add(row["anonymous_id"])
        elif row.get("account_id") is None:
            given.add(row["contact_id"])
    by_user: dict[str, tuple[int, int | None]] = {}
    by_anon: dict[str, tuple[int, int | None]] = {}
    if user_ids or anon_ids:
        known = Identity.objects.filter(
            Q(kind=Identity.Kind.USER_ID, value__in=user_ids)
            | Q(kind=Identity.Kind.ANONYMOUS_ID, value__in=anon_ids)
        ).values_list("kind", "value", "contact_id", "contact__account_id")
        for kind, value, known_contact, known_account in known:
            target = by_user if kind == Identity.Kind.USER_ID else by_anon
            target[value] = (known_contact, known_account)
    accounts: dict[int, int | None] = {}
    if given:
        accounts = dict(Contact.objects.filter(pk__in=given).values_list("pk", "account_id"))
    adapt = connection.ops.adapt_datetimefield_value
    recorded = adapt(recorded_at)
    values: list[tuple[Any, ...]] = []
    for row in rows:
        contact_id = row.get("contact_id")
        account_id = row.get("account_id")
        user_id = row.get("user_id", "")
        anonymous_id = row.get("anonymous_id", "")
        if contact_id is None:
            found = by_user.get(user_id) or by_anon.get(anonymous_id)
            if found is not None:
                contact_id = found[0]
                if account_id is None:
                    account_id = found[1]
        elif account_id is None:
            account_id = accounts.get(contact_id)
        values.append(
            (
                contact_id,
                account_id,
                row.get("actor_id"),
                anonymous_id,
                user_id,
                adapt(row["occurred_at"]),
                row["channel"],
                row["department"],
                row["kind"],
                row.get("campaign", ""),
                row.get("content", ""),
                _json(row.get("properties")).decode(),
                row.get("is_bot", False),
                source,
                row["message_id"],
                recorded,
            )
        )
    table = connection.ops.quote_name(Touchpoint._meta.db_table)
    columns = ", ".join(_PORTABLE_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(_PORTABLE_COLUMNS)) + ")"
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}"
                " ON CONFLICT (message_id) DO NOTHING",
                [value for row in chunk for value in row],
            )
            inserted += max(cursor.rowcount, 0)
    return inserted


def touchpoints_adopt(
    *, contact_id: int, anonymous_ids: Iterable[str] = (), user_ids: Iterable[str] = ()
) -> int:
    """Re-point touchpoints without a contact that carry these Segment ids to the contact (and
    to its account, where they have none); returns how many moved."""
    anon = [a for a in anonymous_ids if a]
    users = [u for u in user_ids if u]
    if not anon and not users:
        return 0
    account_id = Contact.objects.filter(pk=contact_id).values_list("account_id", flat=True).first()
    condition = Q(anonymous_id__in=anon) | Q(user_id__in=users)
    updates: dict[str, Any] = {"contact_id": contact_id}
    if account_id is not None:
        updates["account_id"] = Coalesce("account_id", Value(account_id))
    return Touchpoint.objects.filter(condition, contact__isnull=True).update(**updates)


def touchpoints_account_fill(*, contact_id: int, account_id: int) -> int:
    """Give the contact's touchpoints that have no account this one; returns how many."""
    return Touchpoint.objects.filter(contact_id=contact_id, account__isnull=True).update(
        account_id=account_id
    )


@transaction.atomic
def touchpoints_channel_update(*, changes: Sequence[tuple[int, str, str]]) -> int:
    """Set (touchpoint id, channel, department) for many touchpoints (reclassification): one
    UPDATE ... FROM unnest(arrays) on PostgreSQL (9x faster than `bulk_update`'s CASE
    expressions), `bulk_update` elsewhere. Returns how many rows were given."""
    if not changes:
        return 0
    for _pk, _channel, department in changes:
        if department not in _DEPARTMENTS:
            raise InvalidInput({"department": [f"{department!r} is not a department"]})
    if connection.vendor != "postgresql":
        rows = [Touchpoint(pk=pk, channel=c, department=d) for pk, c, d in changes]
        Touchpoint.objects.bulk_update(rows, ["channel", "department"], batch_size=500)
        return len(changes)
    qn = connection.ops.quote_name
    table = qn(Touchpoint._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET channel = v.channel, department = v.department"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, channel, department)"
            " WHERE t.id = v.id",
            [[c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes]],
        )
    return len(changes)
