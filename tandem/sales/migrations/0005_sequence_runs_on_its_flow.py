"""Sequences run on their automation flow only: `Sequence.flow` links each one to the flow
automation's migration 0003 made of it, and the sales runner's `SequenceEmail` goes.

- Each sequence gets its flow, found by the `[sales sequence <id>]` marker in the flow's
  description (a sequence with none — made after 0003 by code that no longer exists — gets
  one, built as 0003 built them).
- The flow gets a version 2, published, in the faithful form (`automation.library.
  sequence_graph`, frozen here): emails from the owner (reply-to the owner, `{rep_name}` filled
  when sent, timeline `sequence_email_sent`), waits in business days, calls and LinkedIn
  messages as tasks for the owner. Enrolments carried over by 0003 keep version 1, which they
  started on (plain days, the rep's name as it was then); new enrolments take version 2.
- A sales enrolment still "active" (0003 leaves those whose every step had run) is marked
  finished: nothing of it was left to run. Sales enrolments stay as read-only history.
- `SequenceEmail` rows are dropped with their table. An email that was sent is already on the
  contact's timeline (touchpoint `sequence_email_sent`, its subject as content), which is where
  history is read; one still queued or failed was never sent, and its enrolment was carried
  over to the flow at the step after it (0003), so nothing is sent twice and nothing is lost
  but the text of an unsent email.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

STOP_ON = ["email_reply", "meeting", "meeting_booked", "consent_withdrawn"]


def _graph(steps: list[Any]) -> dict[str, Any]:
    """automation.library.sequence_graph as of this migration (English task titles)."""
    nodes: list[dict[str, Any]] = []
    for k, step in enumerate(steps):
        node_id = f"s{k + 1}"
        if step.kind == "email":
            config: dict[str, Any] = {
                "subject": step.subject[:200] or "-",
                "body": step.body or "-",
                "from_owner": True,
            }
            nodes.append({"id": node_id, "kind": "send_email", "config": config})
        elif step.kind == "wait":
            config = {"days": step.wait_days, "business_days": True}
            nodes.append({"id": node_id, "kind": "wait", "config": config})
        else:
            if step.kind == "call":
                title = "Call {first_name} {last_name}"
            else:
                title = "Message {first_name} {last_name} on LinkedIn"
            if step.body:
                title = f"{title}: {step.body}"
            config = {
                "title": title[:300],
                "due_in_days": 0,
                "assign_to": "flow_owner",
                "task_kind": step.kind if step.kind in ("call", "linkedin") else "todo",
            }
            nodes.append({"id": node_id, "kind": "create_task", "config": config})
    if not nodes:
        nodes.append({"id": "s1", "kind": "exit", "config": {}})
    edges = [
        {"source": f"s{i + 1}", "target": f"s{i + 2}", "label": "next"}
        for i in range(len(nodes) - 1)
    ]
    return {
        "trigger": {"kind": "manual"},
        "entry": "s1",
        "nodes": nodes,
        "edges": edges,
        "stop_on": STOP_ON,
    }


def link_flows(apps: Any, schema_editor: Any) -> None:
    Sequence = apps.get_model("sales", "Sequence")
    SalesEnrolment = apps.get_model("sales", "Enrolment")
    Flow = apps.get_model("automation", "Flow")
    FlowVersion = apps.get_model("automation", "FlowVersion")
    now = timezone.now()
    for sequence in Sequence.objects.filter(flow__isnull=True).order_by("pk"):
        marker = f"[sales sequence {sequence.pk}]"
        steps = list(sequence.steps.order_by("position"))
        graph = _graph(steps)
        flow = Flow.objects.filter(description__startswith=marker).order_by("pk").first()
        if flow is None:
            flow = Flow.objects.create(
                name=sequence.name,
                description=f"{marker} the flow of a sales sequence",
                status="active" if sequence.active else "paused",
                reentry="after_exit",
                owner=sequence.owner,
                created_at=sequence.created_at,
            )
        if not any(v.graph == graph for v in flow.versions.all()):
            number = (flow.versions.aggregate(n=models.Max("number"))["n"] or 0) + 1
            version = FlowVersion.objects.create(
                flow=flow,
                number=number,
                graph=graph,
                published_at=now,
                created_by=sequence.owner,
            )
            flow.live_version = version
            flow.save(update_fields=["live_version"])
        sequence.flow = flow
        sequence.save(update_fields=["flow"])
        SalesEnrolment.objects.filter(sequence=sequence, status="active").update(
            status="finished", next_run_at=None, ended_at=now
        )


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0003_sales_sequences_to_flows"),
        ("sales", "0004_enrolment_moved_to_flow"),
    ]

    operations = [
        migrations.AddField(
            model_name="sequence",
            name="flow",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="sequence",
                to="automation.flow",
            ),
        ),
        migrations.RunPython(link_flows, migrations.RunPython.noop),
        migrations.DeleteModel(name="SequenceEmail"),
    ]
