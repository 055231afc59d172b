"""A small company for the cockpit's tests, on top of the root `world` personas (north, south).

Deals (organisation currency EUR; "today" is the test's day in UTC):
- north rep: won 1000 EUR today, won 300 RUB today, open 2000 EUR closing in 20 days (stage 50%),
  open 700 EUR closing in 200 days, won 4000 EUR 400 days ago;
- south rep: won 500 EUR today, open 900 EUR closing in 10 days (stage 10%).
Hand-offs: two leads of north accounts (one accepted), one of a south account (rejected).
A dispute opened by the north marketer about the north hand-off, open; one decided.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.leads import disputes
from tandem.leads import services as leads
from tandem.leads.models import Dispute, Handoff
from tandem.sales import services as sales
from tandem.sales.models import Deal


@dataclass
class Company:
    world: World
    today: dt.date
    deals: dict[str, Deal] = field(default_factory=dict)
    handoffs: list[Handoff] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)

    def user(self, role: str, side: str = "north") -> User:
        return self.world.user(role, side)

    def client(self, role: str, side: str = "north") -> Client:
        client = Client()
        client.force_login(self.user(role, side))
        return client

    @property
    def quarter_ish(self) -> dict[str, str]:
        """A window around today that holds the near deals and not the far ones."""
        return {
            "from": (self.today - dt.timedelta(days=30)).isoformat(),
            "to": (self.today + dt.timedelta(days=60)).isoformat(),
        }


def new_lead(world: World, side: str, n: int) -> Contact:
    account = world.accounts[("sales_rep", side)]
    return crm.contact_create(
        actor=Actor.system(),
        first_name="Lead",
        last_name=f"{side} {n}",
        email=f"lead{n}@{side}.example.com",
        account_id=account.pk,
    )


@pytest.fixture
def company(world: World) -> Company:
    system = Actor.system()
    head = Actor(user=world.user("head"))
    today = timezone.now().astimezone(dt.UTC).date()
    c = Company(world=world, today=today)
    sales.pipeline_create(
        actor=system,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Propose", "probability": 50, "forecast_category": "best_case"},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    stages = {s.name: s for s in sales.default_pipeline().stages.all()}

    def deal(key: str, side: str, amount: str, days: int, currency: str = "EUR") -> Deal:
        owner = world.user("sales_rep", side)
        d = sales.deal_create(
            actor=head,
            name=key,
            owner_id=owner.pk,
            account_id=world.accounts[("sales_rep", side)].pk,
            amount=amount,
            currency_code=currency,
            close_date=today + dt.timedelta(days=days),
            contacts=[{"contact_id": world.contacts[("sales_rep", side)].pk}],
        )
        c.deals[key] = d
        return d

    for key, side, amount, currency in (
        ("north won", "north", "1000", "EUR"),
        ("north won rub", "north", "300", "RUB"),
        ("south won", "south", "500", "EUR"),
        ("north old win", "north", "4000", "EUR"),
    ):
        sales.deal_win(actor=head, deal=deal(key, side, amount, 0, currency))
    old = timezone.now() - dt.timedelta(days=400)
    Deal.objects.filter(pk=c.deals["north old win"].pk).update(created_at=old, closed_at=old)
    north_open = deal("north open", "north", "2000", 20)
    sales.deal_move(actor=head, deal=north_open, stage_id=stages["Propose"].pk)
    deal("north far", "north", "700", 200)
    deal("south open", "south", "900", 10)

    for side, n in (("north", 1), ("north", 2), ("south", 3)):
        c.handoffs.append(
            leads.handoff_create(actor=system, contact=new_lead(world, side, n), trigger="mql")
        )
    north_rep = Actor(user=world.user("sales_rep", "north"))
    south_rep = Actor(user=world.user("sales_rep", "south"))
    leads.handoff_accept(actor=north_rep, handoff=c.handoffs[0])
    leads.handoff_reject(
        actor=south_rep, handoff=c.handoffs[2], reason="no_budget", note="", outcome="recycle"
    )
    marketer = Actor(user=world.user("marketer"))
    c.disputes.append(
        disputes.dispute_open(
            actor=marketer, subject="handoff", target=c.handoffs[0], summary="Worth a call"
        )
    )
    decided = disputes.dispute_open(
        actor=marketer, subject="lead_quality", target=c.handoffs[1], summary="Settled"
    )
    disputes.dispute_decide(actor=head, dispute=decided, outcome="dismissed", decision="No.")
    c.disputes.append(decided)
    return c
