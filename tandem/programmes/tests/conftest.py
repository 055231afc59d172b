"""Fixtures of the programmes tests: a product, a loyalty programme with rules, tiers and a trip,
and the Russian rule of Federal Law 323-FZ art. 74."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.programmes import compliance, loyalty, trainings
from tandem.programmes.models import (
    ComplianceRule,
    EarningRule,
    LoyaltyProgramme,
    Reward,
    Tier,
    TrainingSession,
)
from tandem.sales import services as sales
from tandem.sales.models import Product


@dataclass
class Loyalty:
    programme: LoyaltyProgramme
    purchase: EarningRule
    training: EarningRule
    silver: Tier
    gold: Tier
    trip: Reward
    congress: Reward
    mug: Reward
    product: Product
    russian_rule: ComplianceRule


def training_session(programme: Loyalty, capacity: int = 5) -> TrainingSession:
    """A session at the training centre 340 days ago, of a curriculum valid 12 months."""
    system = Actor.system()
    curriculum = trainings.curriculum_create(
        actor=system, product=programme.product, name="Seed treatment basics", valid_months=12
    )
    start = timezone.now() - dt.timedelta(days=340)
    return trainings.session_create(
        actor=system,
        curriculum=curriculum,
        mode="centre",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=4),
        location="Krasnodar centre",
        capacity=capacity,
    )


@pytest.fixture
def product(db: None) -> Product:
    return sales.product_create(actor=Actor.system(), sku="SEED-1", name="Seed treatment")


@pytest.fixture
def programme(product: Product) -> Loyalty:
    system = Actor.system()
    programme = loyalty.programme_create(actor=system, name="Partners", currency="EUR")
    purchase = loyalty.earning_rule_create(
        actor=system, programme=programme, source="purchase", points=1
    )
    training = loyalty.earning_rule_create(
        actor=system,
        programme=programme,
        source="training",
        points=50,
        cap_points=100,
        cap_period="month",
    )
    silver = loyalty.tier_create(actor=system, programme=programme, name="Silver", threshold=500)
    gold = loyalty.tier_create(actor=system, programme=programme, name="Gold", threshold=2000)
    start = timezone.localdate() + dt.timedelta(days=90)
    trip = loyalty.reward_create(
        actor=system,
        programme=programme,
        name="Tuscany study trip",
        kind="trip",
        nature="leisure_travel",
        points_cost=300,
        unit_cost=Decimal("1800.00"),
        destination="Tuscany",
        starts_on=start,
        ends_on=start + dt.timedelta(days=4),
        capacity=3,
    )
    congress = loyalty.reward_create(
        actor=system,
        programme=programme,
        name="Congress registration",
        kind="service",
        nature="education",
        points_cost=100,
        unit_cost=Decimal("450.00"),
    )
    mug = loyalty.reward_create(
        actor=system,
        programme=programme,
        name="Mug",
        kind="merchandise",
        nature="gift",
        points_cost=20,
        unit_cost=Decimal("8.00"),
    )
    russian_rule = compliance.rule_create(
        actor=system,
        name="No gifts or leisure travel to healthcare workers",
        country="RU",
        effect="block",
        nature="leisure_travel",
        reference="Federal Law 323-FZ, art. 74",
    )
    compliance.rule_create(
        actor=system,
        name="No gifts to healthcare workers",
        country="RU",
        effect="block",
        nature="gift",
        recipient_kind="hcp",
        reference="Federal Law 323-FZ, art. 74",
    )
    return Loyalty(
        programme, purchase, training, silver, gold, trip, congress, mug, product, russian_rule
    )
