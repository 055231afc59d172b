"""Ready flows a marketer starts from: each a valid graph (a test validates every one); and the
graph of a sales sequence (`sequence_graph`), which sales publishes as the sequence's flow.

welcome, webinar follow-up, MQL hand-off, re-engagement, post-training loyalty, quote
follow-up. Texts use the placeholders `{first_name}`, `{last_name}`, `{email}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tandem.automation.graph import linear


def _email(subject: str, body: str) -> tuple[str, dict[str, Any]]:
    return ("send_email", {"subject": subject, "body": body})


def _wait(days: int) -> tuple[str, dict[str, Any]]:
    return ("wait", {"days": days})


def welcome() -> dict[str, Any]:
    return linear(
        {"kind": "form_submitted"},
        [
            _email("Welcome, {first_name}", "Thank you for signing up. Here is where to start."),
            _wait(3),
            _email("Three things people like", "A few ideas to get the most out of it."),
            _wait(4),
            ("goal", {}),
        ],
        goal={"kind": "stage_reached", "stage": "mql", "window_days": 60},
    )


def webinar_follow_up() -> dict[str, Any]:
    return {
        "trigger": {"kind": "touchpoint", "touchpoint_kind": "webinar_registered"},
        "entry": "attend",
        "nodes": [
            {
                "id": "attend",
                "kind": "wait_event",
                "config": {"touchpoint_kind": "webinar_attended", "timeout_days": 2},
            },
            {
                "id": "thanks",
                "kind": "send_email",
                "config": {"subject": "Thank you for joining", "body": "The slides and recording."},
            },
            {
                "id": "missed",
                "kind": "send_email",
                "config": {"subject": "Sorry we missed you", "body": "The recording is here."},
            },
        ],
        "edges": [
            {"source": "attend", "target": "thanks", "label": "event"},
            {"source": "attend", "target": "missed", "label": "timeout"},
        ],
        "goal": {"kind": "stage_reached", "stage": "mql", "window_days": 30},
    }


def mql_handoff() -> dict[str, Any]:
    return linear(
        {"kind": "lifecycle_changed", "stage": "mql"},
        [
            ("handoff", {"note": "Reached MQL"}),
            _email("Someone will be in touch", "A specialist will call you shortly."),
            ("goal", {}),
        ],
        goal={"kind": "stage_reached", "stage": "sql", "window_days": 30},
    )


def re_engagement() -> dict[str, Any]:
    return {
        "trigger": {"kind": "segment_entered"},
        "entry": "ask",
        "nodes": [
            {
                "id": "ask",
                "kind": "send_email",
                "config": {"subject": "Still interested, {first_name}?", "body": "One click."},
            },
            {
                "id": "click",
                "kind": "wait_event",
                "config": {"touchpoint_kind": "email_clicked", "timeout_days": 7},
            },
            {"id": "back", "kind": "goal"},
            {"id": "recycle", "kind": "set_stage", "config": {"stage": "recycled"}},
        ],
        "edges": [
            {"source": "ask", "target": "click"},
            {"source": "click", "target": "back", "label": "event"},
            {"source": "click", "target": "recycle", "label": "timeout"},
        ],
        "goal": {"kind": "touchpoint", "touchpoint_kind": "email_clicked", "window_days": 30},
    }


def post_training_loyalty() -> dict[str, Any]:
    return linear(
        {"kind": "training_completed"},
        [
            _email("Your certificate, {first_name}", "Thank you for taking part."),
            _wait(14),
            _email("What to try next", "Members get early access to new courses."),
            _wait(30),
            ("goal", {}),
        ],
        goal={"kind": "deal_won", "window_days": 180},
    )


def quote_follow_up() -> dict[str, Any]:
    return linear(
        {"kind": "touchpoint", "touchpoint_kind": "quote_viewed"},
        [
            _wait(2),
            _email("Any questions about the quote?", "Happy to walk you through it."),
            _wait(3),
            ("create_task", {"title": "Call {first_name} about the quote", "due_in_days": 0}),
            ("goal", {}),
        ],
        stop_on=["email_reply", "meeting", "meeting_booked"],
        goal={"kind": "deal_won", "window_days": 60},
    )


TEMPLATES = {
    "welcome": (_("Welcome"), welcome),
    "webinar": (_("Webinar follow-up"), webinar_follow_up),
    "mql_handoff": (_("MQL hand-off"), mql_handoff),
    "re_engagement": (_("Re-engagement"), re_engagement),
    "loyalty": (_("Post-training loyalty"), post_training_loyalty),
    "quote": (_("Quote follow-up"), quote_follow_up),
    "blank": (_("Blank"), lambda: linear({"kind": "manual"}, [("exit", {})])),
}


# --- sales sequences ------------------------------------------------------------------------

SEQUENCE_STOP_ON = ["email_reply", "meeting", "meeting_booked", "consent_withdrawn"]


class SequenceStepLike(Protocol):
    kind: str
    wait_days: int
    subject: str
    body: str


def sequence_graph(steps: Iterable[SequenceStepLike]) -> dict[str, Any]:
    """The flow of a sales sequence's steps (in order; node `s<k+1>` is step k): started by hand,
    stopping on a reply, a meeting or withdrawn consent. An email is the owner's (`from_owner`:
    reply-to the owner, `{rep_name}` filled when it is sent); a wait counts business days; a
    call or a LinkedIn message is a task for the owner. (Sales' migration 0005 keeps a frozen
    copy of this; automation's 0003 one of an earlier form.)"""
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
                title = gettext("Call {first_name} {last_name}")
            else:
                title = gettext("Message {first_name} {last_name} on LinkedIn")
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
    return linear(
        {"kind": "manual"},
        [(n["kind"], n["config"]) for n in nodes],
        stop_on=list(SEQUENCE_STOP_ON),
    )
