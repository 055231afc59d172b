"""A hand-built history for the process page, the funnel by channel, the exports and the board
report, with numbers known in advance (on top of the root `world` personas; UTC).

T0 is noon on the first day of the month four months ago, so every 30/60/90-day horizon of a
lead from T0's first days has passed. Pipeline Qualify (10 %) → Propose (50 %) → Won / Lost.

Deals (no contacts, so winning moves no lifecycle stage):
- D1 north rep, 1000: Qualify T0, Propose T0+2d, won T0+6d;
- D2 north rep, 800: Qualify T0+1d, Propose T0+5d, open;
- D3 north rep, 300: Qualify T0+2d, lost T0+3d;
- D4 south rep, 500: Qualify T0, Propose T0+4d, won T0+8d;
- D5 north rep "=cmd|' /C calc'!A0": Qualify now-10d, open (an outlier of Qualify);
- D6 north rep: Qualify now-1d, open.
Leads (lifecycle through `lifecycle_correct`):
- L1 north: lead T0, MQL T0+5d, SQL T0+20d, opportunity T0+40d, customer T0+70d; first touch
  email (T0-2d);
- L2 north: lead T0+1d, MQL T0+45d; first touch organic_search (T0-2d);
- L3 north: lead T0+2d, never moved (no stage history);
- L4 south: lead T0, MQL T0+10d; first touch paid_search (T0-2d).
The north account's first touch is L1's (email), the south account's L4's (paid_search).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.insights.periods import add_months, period_end
from tandem.leads.lifecycle import lifecycle_correct
from tandem.sales import services as sales
from tandem.sales.models import Deal

DAY = dt.timedelta(days=1)


@dataclass
class History:
    world: World
    t0: dt.datetime
    deals: dict[str, Deal] = field(default_factory=dict)
    leads: dict[str, Contact] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)

    def user(self, role: str, side: str = "north") -> User:
        return self.world.user(role, side)

    def client(self, role: str, side: str = "north") -> Client:
        client = Client()
        client.force_login(self.user(role, side))
        return client

    @property
    def month(self) -> dict[str, str]:
        """T0's month, as from/to."""
        first = self.t0.date().replace(day=1)
        return {"from": first.isoformat(), "to": period_end(first, "month").isoformat()}


@pytest.fixture
def history(world: World) -> History:
    head = Actor(user=world.user("head"))
    system = Actor.system()
    now = timezone.now().astimezone(dt.UTC)
    first = add_months(now.date().replace(day=1), -4)
    t0 = dt.datetime.combine(first, dt.time(12), tzinfo=dt.UTC)
    h = History(world=world, t0=t0)
    sales.pipeline_create(
        actor=system,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Propose", "probability": 50},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    h.stages = {s.name: s.pk for s in sales.default_pipeline().stages.all()}
    reason = sales.loss_reason_create(actor=system, name="Price")
    currency = Organisation.current().currency

    # leads first, with their first touches (the accounts' first touches too)
    def lead(key: str, side: str, created: dt.datetime, channel: str) -> Contact:
        contact = crm.contact_create(
            actor=system,
            first_name="Lead",
            last_name=key,
            email=f"{key.lower()}@{side}.example.com",
            account_id=world.accounts[("sales_rep", side)].pk,
        )
        Contact.objects.filter(pk=contact.pk).update(created_at=created)
        contact.refresh_from_db()
        if channel:
            crm.touchpoint_record(
                channel=channel,
                kind="page_view",
                department="marketing",
                contact=contact,
                occurred_at=t0 - 2 * DAY,
            )
        h.leads[key] = contact
        return contact

    def move(contact: Contact, stage: str, at: dt.datetime) -> None:
        lifecycle_correct(actor=head, contact=contact, stage=stage, reason="test", at=at)

    l1 = lead("L1", "north", t0, "email")
    for stage, days in (("mql", 5), ("sql", 20), ("opportunity", 40), ("customer", 70)):
        move(l1, stage, t0 + days * DAY)
    l2 = lead("L2", "north", t0 + DAY, "organic_search")
    move(l2, "mql", t0 + 45 * DAY)
    lead("L3", "north", t0 + 2 * DAY, "")
    l4 = lead("L4", "south", t0, "paid_search")
    move(l4, "mql", t0 + 10 * DAY)

    def deal(key: str, side: str, amount: str, at: dt.datetime, name: str = "") -> Deal:
        d = sales.deal_create(
            actor=head,
            name=name or key,
            owner_id=world.user("sales_rep", side).pk,
            account_id=world.accounts[("sales_rep", side)].pk,
            amount=amount,
            currency_code=currency,
            close_date=(at + 30 * DAY).date(),
            at=at,
        )
        h.deals[key] = d
        return d

    propose = h.stages["Propose"]
    d1 = deal("D1", "north", "1000", t0)
    sales.deal_move(actor=head, deal=d1, stage_id=propose, at=t0 + 2 * DAY)
    sales.deal_win(actor=head, deal=d1, at=t0 + 6 * DAY)
    d2 = deal("D2", "north", "800", t0 + DAY)
    sales.deal_move(actor=head, deal=d2, stage_id=propose, at=t0 + 5 * DAY)
    d3 = deal("D3", "north", "300", t0 + 2 * DAY)
    sales.deal_lose(actor=head, deal=d3, loss_reason_id=reason.pk, at=t0 + 3 * DAY)
    d4 = deal("D4", "south", "500", t0)
    sales.deal_move(actor=head, deal=d4, stage_id=propose, at=t0 + 4 * DAY)
    sales.deal_win(actor=head, deal=d4, at=t0 + 8 * DAY)
    deal("D5", "north", "50", now - 10 * DAY, name="=cmd|' /C calc'!A0")
    deal("D6", "north", "60", now - DAY)
    return h
