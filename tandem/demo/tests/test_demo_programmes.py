"""The demo's programmes: trainings with certificates, trials with results, a loyalty programme
with a trip, and transfers of value within the rules — written through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.demo.catalogue import ensure_catalogue
from tandem.demo.customers import DEMO_TAG
from tandem.demo.organisation import ensure_organisation, ensure_people
from tandem.demo.programmes import create_demo_programmes, delete_demo_programmes
from tandem.programmes.models import (
    Attendance,
    FieldTrial,
    LoyaltyProgramme,
    PointsEntry,
    Redemption,
    Reward,
    TransferOfValue,
)
from tandem.sales import services as sales
from tandem.sales.models import Product

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(minute=0, second=0, microsecond=0)


def _company() -> dict[str, Any]:
    actor = Actor.system()
    ensure_organisation(actor)
    people = ensure_people(actor)
    ensure_catalogue(actor)
    product = Product.objects.get(sku="AG-YMK")
    for industry in ("agriculture", "medical", "electronics"):
        for i in range(6):
            account = crm.account_create(
                actor=actor, name=f"{industry} {i}", industry=industry, tags=[DEMO_TAG, industry]
            )
            for j in range(3):
                crm.contact_create(
                    actor=actor, first_name=f"P{i}{j}", last_name=industry, account_id=account.pk
                )
            deal = sales.deal_create(
                actor=actor, name=f"Deal {industry} {i}", account_id=account.pk, amount=Decimal(0)
            )
            sales.deal_line_add(actor=actor, deal=deal, product_id=product.pk, quantity=Decimal(2))
            sales.deal_win(actor=actor, deal=deal, at=NOW - dt.timedelta(days=30))
    return people


def _fingerprint() -> tuple[Any, ...]:
    return (
        sorted(PointsEntry.objects.values_list("points", "kind")),
        sorted(Attendance.objects.values_list("status", "score", "passed")),
        sorted(TransferOfValue.objects.values_list("nature", "value", "country")),
        sorted(Redemption.objects.values_list("points", "status")),
    )


def test_the_demo_has_trainings_trials_a_programme_with_a_trip_and_transfers_of_value() -> None:
    people = _company()
    written = create_demo_programmes(people, NOW, activity=True, seed=7)
    assert written > 0
    assert FieldTrial.objects.count() == 6
    assert Attendance.objects.filter(passed=True).exists()
    programme = LoyaltyProgramme.objects.get(name="Partner Club")
    trip = Reward.objects.get(programme=programme, kind="trip")
    assert trip.capacity == 12
    assert Redemption.objects.filter(reward=trip).exists()
    assert TransferOfValue.objects.filter(country="DE", nature="grant").exists()
    # the Russian rule held: no leisure travel or gift to a Russian doctor was recorded
    assert not TransferOfValue.objects.filter(
        country="RU", nature__in=["gift", "leisure_travel"]
    ).exists()
    first = _fingerprint()
    # idempotent set-up
    assert create_demo_programmes(people, NOW, activity=False, seed=7) == 0
    assert LoyaltyProgramme.objects.count() == 1
    delete_demo_programmes()
    assert not TransferOfValue.objects.exists()
    assert first[0]
