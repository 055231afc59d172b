"""Pages and API through real clients: scoped hand-offs, accept/reject, scores, feedback both
ways (lead quality for marketing, what marketing sent for sales), the dispute queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.leads import disputes, selectors, services
from tandem.leads.models import ContactScore, Handoff
from tandem.leads.scoring import score_contacts, score_rule_create, scoring_model_create

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def handed(world, reps, make_lead):
    """Three leads touched by campaigns, handed over; one accepted, one rejected."""
    leads = [make_lead(region="west") for _ in range(3)]
    for lead, campaign in zip(
        leads, ["spring-webinar", "spring-webinar", "trade-fair"], strict=True
    ):
        crm.touchpoint_record(
            channel="email",
            kind="email_click",
            department="marketing",
            contact=lead,
            campaign=campaign,
            source="newsletter",
            occurred_at=T0 - dt.timedelta(days=2),
        )
        crm.touchpoint_record(
            channel="website",
            kind="page_view",
            department="marketing",
            contact=lead,
            campaign="bot-traffic",
            is_bot=True,
            occurred_at=T0 - dt.timedelta(days=1),
        )
    handoffs = [
        services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql", now=T0) for lead in leads
    ]
    crm.touchpoint_record(
        channel="email",
        kind="email_click",
        department="marketing",
        contact=leads[0],
        campaign="after-handoff",
        occurred_at=T0 + dt.timedelta(days=1),
    )
    owner = {h.pk: h.assigned_to for h in handoffs}
    services.handoff_accept(actor=Actor(user=owner[handoffs[0].pk]), handoff=handoffs[0])
    services.handoff_reject(
        actor=Actor(user=owner[handoffs[1].pk]),
        handoff=handoffs[1],
        reason="no_need",
        outcome="recycle",
    )
    return handoffs


def test_lead_quality_by_campaign_counts_only_touches_before_the_handoff(world, handed):
    rows = selectors.lead_quality(world.user("marketer"), "campaign")
    summary = [
        (r.value, r.handoffs, r.accepted, r.rejected, r.acceptance_rate, dict(r.reasons))
        for r in rows
    ]
    assert summary == [
        ("spring-webinar", 2, 1, 1, 0.5, {"no_need": 1}),
        ("trade-fair", 1, 0, 0, None, {}),
    ]
    by_channel = selectors.lead_quality(world.user("marketer"), "channel")
    assert [(r.value, r.handoffs) for r in by_channel] == [("email", 3)]
    assert [
        (r.value, r.handoffs) for r in selectors.lead_quality(world.user("head"), "source")
    ] == [("newsletter", 3)]


def test_marketing_sla_against_the_monthly_target(world, handed):
    from tandem.leads.models import MqlTarget

    MqlTarget.objects.create(month=dt.date(2025, 3, 1), target=4)
    sla = selectors.marketing_sla(world.user("head"), dt.date(2025, 3, 1))
    assert (sla.delivered, sla.accepted, sla.rejected, sla.target) == (3, 1, 1, 4)
    assert (sla.acceptance_rate, sla.attainment) == (0.5, 0.75)
    assert selectors.marketing_sla(world.user("head"), dt.date(2025, 4, 1)).delivered == 0


def test_the_rep_sees_what_marketing_sent_before_the_handoff(world, reps, handed):
    handoff = handed[0]
    rep = handoff.assigned_to
    page = _client(rep).get(f"/leads/handoffs/{handoff.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "spring-webinar" in html
    assert "after-handoff" not in html
    sent = selectors.marketing_sent(rep, handoff)
    assert [(t.kind, t.campaign) for t in sent] == [
        ("page_view", "bot-traffic"),
        ("email_click", "spring-webinar"),
    ]


def test_my_handoffs_page_is_scoped_and_accept_works(world, reps, make_lead):
    handoff = services.handoff_create(actor=SYSTEM, contact=make_lead(region="west"), trigger="mql")
    rep = handoff.assigned_to
    other = next(r for r in reps if r != rep)
    page = _client(rep).get("/leads/handoffs/")
    assert page.status_code == 200
    assert "Lead 1" in page.content.decode()
    assert "business h left" in page.content.decode()
    assert "Lead 1" not in _client(other).get("/leads/handoffs/").content.decode()
    assert _client(other).get(f"/leads/handoffs/{handoff.pk}/").status_code == 404
    assert (
        _client(world.user("marketer")).post(f"/leads/handoffs/{handoff.pk}/accept/").status_code
        == 404
    )  # may see, not change
    response = _client(rep).post(
        f"/leads/handoffs/{handoff.pk}/reject/", {"reason": "", "outcome": "recycle"}
    )
    assert response.status_code == 400
    assert "Choose a reason from the list." in response.content.decode()
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"
    response = _client(rep).post(f"/leads/handoffs/{handoff.pk}/accept/")
    assert response.status_code == 302
    assert Handoff.objects.get(pk=handoff.pk).status == "accepted"


def test_api_lists_accepts_and_rejects(world, reps, make_lead):
    first = services.handoff_create(actor=SYSTEM, contact=make_lead(region="west"), trigger="mql")
    second = services.handoff_create(actor=SYSTEM, contact=make_lead(region="west"), trigger="mql")
    rep = first.assigned_to
    api = _client(rep)
    listed = api.get("/api/v1/leads/handoffs").json()
    assert [h["id"] for h in listed] == [h.pk for h in (second, first) if h.assigned_to == rep]
    assert len(_client(world.user("marketer")).get("/api/v1/leads/handoffs").json()) == 2
    assert _client(world.user("field_rep")).get("/api/v1/leads/handoffs").json() == []
    accepted = api.post(f"/api/v1/leads/handoffs/{first.pk}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    again = api.post(f"/api/v1/leads/handoffs/{first.pk}/accept")
    assert again.status_code == 409
    bad = api.post(
        f"/api/v1/leads/handoffs/{first.pk}/reject",
        {"reason": "weather"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "reason" in bad.json()["details"]
    ok = api.post(
        f"/api/v1/leads/handoffs/{first.pk}/reject",
        {"reason": "not_a_fit", "note": "Reseller", "outcome": "disqualify"},
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["rejection_outcome"]) == ("rejected", "disqualify")
    marketer = _client(world.user("marketer"))
    assert marketer.post(f"/api/v1/leads/handoffs/{second.pk}/accept").status_code == 403
    assert api.get("/api/v1/leads/handoffs/999999").status_code == 404


def test_api_scores_follow_contact_visibility(world, reps):
    model = scoring_model_create(actor=SYSTEM, name="Default", mql_threshold=80)
    score_rule_create(
        actor=SYSTEM,
        scoring_model=model,
        kind="engagement",
        field="touchpoint.kind",
        value="page_view",
        points=5,
    )
    score_contacts(scoring_model_id=model.pk)
    contact = world.contacts[("sales_rep", "north")]
    scores = _client(reps[0]).get(f"/api/v1/leads/contacts/{contact.pk}/scores")
    assert scores.status_code == 200
    [score] = scores.json()
    assert (score["fit"], score["mql_threshold"], score["probability"]) == (0.0, 80.0, None)
    assert score["engagement"] == pytest.approx(5.0, abs=0.01)
    assert score["model_auc"] is None  # no predictive model trained yet
    model.predictive_models.create(auc=0.87, is_current=True)
    model.predictive_models.create(auc=0.5, is_current=False)
    [score] = _client(reps[0]).get(f"/api/v1/leads/contacts/{contact.pk}/scores").json()
    assert score["model_auc"] == 0.87
    assert _client(reps[1]).get(f"/api/v1/leads/contacts/{contact.pk}/scores").status_code == 404


def test_dispute_queue_thread_and_decision_pages(world, reps, handed):
    rep = handed[0].assigned_to
    response = _client(rep).post(
        "/leads/disputes/new/",
        {"handoff": handed[0].pk, "subject": "handoff", "summary": "Already our customer"},
    )
    assert response.status_code == 302
    dispute_url = response["Location"]
    head = _client(world.user("head"))
    queue = head.get("/leads/disputes/").content.decode()
    assert "Already our customer" in queue
    head.post(dispute_url, {"body": "@sales_rep_north <b>proof</b>?"})
    page = head.get(dispute_url).content.decode()
    assert "&lt;b&gt;proof&lt;/b&gt;" in page
    assert _client(world.user("marketer", "south")).get(dispute_url).status_code == 404
    head.post(
        dispute_url,
        {"action": "decide", "outcome": "dismissed", "decision": "Credit stays with marketing."},
    )
    page = head.get(dispute_url).content.decode()
    assert "Credit stays with marketing." in page
    assert 'id="decision"' in page
    assert (
        _client(rep)
        .post(dispute_url, {"action": "decide", "outcome": "upheld", "decision": "x"})
        .status_code
        == 403
    )
    assert disputes.Dispute.objects.get().outcome == "dismissed"


def test_lead_quality_page_is_for_marketing_and_the_head(world, handed):
    page = _client(world.user("marketer")).get("/leads/quality/?by=campaign")
    assert page.status_code == 200
    html = page.content.decode()
    assert "spring-webinar" in html
    assert "No need or interest: 1" in html
    assert _client(world.user("sales_rep")).get("/leads/quality/").status_code == 403


def test_deadlines_show_in_the_viewers_time_zone(world, reps, make_lead):
    import time_machine

    from .conftest import FRIDAY_1730_MSK

    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        handoff = services.handoff_create(
            actor=SYSTEM, contact=make_lead(region="west"), trigger="mql"
        )
    html = _client(handoff.assigned_to).get(f"/leads/handoffs/{handoff.pk}/").content.decode()
    assert "March 10, 2025, 12:30 p.m." in html  # Monday 12:30 Moscow time (UTC 09:30)


def test_handoff_page_shows_the_leads_score(world, reps, handed):
    model = scoring_model_create(actor=SYSTEM, name="Default", mql_threshold=80)
    score_rule_create(
        actor=SYSTEM,
        scoring_model=model,
        kind="engagement",
        field="touchpoint.kind",
        value="email_click",
        points=7,
    )
    score_contacts(scoring_model_id=model.pk)
    handoff = handed[0]
    total = ContactScore.objects.get(contact=handoff.contact, scoring_model=model).total
    html = _client(world.user("head")).get(f"/leads/handoffs/{handoff.pk}/").content.decode()
    assert "Engagement" in html
    assert f"<dt>Total</dt><dd>{total:.1f} / 80</dd>" in html
