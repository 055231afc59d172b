"""A head's decision changes the record: credit for a deal is adjusted beside the model's credit
in attribution's page, API and export; an upheld lead-quality dispute recycles the lead and
counts against its campaign; an ownership decision hands the record to a side. Both sides are
told, the record's timeline shows the dispute, and bad decisions are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.http import Http404
from django.test import Client

from tandem.attribution.models import CreditAdjustment
from tandem.attribution.tests.test_journeys import build_timeline
from tandem.core.access import get_scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.leads import disputes, selectors, services
from tandem.leads.models import Dispute, Notification, StageHistory

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-02-01", "end": "2026-03-01", "model": "linear", "unit": "account"}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _department(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    return {r["name"]: (round(r["model_conversions"], 6), round(r["conversions"], 6)) for r in rows}


# --- credit for a deal ----------------------------------------------------------------------


@pytest.fixture
def credit_dispute(world) -> tuple[Dispute, dict[str, Any]]:
    timeline = build_timeline(world)
    dispute = disputes.dispute_open(
        actor=Actor(user=world.user("field_rep")),
        subject="deal_credit",
        target=timeline["deal"],
        summary="My visit closed this deal",
    )
    return dispute, timeline


def test_a_credit_decision_shows_beside_the_models_credit_in_page_api_and_export(
    world, credit_dispute, run_background
):
    dispute, timeline = credit_dispute
    head = _client(world.user("head"))
    before = run_background(head.get, "/api/v1/attribution/credit", PERIOD).json()
    assert before["department_adjusted"]["adjustments"] == []
    response = head.post(
        f"/leads/disputes/{dispute.pk}/",
        {
            "action": "decide",
            "outcome": "split",
            "decision": "Field and sales share it.",
            "share_sales": "50",
            "share_field": "50",
        },
    )
    assert response.status_code == 302
    adjustment = CreditAdjustment.objects.get()
    assert (adjustment.deal, adjustment.dispute) == (timeline["deal"], dispute)
    assert adjustment.shares == {"marketing": 0.0, "sales": 0.5, "field": 0.5, "self_service": 0.0}
    assert AuditEntry.objects.filter(model="attribution.CreditAdjustment").count() == 1

    body = run_background(head.get, "/api/v1/attribution/credit", PERIOD).json()
    # the model's credit is untouched; the adjusted credit moves marketing's half to field
    assert {r["name"]: r["conversions"] for r in body["credits"]["department"]} == {
        "marketing": 0.5,
        "sales": 0.5,
    }
    adjusted = body["department_adjusted"]
    assert _department(adjusted["rows"]) == {
        "marketing": (0.5, 0.0),
        "sales": (0.5, 0.5),
        "field": (0.0, 0.5),
    }
    [decision] = adjusted["adjustments"]
    assert decision["decision_url"] == f"/leads/disputes/{dispute.pk}/"
    assert decision["model_shares"] == {"marketing": 0.5, "sales": 0.5}
    assert decision["shares"] == {"sales": 0.5, "field": 0.5}

    page = run_background(head.get, "/attribution/", PERIOD).content.decode()
    assert 'id="adjusted-credit"' in page
    assert f'href="/leads/disputes/{dispute.pk}/"' in page
    assert '<tr data-department="field"><td>field</td><td class="model">0.00</td>' in page

    export = head.get("/attribution/export.csv", PERIOD).content.decode("utf-8-sig")
    assert "department_adjusted,field,0.5" in export
    assert f"/leads/disputes/{dispute.pk}/" in export

    thread = head.get(f"/leads/disputes/{dispute.pk}/").content.decode()
    assert "Field 50 %" in thread
    assert "Sales 50 %" in thread


def test_credit_shares_that_do_not_add_up_are_refused_on_the_page_and_in_the_api(
    world, credit_dispute
):
    dispute, _timeline = credit_dispute
    head = _client(world.user("head"))
    page = head.post(
        f"/leads/disputes/{dispute.pk}/",
        {"action": "decide", "outcome": "upheld", "decision": "x", "share_field": "90"},
    )
    assert page.status_code == 400
    assert "The shares must add up to 100 per cent." in page.content.decode()
    missing = head.post(
        f"/leads/disputes/{dispute.pk}/", {"action": "decide", "outcome": "upheld", "decision": "x"}
    )
    assert "Give each department&#x27;s share of the deal." in missing.content.decode()
    api = head.post(
        f"/api/v1/leads/disputes/{dispute.pk}/decide",
        {"outcome": "split", "decision": "x", "shares": {"sales": 0.5, "weather": 0.5}},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert api.json()["details"]["shares"] == ["weather is not a department."]
    owner = head.post(
        f"/api/v1/leads/disputes/{dispute.pk}/decide",
        {"outcome": "dismissed", "decision": "x", "new_owner_id": world.user("sales_rep").pk},
        content_type="application/json",
    )
    assert owner.status_code == 400
    assert "new_owner_id" in owner.json()["details"]
    assert Dispute.objects.get(pk=dispute.pk).status == "open"
    assert not CreditAdjustment.objects.exists()


def test_a_rep_cannot_decide(world, credit_dispute):
    dispute, _timeline = credit_dispute
    rep = _client(world.user("field_rep"))
    page = rep.post(
        f"/leads/disputes/{dispute.pk}/",
        {"action": "decide", "outcome": "upheld", "decision": "mine", "share_field": "100"},
    )
    assert page.status_code == 403
    api = rep.post(
        f"/api/v1/leads/disputes/{dispute.pk}/decide",
        {"outcome": "upheld", "decision": "mine", "shares": {"field": 1}},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert Dispute.objects.get(pk=dispute.pk).status == "open"


# --- lead quality ---------------------------------------------------------------------------


@pytest.fixture
def accepted_lead(world, reps, make_lead) -> Any:
    lead = make_lead(region="west")
    crm.touchpoint_record(
        channel="email",
        kind="email_click",
        department="marketing",
        contact=lead,
        campaign="spring-webinar",
        occurred_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    handoff = services.handoff_create(actor=Actor.system(), contact=lead, trigger="mql")
    services.handoff_accept(actor=Actor(user=handoff.assigned_to), handoff=handoff)
    handoff.refresh_from_db()
    return handoff


def _spring(user: Any) -> selectors.QualityRow:
    return next(r for r in selectors.lead_quality(user) if r.value == "spring-webinar")


def test_an_upheld_lead_quality_dispute_recycles_the_lead_and_counts_against_its_campaign(
    world, accepted_lead
):
    rep, marketer = accepted_lead.assigned_to, world.user("marketer")
    contact = accepted_lead.contact
    assert (_spring(marketer).quality_rate, _spring(marketer).upheld_disputes) == (1.0, 0)
    opened = _client(rep).post(
        "/api/v1/leads/disputes",
        {
            "record_type": "contact",
            "record_id": contact.pk,
            "subject": "lead_quality",
            "summary": "A student, not a buyer",
            "body": "@marketer_north please check the webinar list",
        },
        content_type="application/json",
    )
    assert opened.status_code == 201, opened.content
    dispute_id = opened.json()["id"]
    decided = _client(world.user("head")).post(
        f"/api/v1/leads/disputes/{dispute_id}/decide",
        {"outcome": "upheld", "decision": "Not a buyer; back to nurture."},
        content_type="application/json",
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "decided"
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "recycled"
    last = StageHistory.objects.filter(contact=contact).latest("entered_at", "id")
    assert (last.stage, last.left_at) == ("recycled", None)
    assert f"#{dispute_id}" in last.reason
    row = _spring(marketer)
    assert (row.accepted, row.upheld_disputes, row.quality_rate) == (1, 1, 0.0)
    assert row.acceptance_rate == 1.0
    page = _client(marketer).get("/leads/quality/").content.decode()
    assert '<td class="upheld">1</td>' in page
    assert '<td class="quality">0%</td>' in page
    # both sides are told: the marketer (mentioned) and the rep who opened it
    assert Notification.objects.filter(kind="dispute_decided", user=rep).count() == 1
    assert Notification.objects.filter(kind="dispute_decided", user=marketer).count() == 1
    # the dispute's rows stay out of lead quality, scoring and the first-contact clock
    assert Touchpoint.objects.filter(contact=contact, channel="dispute").count() == 2


def test_a_customer_cannot_be_recycled_by_a_dispute(world, accepted_lead):
    contact = accepted_lead.contact
    for stage in ("sql", "opportunity", "customer"):
        services.lifecycle_move(actor=Actor.system(), contact=contact, stage=stage, reason="won")
    dispute = disputes.dispute_open(
        actor=Actor(user=accepted_lead.assigned_to),
        subject="lead_quality",
        target=contact,
        summary="Bad lead",
    )
    with pytest.raises(InvalidInput) as exc:
        disputes.dispute_decide(
            actor=Actor(user=world.user("head")), dispute=dispute, outcome="upheld", decision="y"
        )
    assert set(exc.value.errors) == {"outcome"}
    assert Dispute.objects.get(pk=dispute.pk).status == "open"


# --- ownership ------------------------------------------------------------------------------


def test_an_ownership_decision_hands_the_record_to_a_side_and_scopes_follow(world):
    account = world.accounts[("sales_rep", "north")]
    north, south = world.user("sales_rep"), world.user("sales_rep", "south")
    marketer, head = world.user("marketer"), world.user("head")
    with pytest.raises(Http404):
        get_scoped(south, Account, account.pk)
    page = _client(marketer).get(f"/leads/disputes/new/?account={account.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="ownership">Ownership</option>' in html
    assert "lead_quality" not in html
    created = _client(marketer).post(
        "/leads/disputes/new/",
        {
            "account": account.pk,
            "subject": "ownership",
            "summary": "South has worked this account for months",
            "body": "@sales_rep_south ran every meeting",
        },
    )
    assert created.status_code == 302
    dispute = Dispute.objects.get()
    assert set(dispute.participants.all()) == {marketer, north, south}
    assert Notification.objects.filter(user=north, kind="dispute_opened").count() == 1
    not_a_side = _client(head).post(
        f"/leads/disputes/{dispute.pk}/",
        {
            "action": "decide",
            "outcome": "upheld",
            "decision": "x",
            "new_owner": world.user("field_rep").pk,
        },
    )
    assert not_a_side.status_code == 400
    assert "Choose one of the sides of the dispute." in not_a_side.content.decode()
    decided = _client(head).post(
        f"/leads/disputes/{dispute.pk}/",
        {
            "action": "decide",
            "outcome": "upheld",
            "decision": "South owns it.",
            "new_owner": south.pk,
        },
    )
    assert decided.status_code == 302
    account.refresh_from_db()
    assert account.owner == south
    assert Dispute.objects.get().new_owner == south
    assert AuditEntry.objects.filter(
        model="crm.Account", object_id=str(account.pk), action="update"
    ).exists()
    assert get_scoped(south, Account, account.pk) == account
    with pytest.raises(Http404):
        get_scoped(north, Account, account.pk)
    assert _client(south).get(f"/crm/accounts/{account.pk}/").status_code == 200
    for person in (north, south, marketer):
        assert Notification.objects.filter(user=person, kind="dispute_decided").count() == 1
    # the account's page: the thread, its decision and the timeline's dispute entries
    shown = _client(head).get(f"/crm/accounts/{account.pk}/").content.decode()
    assert 'id="record-disputes"' in shown
    assert "ran every meeting" in shown
    assert "Dispute opened" in shown
    assert "Dispute decided" in shown
    head.language = "ru"
    head.save(update_fields=["language"])
    russian = _client(head).get(f"/crm/accounts/{account.pk}/", HTTP_ACCEPT_LANGUAGE="ru")
    text = russian.content.decode()
    assert "Спор открыт" in text
    assert "Спор решён" in text


def test_subjects_must_suit_the_record(world):
    contact: Contact = world.contacts[("sales_rep", "north")]
    rep = _client(world.user("sales_rep"))
    wrong = rep.post(
        "/api/v1/leads/disputes",
        {
            "record_type": "contact",
            "record_id": contact.pk,
            "subject": "deal_credit",
            "summary": "x",
        },
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert "subject" in wrong.json()["details"]
    unseen = _client(world.user("sales_rep", "south")).post(
        "/api/v1/leads/disputes",
        {"record_type": "contact", "record_id": contact.pk, "subject": "ownership", "summary": "x"},
        content_type="application/json",
    )
    assert unseen.status_code == 404
    assert not Dispute.objects.exists()
    page = rep.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert f'href="/leads/disputes/new/?contact={contact.pk}"' in page
