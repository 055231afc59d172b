"""The demo's funnel: each journey's steps after its touches, through the services that own them,
at the times the story gives (leads: hand-off, answer, first contact, lifecycle; sales: deal,
stage moves, quote, view, win or loss).

Invariants:
- a step happens only if the one before it did and its time is before `story.now`;
- a hand-off's answer and first contact are timed against the deadlines the hand-off service
  computed (business hours of the rep's calendar): a share below 1 is in time, above 1 late, and
  `never` leaves the hand-off open (and, once its deadline passed, breaching now);
- the deal is created at the opportunity moment, after the touches that led there; the touches
  that follow it (meetings, visits, trainings) are returned as rows, dated before its close.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm.models import Contact, LifecycleStage
from tandem.demo.catalogue import Catalogue
from tandem.demo.customers import actor_of, touch_row
from tandem.demo.story import Journey, Sla, Story, Touch
from tandem.leads import services as leads
from tandem.sales import services as sales


def _within(start: dt.datetime, due: dt.datetime | None, sla: Sla) -> dt.datetime:
    allowed = (due - start) if due is not None else dt.timedelta(hours=4)
    return (start + allowed * sla.share).replace(microsecond=0)


def play(
    story: Story,
    contacts: list[Contact],
    catalogue: Catalogue,
    people: dict[str, User],
    field_reps: dict[int, int],
) -> list[dict[str, Any]]:
    """Play every journey; returns the rows of the touches after each deal."""
    later: list[dict[str, Any]] = []
    by_id = {u.pk: u for u in people.values()}
    for journey in story.journeys:
        if journey.mql_at is not None:
            contact = contacts[journey.contact]
            later += _play_one(journey, contact, story.now, catalogue, by_id, field_reps)
    return later


def _play_one(
    journey: Journey,
    contact: Contact,
    now: dt.datetime,
    catalogue: Catalogue,
    users: dict[int, User],
    field_reps: dict[int, int],
) -> list[dict[str, Any]]:
    assert journey.mql_at is not None
    assert journey.answer is not None
    handoff = leads.handoff_create(
        actor=Actor.system(), contact=contact, trigger="mql", now=journey.mql_at
    )
    rep = handoff.assigned_to
    if rep is None or journey.answer.never:
        return []
    by_rep = Actor(user=rep)
    assert handoff.assigned_at is not None
    answered = _within(handoff.assigned_at, handoff.accept_due_at, journey.answer)
    if answered >= now:
        return []
    if journey.rejected is not None:
        reason, outcome = journey.rejected
        leads.handoff_reject(
            actor=by_rep, handoff=handoff, reason=reason, outcome=outcome, now=answered
        )
        return []
    handoff = leads.handoff_accept(actor=by_rep, handoff=handoff, now=answered)
    if journey.first_contact is None or journey.first_contact.never:
        return []
    called = _within(answered, handoff.first_contact_due_at, journey.first_contact)
    if called >= now:
        return []
    leads.handoff_mark_contacted(actor=by_rep, handoff=handoff, channel="phone", now=called)
    if journey.sql_after_days is None or journey.deal_after_days is None:
        return []
    qualified = called + dt.timedelta(days=journey.sql_after_days)
    if qualified >= now:
        return []
    leads.lifecycle_move(
        actor=by_rep,
        contact=contact,
        stage=LifecycleStage.SQL,
        reason="Budget, need and timing confirmed",
        at=qualified,
    )
    return _play_deal(journey, contact, called, now, catalogue, by_rep, field_reps)


def _play_deal(
    journey: Journey,
    contact: Contact,
    called: dt.datetime,
    now: dt.datetime,
    catalogue: Catalogue,
    by_rep: Actor,
    field_reps: dict[int, int],
) -> list[dict[str, Any]]:
    assert journey.deal_after_days is not None
    assert journey.close_after_days is not None
    opened = (called + dt.timedelta(days=journey.deal_after_days)).replace(microsecond=0)
    if opened >= now:
        return []
    account = contact.account
    assert account is not None
    assert by_rep.user is not None
    distributor = account.industry_attributes.get("business_type") == "distributor"
    price_list = catalogue.distributor_prices if distributor else catalogue.list_prices
    first_product = catalogue.products[journey.products[0][0]]
    closes = opened + dt.timedelta(days=journey.close_after_days)
    deal = sales.deal_create(
        actor=by_rep,
        name=f"{account.name}: {first_product.name}",
        account_id=account.pk,
        owner_id=by_rep.user.pk,
        close_date=closes.date(),
        contacts=[{"contact_id": contact.pk, "role": "decision_maker"}],
        lines=[
            {"product_id": catalogue.products[p].pk, "quantity": q} for p, q in journey.products
        ],
        price_list_id=price_list.pk,
        at=opened,
    )
    rows = []
    for days, channel in journey.later:
        moment = (opened + dt.timedelta(days=days)).replace(microsecond=0)
        if moment < min(now, closes):
            touch = Touch(moment, channel)
            rows.append(
                touch_row(touch, contact=contact, actor_id=actor_of(touch, contact, field_reps))
            )

    def at(days: float | None) -> dt.datetime | None:
        if days is None:
            return None
        moment = (opened + dt.timedelta(days=days)).replace(microsecond=0)
        return moment if moment < now else None

    quoted = at(journey.quote_after_days)
    if quoted is None:
        return rows
    sales.deal_move(
        actor=by_rep,
        deal=deal,
        stage_id=catalogue.stages["Proposal"].pk,
        reason="Quote prepared",
        at=quoted,
    )
    quote = sales.quotes.quote_create(
        actor=by_rep, deal=deal, lines=sales.quotes.lines_from_deal(deal), valid_days=60, at=quoted
    )
    sales.quotes.quote_send(actor=by_rep, quote=quote)
    viewed = at(journey.view_after_days)
    if viewed is not None:
        sales.quotes.quote_viewed(quote=quote, ip=None, at=viewed)
    negotiating = at(journey.negotiate_after_days)
    if negotiating is None:
        return rows
    sales.deal_move(
        actor=by_rep,
        deal=deal,
        stage_id=catalogue.stages["Negotiation"].pk,
        reason="Terms under discussion",
        at=negotiating,
    )
    closed = at(journey.close_after_days)
    if closed is None or journey.outcome == "open":
        return rows
    if journey.outcome == "won_online":
        buyer = f"{contact.first_name} {contact.last_name}".strip()
        sales.quotes.quote_accept(quote=quote, name=buyer, ip=None, at=closed)
    elif journey.outcome == "won":
        sales.deal_win(actor=by_rep, deal=deal, reason="Signed the order", at=closed)
    else:
        reason = catalogue.loss_reasons[journey.loss_reason]
        sales.deal_lose(actor=by_rep, deal=deal, loss_reason_id=reason.pk, at=closed)
    return rows
