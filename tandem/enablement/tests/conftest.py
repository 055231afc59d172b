"""Fixtures of enablement's tests: a library with one asset, a pipeline, helpers for deals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from conftest import World
from tandem.core.audit import Actor
from tandem.enablement import services
from tandem.enablement.models import Asset
from tandem.sales import services as sales
from tandem.sales.models import Deal


@pytest.fixture
def asset(world: World) -> Asset:
    return services.asset_create(
        actor=Actor(user=world.user("marketer")),
        title="Dairy farm case study",
        kind="case_study",
        language="en",
        industry="agriculture",
        url="https://files.example.com/dairy.pdf",
        pages=3,
        description="How a dairy cooperative cut feed costs",
    )


@pytest.fixture
def pipeline(world: World) -> None:
    sales.pipeline_create(
        actor=Actor.system(),
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Propose", "probability": 50},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )


@pytest.fixture
def make_deal(world: World, pipeline: None) -> Callable[..., Deal]:
    head = Actor(user=world.user("head"))

    def make(side: str = "north", amount: str = "5000", outcome: str = "", **kw: Any) -> Deal:
        deal = sales.deal_create(
            actor=head,
            name=f"deal {side} {amount}",
            owner_id=world.user("sales_rep", side).pk,
            account_id=world.accounts[("sales_rep", side)].pk,
            amount=amount,
            currency_code="EUR",
            close_date=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30),
            **kw,
        )
        if outcome == "won":
            deal = sales.deal_win(actor=head, deal=deal)
        elif outcome == "lost":
            reason = sales.loss_reason_create(actor=head, name="Price too high")
            deal = sales.deal_lose(actor=head, deal=deal, loss_reason_id=reason.pk, note="")
        return deal

    return make
