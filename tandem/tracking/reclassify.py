"""Reclassification of past touchpoints when the channel rules change.

Invariants: only touchpoints that carry channel inputs (`properties["ci"]`, written at ingestion)
are touched; the result depends only on the inputs and the rules, so running it twice is
harmless; rows are visited in primary-key chunks and only changed rows are written.
"""

from __future__ import annotations

from django.db import transaction

from tandem.crm.models import Touchpoint
from tandem.tracking.channels import (
    ChannelInputs,
    classify,
    load_rules,
)
from tandem.tracking.models import ChannelRuleSet

CHUNK = 2000


def reclassify_all(version: int) -> int:
    latest = ChannelRuleSet.objects.order_by("-version").values_list("version", flat=True).first()
    if (latest or 0) != version:
        return 0
    rules = load_rules(version)
    changed = 0
    last_id = 0
    while True:
        chunk = list(
            Touchpoint.objects.filter(pk__gt=last_id, properties__has_key="ci")
            .order_by("pk")
            .values_list("pk", "channel", "department", "properties")[:CHUNK]
        )
        if not chunk:
            return changed
        last_id = chunk[-1][0]
        updates = []
        for pk, channel, department, props in chunk:
            new_channel, new_department = classify(ChannelInputs.from_dict(props["ci"]), rules)
            if props.get("department_override"):
                new_department = props["department_override"]
            if (new_channel, new_department) != (channel, department):
                updates.append(Touchpoint(pk=pk, channel=new_channel, department=new_department))
        if updates:
            with transaction.atomic():
                Touchpoint.objects.bulk_update(updates, ["channel", "department"], batch_size=500)
            changed += len(updates)
