"""The demo pipeline and deals: one deal per demo account that reached opportunity or customer."""

from __future__ import annotations

import random
from typing import Any

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.demo.customers import DEMO_TAG, SEED
from tandem.sales import services as sales

DEMO_PIPELINE: list[dict[str, Any]] = [
    {"name": "Qualification", "probability": 20},
    {"name": "Proposal", "probability": 50},
    {"name": "Negotiation", "probability": 75},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


def create_demo_deals(actor: Actor) -> None:
    """One deal per demo account whose contacts reached opportunity or customer; won where a
    contact is a customer. Gives the pipeline, forecast and attribution real conversions."""
    try:
        sales.default_pipeline()
    except InvalidInput:
        sales.pipeline_create(
            actor=actor, name="New business", stages=DEMO_PIPELINE, is_default=True
        )
    rng = random.Random(SEED + 1)
    late = Contact.objects.filter(
        tags__name=DEMO_TAG, lifecycle_stage__in=["opportunity", "customer"]
    ).order_by("account_id", "id")
    by_account: dict[int, list[Contact]] = {}
    for contact in late:
        if contact.account_id is not None:
            by_account.setdefault(contact.account_id, []).append(contact)
    for account_id, members in by_account.items():
        won = any(c.lifecycle_stage == "customer" for c in members)
        deal = sales.deal_create(
            actor=actor,
            name=f"{members[0].account} — {rng.choice(['platform', 'renewal', 'expansion'])}",
            account_id=account_id,
            owner_id=members[0].owner_id,
            amount=str(rng.randrange(5_000, 80_000, 500)),
            contacts=[{"contact_id": c.pk, "role": "decision_maker"} for c in members],
        )
        if won:
            sales.deal_win(actor=actor, deal=deal)
