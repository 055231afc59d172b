"""The runner walks enrolments through their flow's version, waits with the clock, sends each
email once, and keeps the rules that hold across flows (caps, quiet hours, consent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import SmtpInbox, World
from tandem.automation import runner, services, triggers
from tandem.automation.graph import linear
from tandem.automation.models import (
    Enrolment,
    EnrolmentStatus,
    Flow,
    FlowMessage,
    MessageState,
    Policy,
    StepRun,
)
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday, 10:00 UTC (org zone: UTC)
WELCOME = [
    ("send_email", {"subject": "Welcome {first_name}", "body": "Hello {first_name}"}),
    ("wait", {"days": 2}),
    ("send_email", {"subject": "Two days in", "body": "How is it going?"}),
    ("goal", {}),
]


def _flow(actor: Actor, steps: list[tuple[str, dict[str, Any]]], **extra: Any) -> Flow:
    trigger = extra.pop("trigger", {"kind": "manual"})
    graph_extra = {k: extra.pop(k) for k in ("stop_on", "goal") if k in extra}
    flow = services.flow_create(
        actor=actor, name="Welcome", graph=linear(trigger, steps, **graph_extra), **extra
    )
    services.flow_publish(actor=actor, flow=flow, now=NOW)
    flow.refresh_from_db()
    return flow


def _contact(name: str, **extra: Any) -> Contact:
    return crm.contact_create(
        actor=Actor.system(), first_name=name, email=f"{name.lower()}@example.com", **extra
    )


def _subjects(inbox: SmtpInbox) -> list[str]:
    return [str(inbox.parsed(i)["Subject"]) for i in range(len(inbox.messages))]


@pytest.fixture
def marketer(world: World) -> Actor:
    Policy.objects.update_or_create(pk=1, defaults={"quiet_start": 21, "quiet_end": 8})
    return Actor(user=world.user("marketer"))


def test_an_enrolment_waits_with_the_clock_and_each_email_leaves_once(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    flow = _flow(marketer, WELCOME)
    ada = _contact("Ada")
    enrolment = services.enrol(flow=flow, contact_id=ada.pk, trigger_key="manual:1", now=NOW)
    assert enrolment is not None
    assert runner.run_until_idle(now=NOW) == 2  # the email and the wait
    assert runner.run_until_idle(now=NOW + dt.timedelta(days=1)) == 0  # still waiting
    assert _subjects(smtp_inbox) == ["Welcome Ada"]
    assert runner.run_until_idle(now=NOW + dt.timedelta(days=2)) == 2
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED
    assert enrolment.goal_at == NOW + dt.timedelta(days=2)
    assert _subjects(smtp_inbox) == ["Welcome Ada", "Two days in"]
    history = list(
        StepRun.objects.filter(enrolment=enrolment).values_list("seq", "node", "outcome")
    )
    assert history == [
        (0, "s1", "email queued"),
        (1, "s2", "waiting 2 days, 0:00:00"),
        (2, "s3", "email queued"),
        (3, "s4", "goal reached"),
    ]
    # running again, or delivering again, sends nothing more
    assert runner.run_until_idle(now=NOW + dt.timedelta(days=9)) == 0
    assert runner.messages_recover(now=NOW + dt.timedelta(days=9)) == (0, 0)
    for message_id in FlowMessage.objects.values_list("pk", flat=True):
        assert runner.message_deliver(message_id) is False
    assert len(smtp_inbox.messages) == 2


def test_running_enrolments_keep_their_version_when_a_new_one_is_published(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    flow = _flow(marketer, WELCOME)
    first = services.enrol(flow=flow, contact_id=_contact("Ada").pk, trigger_key="k", now=NOW)
    runner.run_until_idle(now=NOW)
    changed = linear({"kind": "manual"}, [("send_email", {"subject": "New welcome", "body": "b"})])
    draft = services.flow_graph_save(actor=marketer, flow=flow, graph=changed)
    assert draft.number == 2
    services.flow_publish(actor=marketer, flow=flow, now=NOW)
    flow.refresh_from_db()
    second = services.enrol(flow=flow, contact_id=_contact("Bob").pk, trigger_key="k", now=NOW)
    runner.run_until_idle(now=NOW + dt.timedelta(days=2))
    assert first is not None
    assert second is not None
    first.refresh_from_db()
    assert first.version.number == 1
    assert second.version.number == 2
    subjects = sorted(_subjects(smtp_inbox))
    assert subjects == ["New welcome", "Two days in", "Welcome Ada"]
    # a published version is never edited: saving again writes a new draft
    services.flow_graph_save(actor=marketer, flow=flow, graph=changed)
    assert list(flow.versions.values_list("number", "published_at")) == [
        (3, None),
        (2, NOW),
        (1, NOW),
    ]
    assert AuditEntry.objects.filter(model="automation.Flow", action="publish").count() == 2


def test_a_broken_graph_is_refused_with_its_reasons(marketer: Actor) -> None:
    from tandem.core.errors import InvalidInput

    broken = linear({"kind": "manual"}, [("goal", {}), ("exit", {})])
    broken["edges"] = []
    with pytest.raises(InvalidInput) as caught:
        services.flow_create(actor=marketer, name="Broken", graph=broken)
    assert caught.value.errors == {"graph": ["Step “s2” cannot be reached from the start."]}
    assert not Flow.objects.exists()


def test_consent_is_checked_when_the_step_runs_and_again_before_the_email_leaves(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    flow = _flow(marketer, WELCOME)
    ada, bob = _contact("Ada"), _contact("Bob")
    crm.contact_consent_write(actor=Actor.system(), contact=ada, consent="withdrawn")
    for c in (ada, bob):
        services.enrol(flow=flow, contact_id=c.pk, trigger_key="k", now=NOW)
    runner.run_until_idle(now=NOW, deliver=False)
    ada_enrolment = Enrolment.objects.get(contact=ada)
    assert ada_enrolment.status == EnrolmentStatus.EXITED
    assert ada_enrolment.exit_reason == "consent withdrawn: left the flow"
    bob.refresh_from_db()
    crm.contact_consent_write(actor=Actor.system(), contact=bob, consent="withdrawn")  # in between
    runner.messages_recover(now=NOW)
    assert smtp_inbox.messages == []
    assert FlowMessage.objects.get().state == MessageState.SKIPPED


def test_the_frequency_cap_holds_across_flows_and_quiet_hours_wait_in_the_contacts_zone(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    Policy.objects.filter(pk=1).update(emails_per_window=2, window_days=7)
    mail = ("send_email", {"subject": "One", "body": "b"})
    flows = [_flow(marketer, [mail]) for _i in range(3)]
    ada = _contact("Ada")
    for flow in flows:
        services.enrol(flow=flow, contact_id=ada.pk, trigger_key="k", now=NOW)
    runner.run_until_idle(now=NOW)
    assert len(smtp_inbox.messages) == 2
    outcomes = sorted(StepRun.objects.values_list("outcome", flat=True))
    assert outcomes == ["email queued", "email queued", "skipped: frequency cap"]

    # 10:00 UTC is 19:00 in Tokyo: fine; 13:00 UTC is 22:00 there: quiet until 08:00 local
    kenji = _contact("Kenji")
    Contact.objects.filter(pk=kenji.pk).update(custom={"time_zone": "Asia/Tokyo"})
    late = NOW + dt.timedelta(hours=3)
    enrolment = services.enrol(flow=flows[0], contact_id=kenji.pk, trigger_key="k", now=late)
    assert runner.run_until_idle(now=late) == 0
    assert enrolment is not None
    enrolment.refresh_from_db()
    assert enrolment.next_run_at == dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC)  # 08:00 JST
    assert runner.run_until_idle(now=enrolment.next_run_at) == 1


def test_a_holdout_is_stable_per_contact_and_held_out_contacts_run_no_step(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    flow = _flow(marketer, WELCOME, holdout_percent=30, reentry="always")
    people = [_contact(f"P{i}") for i in range(60)]
    sides = {c.pk: services.holds_out(flow, c.pk) for c in people}
    assert 8 <= sum(sides.values()) <= 30
    for c in people:
        services.enrol(flow=flow, contact_id=c.pk, trigger_key="k1", now=NOW)
    held = set(
        Enrolment.objects.filter(status=EnrolmentStatus.HELD_OUT).values_list(
            "contact_id", flat=True
        )
    )
    assert held == {pk for pk, out in sides.items() if out}
    runner.run_until_idle(now=NOW)
    assert len(smtp_inbox.messages) == 60 - len(held)
    assert {services.holds_out(flow, c.pk) for c in people if c.pk in held} == {True}


def test_a_touchpoint_trigger_enrols_once_per_event_and_a_reply_stops_the_flow(
    marketer: Actor, smtp_inbox: SmtpInbox
) -> None:
    _flow(
        marketer,
        WELCOME,
        trigger={"kind": "form_submitted"},
        stop_on=["email_reply"],
        reentry="always",
    )
    ada = _contact("Ada")
    crm.touchpoint_record(
        channel="website",
        kind="form_submitted",
        department="marketing",
        contact=ada,
        occurred_at=NOW,
    )
    crm.touchpoint_record(
        channel="website", kind="page_view", department="marketing", contact=ada, occurred_at=NOW
    )
    assert triggers.dispatch_all(now=NOW) == 1
    assert triggers.dispatch_all(now=NOW) == 0  # the cursor moved; the key would refuse anyway
    runner.run_until_idle(now=NOW)
    crm.touchpoint_record(
        channel="email",
        kind="email_reply",
        department="marketing",
        contact=ada,
        occurred_at=NOW + dt.timedelta(hours=1),
    )
    triggers.dispatch_all(now=NOW + dt.timedelta(hours=2))
    enrolment = Enrolment.objects.get()
    assert enrolment.status == EnrolmentStatus.EXITED
    assert enrolment.exit_reason == "stopped: email_reply"
    runner.run_until_idle(now=NOW + dt.timedelta(days=3))
    assert _subjects(smtp_inbox) == ["Welcome Ada"]


def test_a_wait_for_an_event_takes_the_event_arrow_or_the_timeout(marketer: Actor) -> None:
    graph = {
        "trigger": {"kind": "manual"},
        "entry": "w",
        "nodes": [
            {
                "id": "w",
                "kind": "wait_event",
                "config": {"touchpoint_kind": "webinar_attended", "timeout_days": 3},
            },
            {"id": "thanks", "kind": "goal"},
            {"id": "missed", "kind": "exit"},
        ],
        "edges": [
            {"source": "w", "target": "thanks", "label": "event"},
            {"source": "w", "target": "missed", "label": "timeout"},
        ],
    }
    flow = services.flow_create(actor=marketer, name="Webinar", graph=graph)
    services.flow_publish(actor=marketer, flow=flow, now=NOW)
    flow.refresh_from_db()
    came, missed = _contact("Came"), _contact("Missed")
    for c in (came, missed):
        services.enrol(flow=flow, contact_id=c.pk, trigger_key="k", now=NOW)
    runner.run_until_idle(now=NOW)
    crm.touchpoint_record(
        channel="webinar",
        kind="webinar_attended",
        department="marketing",
        contact=came,
        occurred_at=NOW + dt.timedelta(days=1),
    )
    later = NOW + dt.timedelta(days=1, hours=1)
    assert triggers.events_resume(now=later) == 1
    runner.run_until_idle(now=later)
    runner.run_until_idle(now=NOW + dt.timedelta(days=3))
    paths = {
        e.contact_id: list(e.steps.values_list("node", "outcome")) for e in Enrolment.objects.all()
    }
    assert paths[came.pk] == [
        ("w", "waiting for webinar_attended"),
        ("w", "webinar_attended happened"),
        ("thanks", "goal reached"),
    ]
    assert paths[missed.pk] == [
        ("w", "waiting for webinar_attended"),
        ("w", "timed out"),
        ("missed", "left the flow"),
    ]
