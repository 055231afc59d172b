"""The audit log: who created, changed or deleted which business record, with before and after.

`record_change` must be called inside the transaction that makes the change, so the entry and the
change commit or roll back together. Entries are never edited.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from tandem.core.models import ApiToken, AuditEntry, User


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, possibly through an API token, or the system (both None)."""

    user: User | None = None
    token: ApiToken | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls()


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
