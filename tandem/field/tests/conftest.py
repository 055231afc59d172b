"""Fixtures of the field tests: a pipeline, a tier, a key account with a plan, a rep's base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.field import services
from tandem.field.models import Visit, VisitTier
from tandem.sales import services as sales_services
from tandem.sales.models import Pipeline


@dataclass
class Field:
    rep: User
    account: Account
    contact: Contact
    tier: VisitTier
    pipeline: Pipeline
    visit: Visit


@pytest.fixture
def field(world: World) -> Field:
    system = Actor.system()
    rep = world.user("field_rep")
    pipeline = sales_services.pipeline_create(
        actor=system,
        name="Field",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Trial", "probability": 50},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    account = world.accounts[("field_rep", "north")]
    crm.account_update(actor=system, account=account, industry="agriculture")
    account.refresh_from_db()
    tier = services.visit_tier_save(actor=system, code="A", every_days=14)
    services.visit_plan_set(actor=system, account=account, tier=tier, rep=rep, lat=52.1, lon=39.6)
    services.rep_base_set(
        actor=system, rep=rep, lat=52.0, lon=39.5, day_start=dt.time(8), day_end=dt.time(18)
    )
    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    visit, _ = services.visit_create(
        actor=Actor(user=rep),
        account=account,
        rep=rep,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=1),
        contact=world.contacts[("field_rep", "north")],
    )
    return Field(rep, account, world.contacts[("field_rep", "north")], tier, pipeline, visit)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
