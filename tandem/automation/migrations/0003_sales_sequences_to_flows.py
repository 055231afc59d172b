"""Each sales sequence becomes a flow of the automation engine, its active enrolments with it.

For every `sales.Sequence`: a flow of the same name and owner (active, or paused if the sequence
was), re-entry "again after leaving", trigger "manual", stopping on a reply or a meeting
(`stop_on`: email_reply, meeting, meeting_booked; withdrawn consent ends it at its next email, as
every flow), its steps in order published as version 1:

- email -> send_email (the same subject and text; `{rep_name}` is filled with the owner's name
  now, `{first_name}`, `{last_name}` and `{company}` stay placeholders the engine fills);
- wait of N business days -> wait of N days;
- call / message on LinkedIn -> create_task ("Call {first_name} {last_name}: <text>").

Every active sequence enrolment becomes an automation enrolment at the node of the step it had
not run yet (`next_step`), due when it was due, so nobody is lost and no step that already ran
runs again (its email is not sent twice); the sequence enrolment is marked "moved". A sequence
enrolment whose every step ran is left as it was. Running the migration again does nothing more
(the flow remembers its sequence in its description; the enrolment's trigger key names the
sequence enrolment).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone

STOP_ON = ["email_reply", "meeting", "meeting_booked"]


def _marker(sequence_id: int) -> str:
    return f"[sales sequence {sequence_id}]"


def _rep_name(user: Any) -> str:
    if user is None:
        return ""
    full = f"{user.first_name} {user.last_name}".strip()
    return full or user.username


def sequence_graph(steps: list[Any], rep_name: str) -> dict[str, Any]:
    """The flow graph of a sequence's steps (ordered by position): node `s<k+1>` is step k."""
    nodes: list[dict[str, Any]] = []
    for k, step in enumerate(steps):
        node_id = f"s{k + 1}"
        if step.kind == "email":
            config = {
                "subject": step.subject.replace("{rep_name}", rep_name)[:200] or "-",
                "body": step.body.replace("{rep_name}", rep_name) or "-",
            }
            nodes.append({"id": node_id, "kind": "send_email", "config": config})
        elif step.kind == "wait":
            nodes.append({"id": node_id, "kind": "wait", "config": {"days": step.wait_days}})
        else:
            verb = "Call" if step.kind == "call" else "Message on LinkedIn:"
            title = f"{verb} {{first_name}} {{last_name}}"
            if step.body:
                title = f"{title}: {step.body.replace('{rep_name}', rep_name)}"
            config = {"title": title[:300], "due_in_days": 0}
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
        "stop_on": STOP_ON,
        "nodes": nodes,
        "edges": edges,
    }


def sequences_to_flows(apps: Any, schema_editor: Any) -> None:
    Sequence = apps.get_model("sales", "Sequence")
    SalesEnrolment = apps.get_model("sales", "Enrolment")
    Flow = apps.get_model("automation", "Flow")
    FlowVersion = apps.get_model("automation", "FlowVersion")
    Enrolment = apps.get_model("automation", "Enrolment")
    now = timezone.now()
    for sequence in Sequence.objects.select_related("owner").order_by("pk"):
        marker = _marker(sequence.pk)
        flow = Flow.objects.filter(description__startswith=marker).first()
        steps = list(sequence.steps.order_by("position"))
        if flow is None:
            flow = Flow.objects.create(
                name=sequence.name,
                description=f"{marker} moved from the sales sequences",
                status="active" if sequence.active else "paused",
                reentry="after_exit",
                owner=sequence.owner,
                created_at=sequence.created_at,
            )
            version = FlowVersion.objects.create(
                flow=flow,
                number=1,
                graph=sequence_graph(steps, _rep_name(sequence.owner)),
                published_at=now,
                created_by=sequence.owner,
            )
            flow.live_version = version
            flow.save(update_fields=["live_version"])
        active = SalesEnrolment.objects.filter(sequence=sequence, status="active").order_by("pk")
        for old in active:
            if old.next_step >= len(steps):
                continue  # every step ran: nothing left to carry over
            Enrolment.objects.get_or_create(
                flow=flow,
                contact_id=old.contact_id,
                trigger_key=f"sales-enrolment:{old.pk}",
                defaults={
                    "version_id": flow.live_version_id,
                    "status": "active",
                    "node": f"s{old.next_step + 1}",
                    "seq": old.next_step,
                    "next_run_at": old.next_run_at or now,
                    "enrolled_at": old.enrolled_at,
                },
            )
            SalesEnrolment.objects.filter(pk=old.pk, status="active").update(
                status="moved", next_run_at=None, ended_at=now
            )


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0002_flow_secret_encrypted"),
        ("sales", "0004_enrolment_moved_to_flow"),
    ]

    operations = [migrations.RunPython(sequences_to_flows, migrations.RunPython.noop)]
