"""The demo company as loaded: the story in the database, written through the services, in
causal order, identical for the same seed, and one the attribution engine can read back."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import pytest
from django.db.models import F, Max, Min
from django.utils import timezone
from scipy.stats import spearmanr

from tandem.attribution.engine import markov_credit
from tandem.attribution.journeys import JourneySpec, build_journeys
from tandem.core.models import AuditEntry, Organisation, Team, User
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.demo.services import demo_load
from tandem.demo.story import PLANTED
from tandem.field.models import Visit
from tandem.insights.models import Goal
from tandem.leads.models import Dispute, Handoff, StageHistory
from tandem.marketing.models import CampaignCost, EmailSend, SegmentMembership
from tandem.sales.models import Deal, PriceList, Product, Quote
from tandem.tracking.models import ConsentRecord

NOW = timezone.now().replace(minute=0, second=0, microsecond=0)
pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_the_demo_tells_the_story_of_a_year_in_causal_order() -> None:
    summary = demo_load(now=NOW)
    assert summary.created
    assert summary.accounts == 100
    assert 500 < summary.contacts < 700
    org = Organisation.current()
    assert (org.name, org.currency) == ("Polevod Instruments", "EUR")
    assert Counter(User.objects.values_list("role", flat=True)) == {
        "head": 1, "marketer": 3, "sales_rep": 6, "field_rep": 6, "admin": 1,
    }  # fmt: skip
    assert Team.objects.filter(department="sales").count() == 2
    assert set(Account.objects.values_list("industry", flat=True)) == {
        "agriculture", "medical", "electronics",
    }  # fmt: skip

    # every pipeline stage holds deals; quotes were sent, viewed and accepted
    stages = Counter(Deal.objects.values_list("stage__name", flat=True))
    assert set(stages) == {"Qualification", "Proposal", "Negotiation", "Won", "Lost"}
    assert {"sent", "viewed", "accepted"} <= set(Quote.objects.values_list("status", flat=True))
    assert Product.objects.count() == 9
    assert PriceList.objects.count() == 2
    assert Deal.objects.filter(price_list__name="Distributor prices 2026").exists()
    # deals spread over the reps, each created along its journey
    assert Deal.objects.values("owner").distinct().count() == 6
    for deal in Deal.objects.prefetch_related("deal_contacts"):
        (link,) = deal.deal_contacts.all()
        handoff = Handoff.objects.get(contact_id=link.contact_id)
        assert handoff.created_at < handoff.accepted_at < handoff.contacted_at < deal.created_at
        marketing = Touchpoint.objects.filter(contact_id=link.contact_id, source="demo")
        assert marketing.filter(occurred_at__lt=handoff.created_at).exists()
        assert deal.closed_at is None or deal.created_at < deal.closed_at < NOW
    later = Touchpoint.objects.filter(
        source="demo", channel__in=["meeting", "field_visit", "training", "sales_email"]
    )
    assert later.exists()
    for touch in later.select_related("contact"):
        assert Deal.objects.filter(
            deal_contacts__contact=touch.contact, created_at__lt=touch.occurred_at
        ).exists()
    # stage history runs forward in time for every contact
    bad = StageHistory.objects.filter(left_at__lt=F("entered_at"))
    assert not bad.exists()
    # (the badge scans of the trade show are imported now, and stamped so by marketing)
    assert not Touchpoint.objects.filter(occurred_at__gt=NOW).exclude(channel="conference")
    first = Touchpoint.objects.filter(contact__isnull=False).aggregate(m=Min("occurred_at"))["m"]
    assert NOW - first > dt.timedelta(days=300)

    # hand-offs: open ones, late on each side; rejected leads recycled or disqualified
    assert Handoff.objects.filter(status="pending", accept_due_at__lt=NOW).exists()
    assert Handoff.objects.filter(status="accepted", first_contact_due_at__lt=NOW).exists()
    assert Handoff.objects.filter(status="contacted", contacted_at__gt=F("first_contact_due_at"))
    rejected = Handoff.objects.filter(status="rejected")
    assert set(rejected.values_list("rejection_outcome", flat=True)) == {"recycle", "disqualify"}
    assert set(Contact.objects.values_list("lifecycle_stage", flat=True)) >= {
        "subscriber", "lead", "mql", "sal", "opportunity", "customer", "recycled", "disqualified",
    }  # fmt: skip
    # the head's desk: disputes open and decided, goals for the last and current quarter
    assert set(Dispute.objects.values_list("status", flat=True)) == {"open", "decided"}
    assert not Dispute.objects.filter(opened_at__gt=NOW).exists()
    quarters = sorted(set(Goal.objects.values_list("starts_on", flat=True)))
    assert len(quarters) == 2
    assert quarters[1] <= timezone.localdate(NOW) <= Goal.objects.aggregate(m=Max("ends_on"))["m"]
    assert set(Goal.objects.values_list("kind", flat=True)) == {"revenue", "pipeline", "mql"}
    # marketing: a year of costs; subscribers who consented on the ledger, so the draft can go
    assert CampaignCost.objects.count() == 5 * 12
    send = EmailSend.objects.get()
    members = SegmentMembership.objects.filter(segment=send.segment)
    assert members.count() > 100
    assert not members.exclude(contact__consent="granted").exists()
    assert ConsentRecord.objects.filter(state="granted").count() == (
        Contact.objects.filter(consent="granted").count()
    )
    # written through the services: one audit entry per account, contact and deal
    assert AuditEntry.objects.filter(model="crm.Contact", action="create").count() == (
        summary.contacts
    )
    assert AuditEntry.objects.filter(model="sales.Deal", action="create").count() == (
        Deal.objects.count()
    )

    # the attribution engine recovers the planted channel effects from the demo's own data
    spec = JourneySpec(
        start=NOW - dt.timedelta(days=400), end=NOW, conversion="opportunity", lookback_days=365
    )
    journeys = build_journeys(User.objects.get(username="head"), spec).journeys("channel")
    assert journeys.conversions.sum() == Deal.objects.count()
    effects = markov_credit(journeys, 1).removal_effects_by_channel()
    rho = spearmanr([c.effect for c in PLANTED], [effects[c.channel] for c in PLANTED])
    assert rho.statistic >= 0.8, effects


def _digest() -> str:
    """The story's rows, by natural keys (ids, passwords and audit entries differ by run)."""
    rows: list[object] = [
        list(Account.objects.order_by("name").values_list("name", "industry", "region",
             "owner__username", "created_at")),
        list(Contact.objects.order_by("email").values_list("email", "lifecycle_stage",
             "consent", "owner__username", "created_at")),
        # automation's emails are left out: a flow's holdout and split sides are fixed per
        # (flow id, contact id), stable in a live database, other ids after a reset re-creates
        # the records (tandem.automation.steps.stable_fraction)
        list(Touchpoint.objects.exclude(channel="conference").exclude(kind="flow_email_sent")
             .order_by("occurred_at", "contact__email", "channel", "kind", "actor__username",
                       "account__name")
             .values_list("contact__email", "anonymous_id", "occurred_at", "channel", "kind",
                          "department", "campaign", "actor__username", "account__name")),
        list(Deal.objects.order_by("created_at", "name").values_list("name", "amount",
             "stage__name", "status", "created_at", "closed_at", "close_date")),
        list(Handoff.objects.order_by("created_at", "contact__email").values_list(
             "contact__email", "status", "assigned_to__username", "accepted_at", "rejected_at",
             "contacted_at", "rejection_reason")),
        list(Quote.objects.order_by("created_at", "total").values_list("status", "total",
             "first_viewed_at", "accepted_at")),
        list(Goal.objects.order_by("starts_on", "kind", "team__name").values_list(
             "kind", "starts_on", "team__name", "target")),
        list(Dispute.objects.order_by("summary").values_list("summary", "status", "opened_at")),
        sorted((v.account.name, v.planned_start.isoformat(), v.status, repr(v.report))
               for v in Visit.objects.select_related("account")),
    ]  # fmt: skip
    return hashlib.sha256(repr(rows).encode()).hexdigest()


# one demo load on PostgreSQL is enough: test_demo_load's causal-order test (the bulk paths)
@pytest.mark.sqlite_leg_only
def test_the_same_seed_loads_the_same_rows_and_loading_again_changes_nothing() -> None:
    demo_load(now=NOW, seed=11)
    first = _digest()
    again = demo_load(now=NOW, seed=11)
    assert again.created is False
    assert _digest() == first
    assert User.objects.count() == 17
    reloaded = demo_load(now=NOW, seed=11, reset=True)
    assert reloaded.created is True
    assert _digest() == first
