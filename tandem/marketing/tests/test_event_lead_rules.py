"""Event lead rules: who qualifies (statuses, minutes attended, score), what happens (stage, lead
source, hand-off to sales with the SLA clock), automatic runs after imports, idempotence, and the
rule page (CSRF, permissions, audit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Contact, Touchpoint
from tandem.leads.models import ContactScore, Handoff, RepCapacity, ScoringModel
from tandem.marketing.events import imports, rules, services
from tandem.marketing.models import EventLeadOutcome, EventLeadRule, MarketingEvent

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
# ada 50 min (two sessions), bob 10 min, walk-in 45 min; cy registered and never came
ATTENDANCE = (
    "\ufeffUser Email,Name (Original Name),Join Time,Leave Time,Time in Session (minutes)\n"
    "ada@example.com,Ada,09/15/2026 10:00:00 AM,09/15/2026 10:30:00 AM,30\n"
    "ada@example.com,Ada,09/15/2026 10:40:00 AM,09/15/2026 11:00:00 AM,20\n"
    "bob@example.com,Bob,09/15/2026 10:00:00 AM,09/15/2026 10:10:00 AM,10\n"
    "walkin@example.com,Walk In,09/15/2026 10:05:00 AM,09/15/2026 10:50:00 AM,45\n"
)


def _event(kind: str = "webinar", title: str = "Revenue teams 101") -> MarketingEvent:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    return services.event_create(
        actor=SYSTEM,
        kind=kind,
        title=title,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        join_url="https://meet.example.com/rt101",
        organizer_name="Marta Marketer",
        organizer_email="events@tandem.test",
    )


def _held(event: MarketingEvent) -> MarketingEvent:
    """The event takes place: its hour moves into the past (attendance comes after it begins)."""
    starts = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    MarketingEvent.objects.filter(pk=event.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    event.refresh_from_db()
    return event


def _register(event: MarketingEvent, *emails: str) -> None:
    for email in emails:
        services.register(event=event, email=email, name=email.split("@")[0].title())


def _stage(email: str) -> str:
    return Contact.objects.get(email=email).lifecycle_stage


def _stages() -> dict[str, str]:
    return {
        e: _stage(e)
        for e in ("ada@example.com", "bob@example.com", "cy@example.com", "walkin@example.com")
        if Contact.objects.filter(email=e).exists()
    }


@pytest.fixture
def rep(world: Any) -> Any:
    user = world.user("sales_rep", "north")
    RepCapacity.objects.create(user=user, weight=1, capacity=10)
    return user


def test_minimum_minutes_and_auto_run_after_attendance_import(world: Any) -> None:
    event = _event()
    _register(event, "ada@example.com", "bob@example.com", "cy@example.com")
    rules.rule_save(
        actor=SYSTEM, event=event, statuses=["attended"], min_minutes="30", lead_source="webinar"
    )
    event = _held(event)
    imports.attendance_import(actor=SYSTEM, event=event, data=ATTENDANCE.encode())
    assert _stages() == {
        "ada@example.com": "lead",  # 30 + 20 minutes
        "bob@example.com": "subscriber",  # 10 minutes
        "cy@example.com": "subscriber",  # no-show
        "walkin@example.com": "lead",  # not registered, 45 minutes
    }
    lead_touches = Touchpoint.objects.filter(kind="webinar_lead")
    assert sorted(lead_touches.values_list("contact__email", "source")) == [
        ("ada@example.com", "webinar"),
        ("walkin@example.com", "webinar"),
    ]
    # idempotent: the same file again, and an on-demand run, add nothing
    imports.attendance_import(actor=SYSTEM, event=event, data=ATTENDANCE.encode())
    assert rules.rule_apply(actor=SYSTEM, event=event).handled == 0
    assert imports.attendees_to_leads(actor=SYSTEM, event=event) == 0
    assert lead_touches.count() == 2
    assert EventLeadOutcome.objects.count() == 2
    assert Touchpoint.objects.filter(kind="lifecycle_stage_changed").count() == 2


def test_statuses_registered_and_no_show(world: Any) -> None:
    event = _event()
    _register(event, "ada@example.com", "cy@example.com")
    rules.rule_save(actor=SYSTEM, event=event, statuses=["registered"], auto=False)
    run = rules.rule_apply(actor=SYSTEM, event=event)  # before the event: everyone registered
    assert (run.handled, run.moved) == (2, 2)
    assert _stages() == {"ada@example.com": "lead", "cy@example.com": "lead"}

    other = _event(title="Second")
    _register(other, "bob@example.com", "dan@example.com")
    rules.rule_save(actor=SYSTEM, event=other, statuses=["no_show"], auto=True)
    other = _held(other)
    imports.attendance_import(
        actor=SYSTEM,
        event=other,
        data=b"Email,Time in Session (minutes)\nbob@example.com,5\n",
    )
    assert (_stage("bob@example.com"), _stage("dan@example.com")) == ("subscriber", "lead")


def test_minimum_score_in_a_score_group(world: Any) -> None:
    event = _event()
    _register(event, "ada@example.com", "bob@example.com")
    event = _held(event)
    imports.attendance_import(
        actor=SYSTEM,
        event=event,
        data=b"Email,Duration (Minutes)\nada@example.com,40\nbob@example.com,40\n",
    )
    group = ScoringModel.objects.create(name="Default", product_line="")
    ada, bob = (
        Contact.objects.get(email="ada@example.com"),
        Contact.objects.get(email="bob@example.com"),
    )
    ContactScore.objects.create(contact=ada, scoring_model=group, total=70)
    ContactScore.objects.create(contact=bob, scoring_model=group, total=20)
    rule = rules.rule_save(actor=SYSTEM, event=event, min_score="50")
    assert rule.scoring_model_id == group.pk  # the default group when none is chosen
    assert rules.rule_apply(actor=SYSTEM, event=event).handled == 1
    assert (_stage("ada@example.com"), _stage("bob@example.com")) == ("lead", "subscriber")
    # bob's score rises later: the next run takes him, ada is not handled twice
    ContactScore.objects.filter(contact=bob).update(total=55)
    assert rules.rule_apply(actor=SYSTEM, event=event).handled == 1
    assert EventLeadOutcome.objects.count() == 2


def test_handoff_to_sales_with_sla_once(world: Any, rep: Any) -> None:
    event = _event()
    _register(event, "ada@example.com")
    rules.rule_save(actor=SYSTEM, event=event, statuses=["attended"], stage="mql", handoff="1")
    event = _held(event)
    imports.attendance_import(
        actor=SYSTEM, event=event, data=b"Email,Minutes\nada@example.com,40\n"
    )
    handoff = Handoff.objects.get(contact__email="ada@example.com")
    assert (handoff.trigger, handoff.source_ref, handoff.assigned_to_id) == (
        "manual",
        f"event:{event.pk}",
        rep.pk,
    )
    assert handoff.accept_due_at is not None  # the SLA clock runs
    assert _stage("ada@example.com") == "mql"
    outcome = EventLeadOutcome.objects.get()
    assert (outcome.moved_to, outcome.handoff_id) == ("mql", handoff.pk)
    # rejected and recycled: running again opens no second hand-off for the same registration
    Handoff.objects.filter(pk=handoff.pk).update(status="rejected")
    assert rules.rule_apply(actor=SYSTEM, event=event).handled == 0
    imports.attendance_import(
        actor=SYSTEM, event=event, data=b"Email,Minutes\nada@example.com,40\n"
    )
    assert Handoff.objects.count() == 1


def test_customers_are_not_handed_off_or_moved_back(world: Any, rep: Any) -> None:
    event = _event()
    customer = world.contacts[("sales_rep", "north")]
    Contact.objects.filter(pk=customer.pk).update(lifecycle_stage="customer")
    _register(event, customer.email)
    rules.rule_save(actor=SYSTEM, event=event, statuses=["registered"], handoff=True, auto=False)
    run = rules.rule_apply(actor=SYSTEM, event=event)
    assert (run.handled, run.moved, run.handed_off) == (1, 0, 0)
    assert _stage(customer.email) == "customer"
    assert not Handoff.objects.exists()


def test_kind_rule_applies_unless_the_event_has_its_own(world: Any) -> None:
    rules.rule_save(actor=SYSTEM, event_kind="conference", statuses=["attended"], stage="lead")
    conference = _held(_event(kind="conference", title="Expo"))
    imports.badge_scans_import(
        actor=SYSTEM,
        event=conference,
        data=b"email,name,company,scan time\nada@example.com,Ada,Acme,2026-09-15 10:00\n",
    )
    assert _stage("ada@example.com") == "lead"  # the kind's rule, run after the badge import
    own = _held(_event(kind="conference", title="Own rule"))
    rules.rule_save(actor=SYSTEM, event=own, statuses=["attended"], min_minutes=10)
    imports.badge_scans_import(actor=SYSTEM, event=own, data=b"email\nbob@example.com\n")
    assert _stage("bob@example.com") == "subscriber"  # a badge scan has no minutes


def test_bad_rules_are_refused(world: Any) -> None:
    event = _event()
    with pytest.raises(InvalidInput) as bad:
        rules.rule_save(
            actor=SYSTEM,
            event=event,
            statuses=["maybe"],
            min_minutes="-3",
            stage="customer",
            lead_source="x" * 61,
            scoring_model_id="999",
        )
    assert set(bad.value.errors) == {
        "statuses",
        "min_minutes",
        "stage",
        "lead_source",
        "scoring_model_id",
    }
    with pytest.raises(InvalidInput) as no_group:
        rules.rule_save(actor=SYSTEM, event=event, min_score="10")
    assert list(no_group.value.errors) == ["scoring_model_id"]
    with pytest.raises(InvalidInput):
        rules.rule_save(actor=SYSTEM, event_kind="party")
    with pytest.raises(InvalidInput):
        rules.rule_save(actor=SYSTEM, event=event, event_kind="webinar")
    assert not EventLeadRule.objects.exists()


def test_rule_page_csrf_permissions_and_audit(world: Any) -> None:
    event = _event()
    _register(event, "ada@example.com")
    url = f"/marketing/events/{event.pk}/lead-rule"
    rep = Client(HTTP_USER_AGENT=BROWSER)
    assert rep.login(username="sales_rep_north", password=PASSWORD)
    assert rep.get(url).status_code == 404
    assert rep.post(url, {"statuses": ["registered"]}).status_code == 404

    marketer = Client(HTTP_USER_AGENT=BROWSER)
    assert marketer.login(username="marketer_north", password=PASSWORD)
    page = marketer.get(url)
    assert page.status_code == 200
    assert 'id="default-rule"' in page.content.decode()
    assert 'id="lead-rule-link"' in marketer.get(f"/marketing/events/{event.pk}/").content.decode()
    bad = marketer.post(url, {"statuses": [], "stage": "lead"})
    assert bad.status_code == 400
    saved = marketer.post(
        url, {"statuses": ["registered"], "stage": "lead", "lead_source": "webinar", "auto": "1"}
    )
    assert saved.status_code == 302
    rule = EventLeadRule.objects.get(event=event)
    assert (rule.statuses, rule.stage, rule.lead_source, rule.auto, rule.handoff) == (
        ["registered"],
        "lead",
        "webinar",
        True,
        False,
    )
    assert AuditEntry.objects.filter(
        model="marketing.EventLeadRule", object_id=str(rule.pk), action="create"
    ).exists()
    csrf = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=BROWSER)
    assert csrf.login(username="marketer_north", password=PASSWORD)
    assert csrf.post(url, {"action": "run"}).status_code == 403
    assert _stage("ada@example.com") == "subscriber"
    assert marketer.post(url, {"action": "run"}).status_code == 302
    assert _stage("ada@example.com") == "lead"
    handled = marketer.get(url).content.decode()
    assert "ada" in handled.lower()
    kind_page = marketer.get("/marketing/events/lead-rules/webinar")
    assert kind_page.status_code == 200
    saved = marketer.post(
        "/marketing/events/lead-rules/conference", {"statuses": ["attended"], "stage": "mql"}
    )
    assert saved.status_code == 302
    kind_rule = EventLeadRule.objects.get(event__isnull=True, event_kind="conference")
    assert (kind_rule.statuses, kind_rule.stage, kind_rule.auto) == (["attended"], "mql", False)
    assert rep.get("/marketing/events/lead-rules/conference").status_code == 404
    assert marketer.get("/marketing/events/lead-rules/party").status_code == 404
