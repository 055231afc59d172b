"""The hand-offs panel on a record's page and "Hand off to sales" from it: the hand-off is made
with its SLA clock (deadline in the viewer's zone), a second one and a customer are refused
with a reason, and each viewer sees only the hand-offs their scope allows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import formats, timezone

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm.models import LifecycleStage
from tandem.leads import services
from tandem.leads.models import Handoff, HandoffTrigger, RoutedBy

from .conftest import FRIDAY_1730_MSK

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _panel(client: Client, url: str) -> str:
    html = client.get(url).content.decode()
    start = html.find('<section class="card" id="record-handoffs">')
    return "" if start < 0 else html[start : html.index("</section>", start)]


@pytest.fixture
def marketer(world: object) -> User:
    user: User = world.user("marketer")  # type: ignore[attr-defined]
    user.time_zone = "Asia/Tokyo"
    user.save(update_fields=["time_zone"])
    return user


def test_hand_off_from_the_record_starts_the_sla_and_a_second_is_refused(
    world, reps, make_lead, marketer
):  # type: ignore[no-untyped-def]
    lead = make_lead(region="west")
    client = _client(marketer)
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        before = _panel(client, f"/crm/contacts/{lead.pk}/")
        assert 'id="handoff-form"' in before
        assert "No hand-offs." in before
        response = client.post(
            f"/leads/contacts/{lead.pk}/handoff/", {"handoff-note": "Asked for a demo"}
        )
        assert response.status_code == 302
        assert response["Location"] == f"/crm/contacts/{lead.pk}/"
        handoff = Handoff.objects.get(contact=lead)
        assert handoff.trigger == HandoffTrigger.MANUAL
        assert handoff.note == "Asked for a demo"
        assert handoff.assigned_to is not None
        assert handoff.accept_due_at is not None
        lead.refresh_from_db()
        assert lead.lifecycle_stage == LifecycleStage.MQL

        panel = _panel(client, f"/crm/contacts/{lead.pk}/")
        with timezone.override(TOKYO):
            due = formats.date_format(
                timezone.localtime(handoff.accept_due_at), "SHORT_DATETIME_FORMAT"
            )
        assert due in panel  # the deadline in the viewer's zone
        assert "business h left" in panel
        assert "Waiting for acceptance" in panel
        assert 'id="handoff-form"' not in panel
        assert "Already handed off" in panel

        again = client.post(f"/leads/contacts/{lead.pk}/handoff/", {"handoff-note": ""})
        assert again.status_code == 400
        assert "already has an open hand-off" in again.content.decode()
    assert Handoff.objects.filter(contact=lead).count() == 1


def test_an_overdue_hand_off_shows_how_late_it_is(world, reps, make_lead, marketer):  # type: ignore[no-untyped-def]
    lead = make_lead(region="west")
    handoff = services.handoff_by_hand(
        actor=Actor(user=marketer), contact=lead, now=FRIDAY_1730_MSK
    )
    with time_machine.travel(FRIDAY_1730_MSK + dt.timedelta(days=10), tick=False):
        panel = _panel(_client(marketer), f"/crm/contacts/{lead.pk}/")
    assert handoff.accept_due_at is not None
    assert "overdue by" in panel


def test_a_customer_is_not_handed_off(world, reps, make_lead, marketer):  # type: ignore[no-untyped-def]
    lead = make_lead(region="west")
    services.lifecycle_move(
        actor=Actor.system(), contact=lead, stage=LifecycleStage.CUSTOMER, reason="Signed"
    )
    client = _client(marketer)
    assert "A customer is not handed to sales." in _panel(client, f"/crm/contacts/{lead.pk}/")
    response = client.post(f"/leads/contacts/{lead.pk}/handoff/", {})
    assert response.status_code == 400
    assert "customer" in response.content.decode()
    assert not Handoff.objects.filter(contact=lead).exists()


def test_reps_see_their_own_hand_offs_and_may_not_hand_off(world, reps):  # type: ignore[no-untyped-def]
    north, south = world.user("sales_rep", "north"), world.user("sales_rep", "south")
    contact = world.contacts[("sales_rep", "north")]
    mine = Handoff.objects.create(
        contact=contact,
        trigger="mql",
        assigned_to=north,
        routed_by=RoutedBy.HEAD,
        status="rejected",
    )
    theirs = Handoff.objects.create(
        contact=contact, trigger="mql", assigned_to=south, routed_by=RoutedBy.HEAD
    )
    client = _client(north)
    panel = _panel(client, f"/crm/contacts/{contact.pk}/")
    assert f"/leads/handoffs/{mine.pk}/" in panel
    assert f"/leads/handoffs/{theirs.pk}/" not in panel
    assert 'id="handoff-form"' not in panel
    assert client.post(f"/leads/contacts/{contact.pk}/handoff/", {}).status_code == 403
    account_panel = _panel(client, f"/crm/accounts/{contact.account_id}/")
    assert f"/leads/handoffs/{mine.pk}/" in account_panel
    assert f"/leads/handoffs/{theirs.pk}/" not in account_panel
    head_panel = _panel(_client(world.user("head")), f"/crm/contacts/{contact.pk}/")
    assert f"/leads/handoffs/{theirs.pk}/" in head_panel


def test_the_api_hands_off_once_and_answers_409_after(world, reps, make_lead, marketer):  # type: ignore[no-untyped-def]
    lead = make_lead(region="west")
    client = _client(marketer)
    url = f"/api/v1/leads/contacts/{lead.pk}/handoff"
    first = client.post(url, {"note": "From the API"}, content_type="application/json")
    assert first.status_code == 201
    assert first.json()["contact_id"] == lead.pk
    assert first.json()["trigger"] == "manual"
    second = client.post(url, {}, content_type="application/json")
    assert second.status_code == 409
    assert second.json()["code"] == "handoff_open"
    rep = _client(world.user("sales_rep", "north"))
    assert rep.post(url, {}, content_type="application/json").status_code in (403, 404)
