"""The cockpit's alerts and lead-quality feedback: a step converting clearly worse than in the
previous period of the same length, reps with hand-offs past their deadline, rejection reasons."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.insights.tests.conftest import Company
from tandem.leads.lifecycle import lifecycle_move
from tandem.leads.models import Handoff


def _leads(company: Company, start: dt.datetime, converting: bool, tag: str) -> None:
    for n in range(10):
        contact = crm.contact_create(
            actor=Actor.system(),
            first_name=tag,
            last_name=str(n),
            email=f"{tag}{n}@funnel.example.com",
            lifecycle_stage="subscriber",
        )
        at = start + dt.timedelta(hours=n)
        lifecycle_move(actor=Actor.system(), contact=contact, stage="lead", reason="form", at=at)
        if converting:
            lifecycle_move(
                actor=Actor.system(),
                contact=contact,
                stage="mql",
                reason="score",
                at=at + dt.timedelta(days=2),
            )


def test_a_step_converting_worse_than_the_previous_period_raises_an_alert(
    company: Company,
) -> None:
    now = timezone.now()
    _leads(company, now - dt.timedelta(days=48), converting=True, tag="before")
    _leads(company, now - dt.timedelta(days=35), converting=False, tag="now")
    window = {  # before the company's own records, made today
        "from": (company.today - dt.timedelta(days=39)).isoformat(),
        "to": (company.today - dt.timedelta(days=30)).isoformat(),
    }
    got = company.client("head").get("/api/v1/insights/summary", window).json()
    conversion = [a["text"] for a in got["alerts"] if a["kind"] == "conversion"]
    assert conversion == [
        "Lead converts 0 % to the next step, down from 100 % in the previous period."
    ]
    steps = {s["stage"]: s for s in got["funnel"]}
    assert (steps["lead"]["entered"], steps["lead"]["converted_to_next"]) == (10, 0)
    before = {
        "from": (company.today - dt.timedelta(days=49)).isoformat(),
        "to": (company.today - dt.timedelta(days=40)).isoformat(),
    }
    earlier = company.client("head").get("/api/v1/insights/summary", before).json()
    lead = {s["stage"]: s for s in earlier["funnel"]}["lead"]
    assert (lead["entered"], lead["converted_to_next"], lead["median_days"]) == (10, 10, 2.0)


def test_hand_offs_past_their_deadline_raise_an_alert_per_rep(company: Company) -> None:
    pending = company.handoffs[1]
    Handoff.objects.filter(pk=pending.pk).update(
        accept_due_at=timezone.now() - dt.timedelta(hours=1)
    )
    got = company.client("head").get("/api/v1/insights/summary", company.quarter_ish).json()
    assert got["sla"]["sales"]["breaching_now"] == 1
    assert [a["text"] for a in got["alerts"]] == [
        "sales_rep_north has 1 open hand-off past its deadline."
    ]
    client = company.client("head")
    assert 'data-alert="sla"' in client.get("/insights/").content.decode()
    client.post("/language/", {"language": "ru"})
    page = client.get("/insights/").content.decode()
    assert "У sales_rep_north 1 открытая передача с истёкшим сроком." in page  # noqa: RUF001


def test_rejection_reasons_are_fed_back(company: Company) -> None:
    got = company.client("marketer").get("/api/v1/insights/summary", company.quarter_ish).json()
    assert got["sla"]["marketing"]["rejection_reasons"] == {"no_budget": 1}
    page = company.client("head").get("/insights/").content.decode()
    assert "No budget" in page
    assert 'href="/leads/quality/"' in page
    rep_page = company.client("sales_rep").get("/insights/").content.decode()
    assert 'href="/leads/quality/"' not in rep_page  # reps may not open lead quality
