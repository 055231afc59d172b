"""The demo's flows: four flows from the templates, history walked day by day with the
runner's clock, a holdout on the welcome journey, a sales rep's sequence running on its flow;
a second load adds nothing."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from conftest import World
from tandem.automation.models import Enrolment, Flow, FlowMessage, StepRun
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.demo.automation import SEQUENCE, create_demo_automation
from tandem.sales.models import SalesTask, Sequence

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_the_demo_flows_have_history_and_a_holdout_and_load_once(world: World) -> None:
    for i in range(40):
        contact = crm.contact_create(
            actor=Actor.system(), first_name=f"D{i}", email=f"d{i}@example.com"
        )
        Contact.objects.filter(pk=contact.pk).update(
            created_at=NOW - dt.timedelta(days=100 - i * 2)
        )
    rep = world.user("sales_rep")
    old = [
        crm.contact_create(
            actor=Actor.system(), first_name=f"O{i}", email=f"o{i}@example.com", owner_id=rep.pk
        )
        for i in range(7)
    ]
    Contact.objects.filter(pk__in=[c.pk for c in old]).update(
        created_at=NOW - dt.timedelta(days=400), consent="granted"
    )
    # the sequence emails only people who agreed: one who withdrew is passed over
    Contact.objects.filter(pk=old[0].pk).update(consent="withdrawn")
    people = {"marketer": world.user("marketer"), "sales": rep}
    written = create_demo_automation(people, NOW, activity=True)
    assert written == {"welcome": 40, "sequence": 5}
    assert sorted(Flow.objects.values_list("name", flat=True)) == [
        SEQUENCE, "MQL hand-off", "Quote follow-up", "Re-engagement", "Welcome journey",
    ]  # fmt: skip
    sequence = Sequence.objects.get(name=SEQUENCE)
    ran = Enrolment.objects.filter(flow=sequence.flow)
    assert sorted(ran.values_list("status", flat=True)) == ["completed"] * 5
    assert not ran.filter(contact=old[0]).exists()
    emails = Touchpoint.objects.filter(kind="sequence_email_sent", actor=rep)
    assert emails.count() == 5
    assert SalesTask.objects.filter(owner=rep, kind="call").count() == 5
    welcome = Enrolment.objects.filter(flow__name="Welcome journey")
    held = welcome.filter(status="held_out").count()
    assert 1 <= held <= 20
    assert welcome.filter(status="completed").count() == 40 - held  # every treated one finished
    assert StepRun.objects.filter(enrolment__in=welcome, node="s5").count() == 40 - held
    sent = FlowMessage.objects.filter(state="sent").exclude(step__enrolment__in=ran)
    assert sent.count() == 2 * (40 - held)
    # the test mail backend: nothing left queued (the sequence's five emails too)
    assert len(mail.outbox) == sent.count() + 5
    assert not FlowMessage.objects.exclude(state="sent").exists()
    assert create_demo_automation(people, NOW, activity=False) == {}
    assert Flow.objects.count() == 5
    assert Sequence.objects.count() == 1
