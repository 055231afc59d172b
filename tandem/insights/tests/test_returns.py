"""Campaign return and the content that influenced the most revenue: the same credit as the
attribution API gives for the period and model, against the campaign's cost lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.insights.tests.conftest import Company
from tandem.marketing.campaigns import services as campaigns


def test_campaign_return_and_top_content_follow_the_attribution_credit(
    company: Company, run_background: Any
) -> None:
    marketer = Actor(user=company.user("marketer"))
    spring = campaigns.campaign_create(actor=marketer, name="Spring push", utm_code="spring-push")
    campaigns.cost_add(
        actor=marketer, campaign=spring, channel="email", amount="200", incurred_on=company.today
    )
    campaigns.cost_add(  # long before the period: not counted
        actor=marketer,
        campaign=spring,
        channel="email",
        amount="999",
        incurred_on=company.today - dt.timedelta(days=300),
    )
    crm.touchpoint_record(
        channel="email_newsletter",
        kind="newsletter clicked",
        department="marketing",
        contact=company.world.contacts[("sales_rep", "north")],
        campaign="Spring-Push",
        content="Price list 2026",
        occurred_at=timezone.now() - dt.timedelta(days=1),
    )
    window = company.quarter_ish
    head = company.client("head")
    got = run_background(head.get, "/api/v1/insights/summary", window).json()
    credit = run_background(
        head.get,
        "/api/v1/attribution/credit",
        {"model": "linear", "start": window["from"], "end": window["to"], "conversion": "deal_won"},
    ).json()["credits"]
    campaign_value = {r["name"]: r["value"] for r in credit["campaign"]}["Spring-Push"]
    content_value = {r["name"]: r["value"] for r in credit["content"]}["Price list 2026"]
    assert campaign_value > 0
    assert got["campaign_returns"] == [
        {
            "campaign_id": spring.pk,
            "name": "Spring push",
            "cost": "200.00",
            "revenue": campaign_value,
            "roi": (campaign_value - 200) / 200,
        }
    ]
    assert got["top_content"][0]["name"] == "Price list 2026"
    assert got["top_content"][0]["revenue"] == content_value
    assert Decimal(got["revenue_won"]) == Decimal("1500.00")
    page = run_background(head.get, "/insights/").content.decode()
    assert f'href="/marketing/campaigns/{spring.pk}/"' in page
    assert "Price list 2026" in page
    rep = company.client("sales_rep").get("/api/v1/insights/summary", window).json()
    assert rep["campaign_returns"] == []  # reps see no campaigns
