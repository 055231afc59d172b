"""The demo data behind `tandem demo`: realistic, valid, deterministic, idempotent and fast."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence

import pytest
from django.db.models import F

from tandem.core.models import AuditEntry, Holiday, Organisation, Team, User
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.crm.validation import clean_industry_attributes
from tandem.demo.customers import DEMO_TAG
from tandem.demo.services import demo_load
from tandem.demo.timeline import DemoContact, PlannedTouch
from tandem.sales.models import Deal


@pytest.mark.django_db
def test_the_demo_is_a_realistic_valid_organisation() -> None:
    started = time.monotonic()
    summary = demo_load()
    elapsed = time.monotonic() - started
    # ~2 s on an idle 2-core machine; the bound only catches a pathological slowdown, since
    # the test machine is shared with other suites.
    assert elapsed < 60, f"demo load took {elapsed:.1f} s"
    assert (summary.accounts, summary.contacts, summary.touchpoints) == (60, 294, 2312)

    org = Organisation.current()
    assert (org.name, org.currency, org.time_zone) == (
        "Polevod Instruments", "EUR", "Europe/Moscow",
    )  # fmt: skip
    assert org.business_hours["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert org.business_hours["sun"] == []
    assert Holiday.objects.count() == 8
    assert sorted(Team.objects.values_list("department", flat=True)) == [
        "field", "field", "field", "marketing", "sales", "sales",
    ]  # fmt: skip
    assert Counter(User.objects.values_list("role", flat=True)) == {
        "head": 1, "marketer": 2, "sales_rep": 2, "field_rep": 3, "admin": 1,
    }  # fmt: skip

    assert Counter(Account.objects.values_list("industry", flat=True)) == {
        "agriculture": 18, "medical": 16, "electronics": 16, "other": 10,
    }  # fmt: skip
    for account in Account.objects.all():
        assert clean_industry_attributes(account.industry, account.industry_attributes) == (
            account.industry_attributes
        )
        assert account.owner is not None
    assert set(Contact.objects.values_list("lifecycle_stage", flat=True)) == {
        "subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled",
        "disqualified",
    }  # fmt: skip
    assert set(Contact.objects.values_list("consent", flat=True)) == {
        "granted", "pending", "unknown", "withdrawn",
    }  # fmt: skip
    assert not Contact.objects.filter(account__isnull=True).exists()
    assert not Contact.objects.exclude(owner=F("account__owner")).exists()

    tps = Touchpoint.objects.filter(source="demo")  # deals add their own timeline rows
    assert set(tps.values_list("department", flat=True)) == {
        "marketing", "sales", "field", "self_service",
    }  # fmt: skip
    assert set(tps.values_list("channel", flat=True)) == {
        "website", "email_newsletter", "linkedin", "webinar", "paid_search", "sales_call",
        "sales_email", "meeting", "field_visit", "training", "self_service",
    }  # fmt: skip
    # Every identified touch sits on its contact's account; sales and field touches have an actor.
    assert not tps.filter(contact__isnull=False).exclude(account=F("contact__account")).exists()
    assert not tps.filter(department__in=["sales", "field"], actor__isnull=True).exists()
    assert tps.filter(contact__isnull=True).values("anonymous_id").distinct().count() == 60
    # Nobody who withdrew consent gets newsletters.
    assert not tps.filter(contact__consent="withdrawn", channel="email_newsletter").exists()
    # Every record was written through the services: one audit entry per account and contact.
    assert AuditEntry.objects.filter(model="crm.Account", action="create").count() == 60
    assert AuditEntry.objects.filter(model="crm.Contact", action="create").count() == 294
    assert Account.objects.filter(tags__name=DEMO_TAG).count() == 60


@pytest.mark.django_db
def test_loading_again_duplicates_nothing_and_reset_reloads_the_same_records() -> None:
    first = demo_load()
    names = list(Contact.objects.order_by("email").values_list("email", "lifecycle_stage"))
    second = demo_load()
    assert second.created is False
    assert (second.accounts, second.contacts, second.touchpoints) == (60, 294, 2312)
    assert User.objects.count() == 9
    assert first.logins[0].password != second.logins[0].password
    deals = Deal.objects.count()
    third = demo_load(reset=True)
    assert third.created is True
    assert list(Contact.objects.order_by("email").values_list("email", "lifecycle_stage")) == names
    assert Touchpoint.objects.filter(source="demo").count() == 2312
    assert Deal.objects.count() == deals  # the reset deleted the demo's deals and made them anew


@pytest.mark.django_db
def test_the_demo_has_deals_so_pipeline_and_attribution_show_revenue() -> None:
    demo_load()
    late = Contact.objects.filter(lifecycle_stage__in=["opportunity", "customer"])
    accounts_late = set(late.values_list("account_id", flat=True))
    assert set(Deal.objects.values_list("account_id", flat=True)) == accounts_late
    won = Deal.objects.filter(status="won")
    assert set(won.values_list("account_id", flat=True)) == set(
        Contact.objects.filter(lifecycle_stage="customer").values_list("account_id", flat=True)
    )
    assert all(d.closed_at is not None and d.amount > 0 for d in won)
    assert Deal.objects.filter(status="open").exists()


@pytest.mark.django_db
def test_a_planner_can_supply_the_timeline() -> None:
    seen: list[int] = []

    def planner(rng: random.Random, contacts: Sequence[DemoContact]) -> list[PlannedTouch]:
        seen.append(len(contacts))
        return [
            PlannedTouch(contact_index=0, days_ago=3, channel="webinar",
                         kind="webinar attended", department="marketing"),
            PlannedTouch(contact_index=1, days_ago=1, channel="sales_call", kind="sales call",
                         department="sales", by_owner=True),
        ]  # fmt: skip

    summary = demo_load(planner=planner)
    assert seen == [294]
    assert summary.touchpoints == 2
    call = Touchpoint.objects.get(channel="sales_call")
    assert call.actor_id == call.contact.owner_id
