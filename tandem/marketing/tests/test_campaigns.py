"""Campaigns: plan validation, cost lines (typed and CSV), and the campaign report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads import services as leads
from tandem.leads.models import HandoffTrigger
from tandem.marketing.campaigns import services
from tandem.marketing.campaigns.report import campaign_report
from tandem.marketing.models import Campaign, CampaignCost
from tandem.sales import services as sales

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


def _campaign(**extra: object) -> Campaign:
    data: dict[str, object] = {
        "name": "Spring launch",
        "goal": "200 MQLs",
        "channels": ["email", "linkedin"],
        "budget": "1000",
        "starts_on": "2026-03-01",
        "ends_on": "2026-04-30",
        "utm_code": "Spring Launch 2026",
    }
    data.update(extra)
    return services.campaign_create(actor=SYSTEM, **data)


def test_plan_is_validated_and_utm_code_unique(world: World) -> None:
    campaign = _campaign(owner_id=world.user("marketer").pk)
    assert campaign.utm_code == "spring-launch-2026"
    assert campaign.budget == Decimal("1000.00")
    assert AuditEntry.objects.filter(model="marketing.Campaign", action="create").count() == 1
    with pytest.raises(InvalidInput) as dup:
        _campaign(name="Other")
    assert list(dup.value.errors) == ["utm_code"]
    with pytest.raises(InvalidInput) as bad:
        services.campaign_create(
            actor=SYSTEM,
            name="",
            channels=["fax"],
            budget="-5",
            starts_on="2026-05-01",
            ends_on="2026-04-01",
        )
    assert set(bad.value.errors) == {"name", "channels", "budget", "ends_on", "utm_code"}
    assert Campaign.objects.count() == 1


def test_cost_import_reports_rows_and_keeps_valid_ones(world: World) -> None:
    campaign = _campaign()
    services.cost_add(
        actor=SYSTEM, campaign=campaign, channel="email", amount="100.50", incurred_on="2026-03-02"
    )
    data = (
        "\ufeffChannel,Amount,Date,Note\r\n"
        "linkedin,250,2026-03-03,ads\r\n"
        "fax,10,2026-03-03,\r\n"
        "email,abc,2026-03-04,\r\n"
        'email,"1 000,25",2026-03-05,agency\r\n'
        "linkedin,5,yesterday,\r\n"
    ).encode()
    report = services.costs_import(actor=SYSTEM, campaign=campaign, data=data)
    assert report.imported == 2
    assert [row for row, _reason in report.errors] == [3, 4, 6]
    assert report.errors[0][1].startswith("channel:")
    amounts = sorted(CampaignCost.objects.values_list("amount", flat=True))
    assert amounts == [Decimal("100.50"), Decimal("250.00"), Decimal("1000.25")]
    with pytest.raises(InvalidInput) as missing:
        services.costs_import(actor=SYSTEM, campaign=campaign, data=b"channel,total\nemail,5\n")
    assert missing.value.errors["file"] == ["Missing columns: amount, date."]
    with pytest.raises(InvalidInput):
        services.costs_import(actor=SYSTEM, campaign=campaign, data=b"\xff\xfe\x00c")
    assert CampaignCost.objects.count() == 3


def test_report_counts_reach_leads_handoffs_pipeline_and_roi(world: World) -> None:
    campaign = _campaign(utm_code="spring")
    services.cost_add(
        actor=SYSTEM, campaign=campaign, channel="email", amount="400", incurred_on="2026-03-02"
    )
    services.cost_add(
        actor=SYSTEM, campaign=campaign, channel="linkedin", amount="100", incurred_on="2026-03-02"
    )
    now = timezone.now()
    old = world.contacts[("sales_rep", "north")]
    Contact.objects.filter(pk=old.pk).update(
        created_at=now - dt.timedelta(days=60), lifecycle_stage=LifecycleStage.SUBSCRIBER
    )
    old.refresh_from_db()
    other = world.contacts[("sales_rep", "south")]
    Contact.objects.filter(pk=other.pk).update(created_at=now - dt.timedelta(days=60))
    touch = crm.touchpoint_record
    touch(
        channel="email",
        kind="email_opened",
        department="marketing",
        contact=old,
        campaign="spring",
        occurred_at=now - dt.timedelta(days=3),
    )
    touch(
        channel="email",
        kind="email_clicked",
        department="marketing",
        contact=old,
        campaign="spring",
        occurred_at=now - dt.timedelta(days=3),
    )
    touch(
        channel="linkedin",
        kind="link_click",
        department="marketing",
        contact=other,
        campaign="spring",
        occurred_at=now - dt.timedelta(days=2),
    )
    touch(
        channel="email",
        kind="email_clicked",
        department="marketing",
        contact=other,
        campaign="spring",
        is_bot=True,
    )
    touch(
        channel="email",
        kind="email_opened",
        department="marketing",
        contact=other,
        campaign="another",
    )
    fresh = crm.contact_create(actor=SYSTEM, first_name="New", email="new@fresh.example")
    touch(
        channel="webinar",
        kind="webinar_registered",
        department="marketing",
        contact=fresh,
        campaign="spring",
    )
    leads.lifecycle_move(actor=SYSTEM, contact=old, stage="lead", reason="campaign")
    leads.handoff_create(actor=SYSTEM, contact=old, trigger=HandoffTrigger.MANUAL)
    sales.pipeline_create(
        actor=SYSTEM,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    rep = world.user("sales_rep", "north")
    open_deal = sales.deal_create(
        actor=Actor(user=rep), name="Open", amount="700", contacts=[{"contact_id": old.pk}]
    )
    won = sales.deal_create(actor=SYSTEM, name="Won", amount="1500", account_id=other.account_id)
    sales.deal_win(actor=SYSTEM, deal=won)
    sales.deal_create(actor=SYSTEM, name="Untouched", amount="9999")
    assert open_deal.status == "open"

    report = campaign_report(world.user("marketer"), campaign)
    assert report.reach == 3
    assert report.engagement == [
        ("email_clicked", 1),
        ("email_opened", 1),
        ("link_click", 1),
        ("webinar_registered", 1),
    ]
    # leads (docs/marketing.md): the old contact, who became a lead after the campaign's touch;
    # the new one and `other` (a lead whose first touchpoint, two days ago, is the campaign's)
    assert report.leads == 3
    assert report.handoffs == 1
    assert report.pipeline == Decimal("700.00")
    assert report.won_revenue == Decimal("1500.00")
    assert report.cost == Decimal("500.00")
    assert report.cost_by_channel == [("email", Decimal("400.00")), ("linkedin", Decimal("100.00"))]
    assert report.revenue_source == "deals"
    assert report.roi == Decimal("2.0000")  # (1500 - 500) / 500

    # a rep sees no campaign at all
    client = Client()
    client.login(username="sales_rep_north", password=PASSWORD)
    assert client.get(f"/marketing/campaigns/{campaign.pk}/").status_code == 404
    client.login(username="marketer_north", password=PASSWORD)
    page = client.get(f"/marketing/campaigns/{campaign.pk}/")
    assert page.status_code == 200
    assert '<td id="reach">3</td>' in page.content.decode()
    assert '<td id="roi">200% <small>' in page.content.decode()  # a ratio shown as a percentage


def test_pages_create_campaign_and_import_costs(world: World) -> None:
    client = Client()
    client.login(username="marketer_north", password=PASSWORD)
    bad = client.post("/marketing/campaigns/new", {"name": "", "budget": "x"})
    assert bad.status_code == 400
    assert Campaign.objects.count() == 0
    response = client.post(
        "/marketing/campaigns/new",
        {"name": "Autumn", "channels": ["email", "vk"], "budget": "50", "utm_code": "autumn"},
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert campaign.channels == ["email", "vk"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("c.csv", b"channel,amount,date\nvk,12.5,2026-09-01\nvk,,\n")
    page = client.post(f"/marketing/campaigns/{campaign.pk}/costs/import", {"file": upload})
    assert page.status_code == 200
    assert "Imported 1 rows, skipped 1." in page.content.decode()
    assert list(campaign.costs.values_list("amount", flat=True)) == [Decimal("12.50")]
