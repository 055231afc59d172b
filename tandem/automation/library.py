"""Ready flows a marketer starts from: each a valid graph (a test validates every one).

welcome, webinar follow-up, MQL hand-off, re-engagement, post-training loyalty, quote
follow-up. Texts use the placeholders `{first_name}`, `{last_name}`, `{email}`.
"""

from __future__ import annotations

from typing import Any

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
