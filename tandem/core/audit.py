"""The audit log: who created, changed or deleted which business record, with before and after.

`record_change` must be called inside the transaction that makes the change, so the entry and the
change commit or roll back together. Entries are never edited.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest

from tandem.core.models import ApiToken, AuditEntry, User


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, possibly through an API token, or the system (both None)."""

    user: User | None = None
    token: ApiToken | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls()

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        """The actor behind a page request: its signed-in user. (API operations use
        `core.api_auth.caller(request).actor`, which carries the token too.)"""
        user = request.user
        assert isinstance(user, User), "Actor.of() is for views behind sign-in"
        return cls(user=user)


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The concrete field values of a record (foreign keys as ids), as JSON-ready values."""
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        values[field.name] = _plain(getattr(instance, field.attname))
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record_change(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, Any],
) -> AuditEntry:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_change must run inside the transaction of the change")
    return AuditEntry.objects.create(
        actor=actor.user,
        token=actor.token,
        action=action,
        model=instance._meta.label,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=changes,
    )


# --- many entries at once (bulk services) -----------------------------------------------------

_FIELDS: dict[type[models.Model], list[tuple[str, str]]] = {}
_SIMPLE = (str, int, float, bool)


def _fields_by_name(model: type[models.Model]) -> list[tuple[str, str]]:
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = sorted((f.name, f.attname) for f in model._meta.concrete_fields)
    return fields


def created_changes(model: type[models.Model], values: dict[str, Any]) -> dict[str, list[Any]]:
    """What `diff({}, snapshot(instance))` gives for a new record, from its values by attname
    (`account_id`, not `account`) without building the instance."""
    changes: dict[str, list[Any]] = {}
    for name, attname in _fields_by_name(model):
        value = values.get(attname)
        if value is not None:
            changes[name] = [None, value if isinstance(value, _SIMPLE) else _plain(value)]
    return changes


def created_changes_of_rows(
    model: type[models.Model], columns: list[str]
) -> Callable[[Sequence[Any]], dict[str, list[Any]]]:
    """`created_changes` for rows given as tuples in the order of `columns` (attnames; every
    concrete field of the model must be there): the column order is worked out once."""
    order = [(name, columns.index(attname)) for name, attname in _fields_by_name(model)]
    simple = {str, int, float, bool}

    def changes(row: Sequence[Any]) -> dict[str, list[Any]]:
        return {
            name: [None, value if type(value) in simple else _plain(value)]
            for name, i in order
            if (value := row[i]) is not None
        }

    return changes


def record_changes(
    *,
    actor: Actor,
    model: type[models.Model],
    entries: Iterable[tuple[str, Any, str, dict[str, Any]]],
) -> None:
    """Many entries of one model, each as `record_change` writes it: (action, object id,
    object repr, changes). Inside the transaction of the change, like `record_change`;
    `entries` may be a generator (on PostgreSQL it is consumed while the rows are stored)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_changes must run inside the transaction of the change")
    from django.utils import timezone

    from tandem.core.bulk import insert_rows

    at = timezone.now()
    label = model._meta.label
    actor_id = actor.user.pk if actor.user is not None else None
    token_id = actor.token.pk if actor.token is not None else None
    insert_rows(
        AuditEntry,
        ["at", "actor_id", "token_id", "action", "model", "object_id", "object_repr", "changes"],
        (
            (at, actor_id, token_id, action, label, str(pk), repr_[:200], changes)
            for action, pk, repr_, changes in entries
        ),
    )
