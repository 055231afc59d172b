"""Each segment reaction "enrol in a sequence" becomes an automation flow; the reaction is paused.

For every such reaction (kind "sequence") still active whose sequence has a flow (sales'
migration 0005 linked them): a flow named "<segment> → <sequence>", owned by whoever made the
reaction, active, re-entry "every time", trigger "entering a segment" (that segment), one step
`start_flow` into the sequence's flow, published as version 1. Its trigger cursor starts where
the reaction had read to — or just before the first event of a delivery still pending, which is
marked skipped ("moved to an automation flow") and is enrolled by the flow instead — so no
entry is missed and none read before is replayed (an already enrolled contact is left as is by
the sequence's re-entry rule). The reaction is paused and kept as history. A reaction whose
sequence was deleted or has no flow is only paused. Webhook reactions are not touched.
Running it again does nothing more: the reactions it converted are paused.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone


def reactions_to_flows(apps: Any, schema_editor: Any) -> None:
    SegmentReaction = apps.get_model("marketing", "SegmentReaction")
    ReactionDelivery = apps.get_model("marketing", "ReactionDelivery")
    Flow = apps.get_model("automation", "Flow")
    FlowVersion = apps.get_model("automation", "FlowVersion")
    TriggerCursor = apps.get_model("automation", "TriggerCursor")
    now = timezone.now()
    rows = SegmentReaction.objects.filter(kind="sequence", active=True).select_related(
        "segment", "sequence__flow"
    )
    for reaction in rows.order_by("pk"):
        target = reaction.sequence.flow if reaction.sequence_id else None
        pending = ReactionDelivery.objects.filter(reaction=reaction, status="pending")
        first_pending = pending.order_by("event_id").values_list("event_id", flat=True).first()
        if target is not None:
            flow = Flow.objects.create(
                name=f"{reaction.segment.name} → {target.name}"[:200],
                description=f"Enrols who enters the segment in “{target.name}” "
                f"(was segment reaction {reaction.pk}).",
                status="active",
                reentry="always",
                owner=reaction.created_by,
            )
            graph = {
                "trigger": {"kind": "segment_entered", "segment_id": reaction.segment_id},
                "entry": "s1",
                "nodes": [{"id": "s1", "kind": "start_flow", "config": {"flow_id": target.pk}}],
                "edges": [],
            }
            version = FlowVersion.objects.create(
                flow=flow, number=1, graph=graph, published_at=now, created_by=reaction.created_by
            )
            flow.live_version = version
            flow.save(update_fields=["live_version"])
            start = reaction.after_event_id
            if first_pending is not None:
                start = min(start, first_pending - 1)
            TriggerCursor.objects.create(flow=flow, last_id=start)
        pending.update(status="skipped", last_error="moved to an automation flow")
        SegmentReaction.objects.filter(pk=reaction.pk).update(active=False)


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0003_sales_sequences_to_flows"),
        ("sales", "0005_sequence_runs_on_its_flow"),
        ("marketing", "0012_webhook_standard_secrets"),
    ]

    operations = [migrations.RunPython(reactions_to_flows, migrations.RunPython.noop)]
