"""Records that belong to a person, kind by kind, so that a departing user's work can be handed on.

Core knows users but no domain app; each app that keeps records with an owner registers one
`OwnedKind` per kind of record in its `AppConfig.ready()`:

    owned_kind_register(OwnedKind(key="crm.contact", label=_("Contacts"),
                                  count=contacts_owned_count, reassign=contacts_reassign))

`count(user)` says how many records of the kind the user holds now; `reassign(actor=, source=,
target=)` moves every one of them to `target` and returns how many moved. The deactivation service
(`core.services.user_deactivate`) calls every registered reassigner inside its own transaction.

Invariants:
- a reassigner runs inside the caller's transaction and writes an audit entry per record it
  moves, in that transaction (so the move and its audit commit or roll back together);
- a reassigner may refuse a target (an `InvalidInput` naming why), which rolls back every kind;
- after all reassigners ran, `count(source)` is 0 for every kind;
- keys are unique: registering the same key again replaces the earlier kind (reloads in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import models, transaction
from django.utils import timezone

from tandem.core.audit import Actor, record_changes
from tandem.core.models import User

CHUNK = 500


class Reassigner(Protocol):
    def __call__(self, *, actor: Actor, source: User, target: User) -> int: ...


@dataclass(frozen=True)
class OwnedKind:
    """One kind of record a user can own: its key ("app.thing"), a label for pages, how to count
    a user's records of this kind and how to move them to someone else."""

    key: str
    label: Any  # a lazy translation
    count: Callable[[User], int]
    reassign: Reassigner


_kinds: dict[str, OwnedKind] = {}


def owned_kind_register(kind: OwnedKind) -> None:
    _kinds[kind.key] = kind


def owned_kinds() -> list[OwnedKind]:
    """The registered kinds, in a stable order (by key)."""
    return [_kinds[key] for key in sorted(_kinds)]


def owned_counts(user: User) -> list[tuple[OwnedKind, int]]:
    """How many records of each registered kind the user holds (zeros included)."""
    return [(kind, kind.count(user)) for kind in owned_kinds()]


def owner_reassign(
    *,
    actor: Actor,
    records: models.QuerySet[Any],
    field: str,
    source: User,
    target: User,
    describe: Callable[[tuple[Any, ...]], str] = lambda row: f"#{row[0]}",
    describe_fields: tuple[str, ...] = (),
) -> int:
    """Set `field` from `source` to `target` on `records` (those of them `source` holds), with
    an audit entry per record ("update", {field: [source id, target id]}); returns how many.

    For the common case of a kind that is one owner field. `describe(row)` makes each entry's
    label from (pk, *describe_fields). A model with an `updated_at` field has it set to now.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("owner_reassign must run inside the transaction of the deactivation")
    model = records.model
    held = records.filter(**{field: source}).order_by("pk")
    rows = list(held.select_for_update().values_list("pk", *describe_fields))
    if not rows:
        return 0
    values: dict[str, Any] = {field: target}
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        values["updated_at"] = timezone.now()
    for start in range(0, len(rows), CHUNK):
        ids = [row[0] for row in rows[start : start + CHUNK]]
        model._default_manager.filter(pk__in=ids).update(**values)
    change = {field: [source.pk, target.pk]}
    record_changes(
        actor=actor,
        model=model,
        entries=(("update", row[0], describe(row), change) for row in rows),
    )
    return len(rows)
