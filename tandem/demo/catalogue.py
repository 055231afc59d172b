"""What the demo company sells and how it sells it: the pipeline, loss reasons, products and
price lists, through sales' services. Idempotent: each is matched by name or SKU."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tandem.core.audit import Actor
from tandem.demo.names import PRODUCTS
from tandem.sales import services as sales
from tandem.sales.models import LossReason, Pipeline, PriceList, Product, Stage, StageKind

PIPELINE = "New business"
STAGES: list[dict[str, Any]] = [
    {"name": "Qualification", "probability": 20},
    {"name": "Proposal", "probability": 50},
    {"name": "Negotiation", "probability": 75},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]
LOSS_REASONS = ["Price", "Went with a competitor", "No decision", "Timing"]
LIST_PRICES = "List prices 2026"
DISTRIBUTOR_PRICES = "Distributor prices 2026"
DISTRIBUTOR_DISCOUNT = Decimal("0.85")


@dataclass(frozen=True)
class Catalogue:
    pipeline: Pipeline
    stages: dict[str, Stage]  # open stages by name
    loss_reasons: list[LossReason]
    products: list[Product]  # in the order of names.PRODUCTS
    list_prices: PriceList
    distributor_prices: PriceList

    def products_by_industry(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for index, (_sku, _name, industry, _price) in enumerate(PRODUCTS):
            out.setdefault(str(industry), []).append(index)
        return out


def ensure_catalogue(actor: Actor) -> Catalogue:
    pipeline = Pipeline.objects.filter(name=PIPELINE).first() or sales.pipeline_create(
        actor=actor, name=PIPELINE, stages=STAGES, is_default=True
    )
    stages = {s.name: s for s in pipeline.stages.filter(kind=StageKind.OPEN)}
    reasons = [sales.loss_reason_create(actor=actor, name=name) for name in LOSS_REASONS]
    price_lists = {p.name: p for p in PriceList.objects.filter(currency="EUR")}
    if LIST_PRICES not in price_lists:
        price_lists[LIST_PRICES] = sales.price_list_create(
            actor=actor, name=LIST_PRICES, currency_code="EUR", is_default=True
        )
    if DISTRIBUTOR_PRICES not in price_lists:
        price_lists[DISTRIBUTOR_PRICES] = sales.price_list_create(
            actor=actor, name=DISTRIBUTOR_PRICES, currency_code="EUR"
        )
    known = {p.sku: p for p in Product.objects.filter(sku__in=[row[0] for row in PRODUCTS])}
    products = []
    for sku, name, industry, price in PRODUCTS:
        product = known.get(sku) or sales.product_create(
            actor=actor, sku=sku, name=name, description=f"For {industry} customers"
        )
        sales.price_set(
            actor=actor, price_list=price_lists[LIST_PRICES], product=product, unit_price=price
        )
        sales.price_set(
            actor=actor,
            price_list=price_lists[DISTRIBUTOR_PRICES],
            product=product,
            unit_price=(Decimal(price) * DISTRIBUTOR_DISCOUNT).quantize(Decimal("0.01")),
        )
        products.append(product)
    return Catalogue(
        pipeline=pipeline,
        stages=stages,
        loss_reasons=reasons,
        products=products,
        list_prices=price_lists[LIST_PRICES],
        distributor_prices=price_lists[DISTRIBUTOR_PRICES],
    )
