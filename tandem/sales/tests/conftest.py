"""Fixtures of the sales tests: a pipeline with stages, loss reasons, products with prices."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tandem.core.audit import Actor
from tandem.sales import services
from tandem.sales.models import LossReason, Pipeline, PriceList, Product, Stage


@dataclass
class Sales:
    pipeline: Pipeline
    stages: dict[str, Stage]
    reason: LossReason
    widget: Product
    gadget: Product
    eur: PriceList
    rub: PriceList


@pytest.fixture
def sales(db: None) -> Sales:
    system = Actor.system()
    pipeline = services.pipeline_create(
        actor=system,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Propose", "probability": 40, "forecast_category": "best_case"},
            {"name": "Negotiate", "probability": 80, "forecast_category": "commit"},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    reason = services.loss_reason_create(actor=system, name="Price")
    widget = services.product_create(actor=system, sku="W-1", name="Widget", self_service=True)
    gadget = services.product_create(actor=system, sku="G-1", name="Гаджет")
    eur = services.price_list_create(
        actor=system, name="Euro list", currency_code="EUR", is_default=True
    )
    rub = services.price_list_create(
        actor=system, name="Рубли", currency_code="RUB", is_default=True
    )
    services.price_set(actor=system, price_list=eur, product=widget, unit_price="100.00")
    services.price_set(actor=system, price_list=eur, product=gadget, unit_price="250.50")
    services.price_set(actor=system, price_list=rub, product=widget, unit_price="9000")
    return Sales(
        pipeline=pipeline,
        stages={s.name: s for s in pipeline.stages.all()},
        reason=reason,
        widget=widget,
        gadget=gadget,
        eur=eur,
        rub=rub,
    )


@pytest.fixture(autouse=True)
def _fresh_graph_cache() -> None:
    """Sequences run on automation flows, whose runner caches graphs by version id; ids start
    again in each test's database (in production they are never reused)."""
    from tandem.automation import runner

    runner.version_graph.cache_clear()
