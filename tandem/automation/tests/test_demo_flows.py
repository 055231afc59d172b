"""The demo's flows: four flows from the templates, history walked day by day with the
runner's clock, a holdout on the welcome journey; a second load adds nothing."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from conftest import World
from tandem.automation.models import Enrolment, Flow, FlowMessage, StepRun
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.demo.automation import create_demo_automation

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_the_demo_flows_have_history_and_a_holdout_and_load_once(world: World) -> None:
    for i in range(40):
        contact = crm.contact_create(
            actor=Actor.system(), first_name=f"D{i}", email=f"d{i}@example.com"
        )
        Contact.objects.filter(pk=contact.pk).update(
            created_at=NOW - dt.timedelta(days=100 - i * 2)
        )
    people = {"marketer": world.user("marketer")}
    written = create_demo_automation(people, NOW, activity=True)
    assert written == {"welcome": 40}
    assert sorted(Flow.objects.values_list("name", flat=True)) == [
        "MQL hand-off", "Quote follow-up", "Re-engagement", "Welcome journey",
    ]  # fmt: skip
    welcome = Enrolment.objects.filter(flow__name="Welcome journey")
    held = welcome.filter(status="held_out").count()
    assert 1 <= held <= 20
    assert welcome.filter(status="completed").count() == 40 - held  # every treated one finished
    assert StepRun.objects.filter(enrolment__in=welcome, node="s5").count() == 40 - held
    sent = FlowMessage.objects.filter(state="sent")
    assert sent.count() == 2 * (40 - held)
    assert len(mail.outbox) == sent.count()  # the test mail backend: nothing left queued
    assert not FlowMessage.objects.exclude(state="sent").exists()
    assert create_demo_automation(people, NOW, activity=False) == {}
    assert Flow.objects.count() == 4
