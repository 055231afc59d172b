"""The cockpit's numbers cost a fixed number of queries, however many records lie behind them."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.core.audit import Actor
from tandem.insights import selectors
from tandem.insights.periods import window, zone_of
from tandem.insights.tests.conftest import Company, new_lead
from tandem.leads import services as leads
from tandem.sales import services as sales


def _queries(company: Company) -> int:
    head = company.user("head")
    span = window(
        company.today - dt.timedelta(days=30), company.today + dt.timedelta(days=60), zone_of(head)
    )
    with CaptureQueriesContext(connection) as captured:
        selectors.summary(head, window=span, with_credit=False)
    return len(captured)


def test_the_summary_runs_the_same_queries_for_more_records(company: Company) -> None:
    before = _queries(company)
    head = Actor(user=company.user("head"))
    for n in range(10, 16):
        contact = new_lead(company.world, "south", n)
        handoff = leads.handoff_create(actor=Actor.system(), contact=contact, trigger="mql")
        leads.handoff_accept(actor=Actor(user=company.user("sales_rep", "south")), handoff=handoff)
        deal = sales.deal_create(
            actor=head,
            name=f"more {n}",
            owner_id=company.user("sales_rep", "south").pk,
            amount="10",
            close_date=company.today,
            contacts=[{"contact_id": contact.pk}],
        )
        if n % 2:
            sales.deal_win(actor=head, deal=deal)
    assert _queries(company) == before
