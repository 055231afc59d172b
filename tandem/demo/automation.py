"""Automation's part of the story: the marketing team runs four flows built from the ready
templates — a welcome journey with a 20 % holdout, the MQL hand-off, a quote follow-up that
stops on a reply or a meeting, and re-engagement — and the welcome journey has four months of
history: the contacts who came in then walked through it with the clock moved half a day at a
time, so the builder shows per-step counts, each enrolment's history and a
lift report against the held-out group. A sales rep's sequence ("Check-in with customers":
an email in the rep's name, a wait of two business days, a call) runs on its flow like every
flow: five of the rep's long-standing contacts enrolled in the last week, so the rep has
sequence emails on their timeline and calls on "My tasks".

Invariants:
- written through automation's services and its runner (every step as in production: caps,
  quiet hours, consent), with the runner's clock set to the simulated day; the emails of the
  history go to the demo's discarding mail backend and are dated on their day;
- deterministic: contacts are taken in id order, the holdout side is a hash of flow and contact;
- idempotent: flows are matched by name; history is written only with a fresh customer record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tandem.automation import services as automation
from tandem.automation.models import Flow
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm.models import ConsentState, Contact
from tandem.sales import services as sales
from tandem.sales.models import Sequence

SEQUENCE = "Check-in with customers"
SEQUENCE_STEPS: list[dict[str, Any]] = [
    {
        "kind": "email",
        "subject": "How is it going, {first_name}?",
        "body": "Hello {first_name},\nis everything working as it should at {company}? "
        "I am happy to help.\n{rep_name}",
    },
    {"kind": "wait", "wait_days": 2},
    {"kind": "call", "body": "ask how the season went"},
]
SEQUENCE_CONTACTS = 5

HISTORY_DAYS = 120
FLOWS = [  # (name, template, holdout %); only the welcome journey gets history: the story's
    # hand-offs are the leads app's own (a flow handing the story's MQLs off again would add
    # hand-offs the story never had)
    ("Welcome journey", "welcome", 20),
    ("MQL hand-off", "mql_handoff", 0),
    ("Quote follow-up", "quote", 0),
    ("Re-engagement", "re_engagement", 0),
]


def _flows(actor: Actor, published_at: dt.datetime) -> dict[str, Flow]:
    flows = {}
    for name, template, holdout in FLOWS:
        flow = Flow.objects.filter(name=name).first()
        if flow is None:
            flow = automation.flow_create(
                actor=actor,
                name=name,
                graph=automation.template_graph(template),
                holdout_percent=holdout,
                reentry="once",
            )
            automation.flow_publish(actor=actor, flow=flow, now=published_at)
            flow.refresh_from_db()
        flows[template] = flow
    return flows


def create_demo_automation(
    people: dict[str, User], now: dt.datetime, *, activity: bool
) -> dict[str, int]:
    """The demo's flows (always) and their history (with a fresh customer record); returns
    the enrolments written per template."""
    actor = Actor(user=people["marketer"])
    start = now - dt.timedelta(days=HISTORY_DAYS)
    flows = _flows(actor, start)
    written: dict[str, int] = {}
    sequence = _sequence(people["sales"])
    if not activity:
        return written
    written["sequence"] = _sequence_history(sequence, people["sales"], now, start)
    welcome = flows["welcome"]
    arrivals: list[tuple[dt.datetime, Flow, int]] = [
        (created, welcome, pk)
        for pk, created in Contact.objects.filter(created_at__gte=start, created_at__lt=now)
        .order_by("id")
        .values_list("pk", "created_at")
    ]
    arrivals.sort(key=lambda row: (row[0], row[2]))
    day = start
    queue = iter(arrivals)
    pending = next(queue, None)
    while day <= now:
        while pending is not None and pending[0] <= day:
            at, flow, contact_id = pending
            if automation.enrol(flow=flow, contact_id=contact_id, trigger_key="demo", now=at):
                written["welcome"] = written.get("welcome", 0) + 1
            pending = next(queue, None)
        automation.run_due(now=day)
        day += dt.timedelta(hours=12)
    return written


def _sequence(rep: User) -> Sequence:
    sequence = Sequence.objects.filter(name=SEQUENCE).first()
    if sequence is None:
        sequence = sales.sequence_create(actor=Actor(user=rep), name=SEQUENCE, steps=SEQUENCE_STEPS)
    return sequence


def _sequence_history(sequence: Sequence, rep: User, now: dt.datetime, start: dt.datetime) -> int:
    """Five of the rep's contacts who agreed to emails, from before the welcome journey's
    window (so its emails and the sequence's do not meet under the frequency cap), by email,
    enrolled a week ago and walked to now by the runner's clock."""
    chosen = list(
        Contact.objects.filter(owner=rep, created_at__lt=start, consent=ConsentState.GRANTED)
        .exclude(email="")
        .order_by("email")
        .values_list("pk", flat=True)[:SEQUENCE_CONTACTS]
    )
    day = (now - dt.timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    created = sales.sequence_enrol(
        actor=Actor(user=rep), sequence=sequence, contact_ids=chosen, now=day
    )
    while day <= now:
        automation.run_due(now=day)
        day += dt.timedelta(hours=12)
    return len(created)
