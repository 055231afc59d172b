"""The hand-off and dispute pages take their POSTs through Django forms: refused input re-renders
the page with the reason (HTTP 400) and changes nothing; good input calls the service once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import translation

from tandem.core.audit import Actor
from tandem.core.models import Role, User
from tandem.crm.models import Touchpoint
from tandem.leads import disputes, services
from tandem.leads.forms import DisputeDecideForm, DisputeOpenForm, HandoffRejectForm
from tandem.leads.models import Dispute, DisputeMessage, Handoff, Notification

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def handoff(world, reps, make_lead) -> Handoff:
    lead = make_lead(region="west")
    return services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql", now=T0)


def _url(handoff: Handoff, action: str) -> str:
    return f"/leads/handoffs/{handoff.pk}/{action}/"


def test_rejecting_with_reason_other_and_no_details_is_refused_on_the_page(handoff):
    rep = handoff.assigned_to
    response = _client(rep).post(_url(handoff, "reject"), {"reason": "other", "note": ""})
    assert response.status_code == 400
    assert "Say why, when the reason is “other”." in response.content.decode()
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_an_unknown_reason_or_outcome_and_an_overlong_note_are_form_errors(handoff):
    rep = _client(handoff.assigned_to)
    unknown = rep.post(_url(handoff, "reject"), {"reason": "bored", "outcome": "recycle"})
    assert unknown.status_code == 400
    assert "Choose a reason from the list." in unknown.content.decode()
    outcome = rep.post(_url(handoff, "reject"), {"reason": "no_need", "outcome": "burn"})
    assert outcome.status_code == 400
    assert "Choose what happens to the lead." in outcome.content.decode()
    long_note = rep.post(_url(handoff, "reject"), {"reason": "no_need", "note": "x" * 1001})
    assert long_note.status_code == 400
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_a_good_rejection_without_an_outcome_recycles_the_lead(handoff):
    response = _client(handoff.assigned_to).post(
        _url(handoff, "reject"), {"reason": "no_need", "note": "Later this year"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/leads/handoffs/{handoff.pk}/"
    handoff.refresh_from_db()
    assert (handoff.status, handoff.rejection_reason, handoff.rejection_outcome) == (
        "rejected",
        "no_need",
        "recycle",
    )
    assert handoff.rejection_note == "Later this year"


def test_first_contact_needs_a_known_channel(handoff):
    rep = _client(handoff.assigned_to)
    assert rep.post(_url(handoff, "accept")).status_code == 302
    refused = rep.post(_url(handoff, "contacted"), {"channel": "pigeon"})
    assert refused.status_code == 400
    assert "Choose how you contacted the lead." in refused.content.decode()
    assert Handoff.objects.get(pk=handoff.pk).contacted_at is None
    done = rep.post(_url(handoff, "contacted"), {"channel": "meeting", "note": "Coffee"})
    assert done.status_code == 302
    handoff.refresh_from_db()
    assert handoff.contacted_at is not None
    assert Touchpoint.objects.filter(contact=handoff.contact, channel="meeting").count() == 1


def test_recording_first_contact_before_accepting_is_refused_with_the_page(handoff):
    response = _client(handoff.assigned_to).post(_url(handoff, "contacted"), {"channel": "phone"})
    assert response.status_code == 400
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_the_head_assigns_only_an_active_sales_rep(world, reps, handoff):
    head = _client(world.user("head"))
    marketer = world.user("marketer")
    to_marketer = head.post(_url(handoff, "assign"), {"rep": marketer.pk})
    assert to_marketer.status_code == 400
    assert "Choose an active sales rep." in to_marketer.content.decode()
    assert head.post(_url(handoff, "assign"), {"rep": "north"}).status_code == 400
    assert head.post(_url(handoff, "assign"), {}).status_code == 400
    other = next(rep for rep in reps if rep.pk != handoff.assigned_to_id)
    assert head.post(_url(handoff, "assign"), {"rep": other.pk}).status_code == 302
    assert Handoff.objects.get(pk=handoff.pk).assigned_to == other


def test_a_rep_cannot_assign_and_an_unknown_action_is_404(handoff):
    rep = _client(handoff.assigned_to)
    other = User.objects.filter(role=Role.SALES_REP).exclude(pk=handoff.assigned_to_id).first()
    assert other is not None
    assert rep.post(_url(handoff, "assign"), {"rep": other.pk}).status_code == 403
    assert rep.post(_url(handoff, "escalate")).status_code == 404
    assert rep.get(_url(handoff, "accept")).status_code == 405
    assert Handoff.objects.get(pk=handoff.pk).assigned_to_id == handoff.assigned_to_id


def test_another_reps_accept_is_404_and_accepting_twice_says_it_is_not_pending(reps, handoff):
    stranger = next(rep for rep in reps if rep.pk != handoff.assigned_to_id)
    assert _client(stranger).post(_url(handoff, "accept")).status_code == 404
    rep = _client(handoff.assigned_to)
    assert rep.post(_url(handoff, "accept")).status_code == 302
    again = rep.post(_url(handoff, "accept"))
    assert again.status_code == 400
    assert Handoff.objects.get(pk=handoff.pk).status == "accepted"


def test_opening_a_dispute_without_a_summary_re_renders_the_handoff(handoff):
    rep = _client(handoff.assigned_to)
    response = rep.post(
        "/leads/disputes/new/", {"handoff": handoff.pk, "subject": "handoff", "summary": ""}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A summary of 1 to 500 characters is required." in html
    assert "Hand-off" in html
    too_long = rep.post(
        "/leads/disputes/new/",
        {"handoff": handoff.pk, "subject": "handoff", "summary": "x" * 501},
    )
    assert too_long.status_code == 400
    assert not Dispute.objects.exists()


def test_a_dispute_about_a_contact_refused_is_a_400_that_says_why(handoff):
    rep = _client(handoff.assigned_to)
    bad = rep.post(
        "/leads/disputes/new/",
        {"contact": handoff.contact_id, "subject": "gossip", "summary": "Who owns this?"},
    )
    assert bad.status_code == 400
    assert "Choose what the dispute is about." in bad.content.decode()
    nothing = rep.post("/leads/disputes/new/", {"subject": "handoff", "summary": "About?"})
    assert nothing.status_code == 400
    assert "Say which hand-off or contact" in nothing.content.decode()
    assert rep.post("/leads/disputes/new/", {"handoff": "x", "summary": "s"}).status_code == 400
    assert not Dispute.objects.exists()
    good = rep.post(
        "/leads/disputes/new/",
        {
            "contact": handoff.contact_id,
            "subject": "lead_quality",
            "summary": "Who owns this?",
            "body": "First message",
        },
    )
    assert good.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.target == handoff.contact
    assert list(dispute.messages.values_list("body", flat=True)) == ["First message"]


def test_a_dispute_about_an_invisible_handoff_is_404(reps, handoff):
    stranger = next(rep for rep in reps if rep.pk != handoff.assigned_to_id)
    response = _client(stranger).post(
        "/leads/disputes/new/", {"handoff": handoff.pk, "subject": "handoff", "summary": "Mine"}
    )
    assert response.status_code == 404
    assert not Dispute.objects.exists()


@pytest.fixture
def dispute(handoff) -> Dispute:
    return disputes.dispute_open(
        actor=Actor(user=handoff.assigned_to),
        subject="handoff",
        target=handoff,
        summary="Already a customer",
    )


def test_an_empty_or_overlong_message_is_refused_on_the_thread(dispute, handoff):
    rep = _client(handoff.assigned_to)
    url = f"/leads/disputes/{dispute.pk}/"
    empty = rep.post(url, {"body": "   "})
    assert empty.status_code == 400
    assert "Write a message." in empty.content.decode()
    assert rep.post(url, {"body": "x" * 5001}).status_code == 400
    assert not DisputeMessage.objects.exists()
    assert rep.post(url, {"body": "Here is the proof"}).status_code == 302
    assert list(DisputeMessage.objects.values_list("body", flat=True)) == ["Here is the proof"]


def test_a_decision_needs_an_outcome_and_words_and_only_the_head_decides(world, dispute, handoff):
    head = _client(world.user("head"))
    url = f"/leads/disputes/{dispute.pk}/"
    no_words = head.post(url, {"action": "decide", "outcome": "upheld", "decision": ""})
    assert no_words.status_code == 400
    assert "Write the decision." in no_words.content.decode()
    bad_outcome = head.post(url, {"action": "decide", "outcome": "maybe", "decision": "Hmm"})
    assert bad_outcome.status_code == 400
    assert "Choose an outcome." in bad_outcome.content.decode()
    assert Dispute.objects.get().status == "open"
    rep = _client(handoff.assigned_to)
    assert (
        rep.post(url, {"action": "decide", "outcome": "upheld", "decision": "Mine"}).status_code
        == 403
    )
    assert (
        head.post(url, {"action": "decide", "outcome": "upheld", "decision": "Yes"}).status_code
        == 302
    )
    again = head.post(url, {"action": "decide", "outcome": "dismissed", "decision": "No"})
    assert again.status_code == 400
    decided = Dispute.objects.get()
    assert (decided.status, decided.outcome, decided.decision) == ("decided", "upheld", "Yes")


def test_a_mention_reaches_the_notifications_page(world, dispute, handoff):
    head = world.user("head")
    _client(handoff.assigned_to).post(
        f"/leads/disputes/{dispute.pk}/", {"body": f"@{head.username} please decide"}
    )
    assert Notification.objects.filter(user=head).count() >= 1
    page = _client(head).get("/leads/notifications/")
    assert page.status_code == 200
    assert str(dispute.target_label) in page.content.decode() or "mentioned" in (
        page.content.decode()
    )


def test_the_lead_quality_page_follows_the_capability(world, handoff):
    assert _client(world.user("marketer")).get("/leads/quality/").status_code == 200
    assert _client(world.user("head")).get("/leads/quality/?by=channel").status_code == 200
    assert _client(handoff.assigned_to).get("/leads/quality/").status_code == 403
    assert _client(world.user("field_rep")).get("/leads/quality/").status_code == 403


def test_the_forms_refuse_in_russian_too():
    with translation.override("ru"):
        decide = DisputeDecideForm({"outcome": "upheld", "decision": ""})
        assert decide.errors["decision"] == ["Напишите решение."]
        reject = HandoffRejectForm({"reason": "no_need", "outcome": "burn"})
        assert reject.errors["outcome"] == ["Выберите, что будет с лидом."]  # noqa: RUF001
        opened = DisputeOpenForm({"subject": "handoff", "summary": "Кто владелец?"})
        assert opened.errors["__all__"] == ["Укажите, о какой передаче или каком контакте спор."]  # noqa: RUF001
