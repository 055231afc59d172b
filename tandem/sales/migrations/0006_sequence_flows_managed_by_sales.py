"""Mark the flows that run sales sequences as kept by the sequence (`Flow.managed_by`): from now
on their steps change on the sequence's page (or its API), and the automation builder shows them
read-only. Backwards: the mark is dropped with the column."""

from __future__ import annotations

from typing import Any

from django.db import migrations

SALES_SEQUENCE = "sales.sequence"  # automation.models.ManagedBy.SALES_SEQUENCE, frozen


def mark(apps: Any, schema_editor: Any) -> None:
    Flow = apps.get_model("automation", "Flow")
    Sequence = apps.get_model("sales", "Sequence")
    flow_ids = Sequence.objects.filter(flow__isnull=False).values("flow_id")
    Flow.objects.filter(pk__in=flow_ids).update(managed_by=SALES_SEQUENCE)


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0005_sequence_runs_on_its_flow"),
        ("automation", "0005_flow_managed_by"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
