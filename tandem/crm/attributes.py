"""Custom attribute definitions made on a user's request (an import keeping the columns it could
not map): one home for creating them outside the admin.

Invariants:
- `custom_attributes_ensure` creates only what is missing (by target and key) and never changes
  an existing definition (its type, label and choices stay the admin's);
- each definition created is audited in the caller's transaction;
- new definitions are optional text: no existing record becomes invalid.
"""

from __future__ import annotations

import re

from django.db import transaction

from tandem.core.audit import Actor, record_change, snapshot
from tandem.crm.models import AttributeType, CustomAttribute

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
KEY_LENGTH = 50


def attribute_key(header: str, position: int) -> str:
    """The key a column's values are kept under: its header as a slug (`Lead Status` ->
    `lead_status`), or `column_<position>` when nothing of it is Latin (e.g. Cyrillic)."""
    key = _NOT_SLUG.sub("_", header.casefold()).strip("_")[:KEY_LENGTH].strip("_")
    return key or f"column_{position}"


@transaction.atomic
def custom_attributes_ensure(
    *, actor: Actor, target: str, labels: dict[str, str]
) -> list[CustomAttribute]:
    """Define the missing attributes of `labels` (key -> label) for `target` as optional text;
    returns the ones created. Safe to call again (or concurrently: a key defined meanwhile is
    left as it is)."""
    existing = set(
        CustomAttribute.objects.filter(target=target, key__in=labels).values_list("key", flat=True)
    )
    created: list[CustomAttribute] = []
    for key, label in labels.items():
        if key in existing:
            continue
        attribute, made = CustomAttribute.objects.get_or_create(
            target=target,
            key=key,
            defaults={"label": label[:100] or key, "type": AttributeType.TEXT},
        )
        if made:
            record_change(
                actor=actor,
                action="create",
                instance=attribute,
                changes=snapshot(attribute, ["target", "key", "label", "type"]),
            )
            created.append(attribute)
    return created
