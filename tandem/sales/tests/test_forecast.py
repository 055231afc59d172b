"""Forecast: fiscal periods, weighted and category totals per rep and team, scoped."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from tandem.core.audit import Actor
from tandem.core.models import Organisation
from tandem.sales import services
from tandem.sales.forecast import forecast, period_containing, period_shift


def test_fiscal_periods_start_in_april():
    q = period_containing(dt.date(2025, 2, 14), "quarter", 4)
    assert (q.start, q.end, q.label) == (dt.date(2025, 1, 1), dt.date(2025, 4, 1), "Q4 FY2024/25")
    y = period_containing(dt.date(2025, 4, 1), "year", 4)
    assert (y.start, y.end, y.label) == (dt.date(2025, 4, 1), dt.date(2026, 4, 1), "FY2025/26")
    nxt = period_shift(q, 1, 4)
    assert (nxt.start, nxt.label) == (dt.date(2025, 4, 1), "Q1 FY2025/26")
    assert period_containing(dt.date(2025, 11, 30), "quarter", 1).start == dt.date(2025, 10, 1)
    m = period_containing(dt.date(2025, 12, 31), "month", 1)
    assert (m.start, m.end) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))


def _make(world, sales, role, side, amount, stage, close, **extra):  # type: ignore[no-untyped-def]
    rep = world.user(role, side)
    deal = services.deal_create(
        actor=Actor(user=rep),
        name=f"{side} {amount}",
        owner_id=rep.pk,
        amount=amount,
        close_date=close,
        **extra,
    )
    if stage in ("Propose", "Negotiate"):
        services.deal_move(actor=Actor(user=rep), deal=deal, stage_id=sales.stages[stage].pk)
    return deal


def test_forecast_weighted_and_by_category_per_rep_and_team(world, sales):
    org = Organisation.current()
    org.fiscal_year_start_month = 4
    org.save(update_fields=["fiscal_year_start_month"])
    q4 = period_containing(dt.date(2025, 2, 1), "quarter", 4)
    with time_machine.travel(dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC), tick=False):
        _make(world, sales, "sales_rep", "north", "1000", "Qualify", dt.date(2025, 3, 1))
        _make(world, sales, "sales_rep", "north", "2000", "Propose", dt.date(2025, 3, 31))
        _make(world, sales, "head", "north", "500", "Negotiate", dt.date(2025, 1, 2))
        won = _make(world, sales, "sales_rep", "north", "300", "Qualify", dt.date(2025, 6, 1))
        services.deal_win(actor=Actor.system(), deal=won)
        lost = _make(world, sales, "sales_rep", "north", "700", "Qualify", dt.date(2025, 3, 1))
        services.deal_lose(actor=Actor.system(), deal=lost, loss_reason_id=sales.reason.pk)
        omitted = _make(world, sales, "sales_rep", "north", "900", "Qualify", dt.date(2025, 3, 1))
        services.deal_update(actor=Actor.system(), deal=omitted, forecast_category="omitted")
        _make(world, sales, "sales_rep", "north", "4000", "Qualify", dt.date(2025, 4, 1))
        _make(
            world,
            sales,
            "sales_rep",
            "north",
            "80",
            "Qualify",
            dt.date(2025, 3, 1),
            currency_code="RUB",
        )
        _make(world, sales, "sales_rep", "south", "10000", "Negotiate", dt.date(2025, 3, 1))

    head = forecast(world.user("head"), period=q4)
    by_name = {r["name"]: r for r in head["rows"]}
    north = by_name["sales_rep_north"]
    assert (north["pipeline"], north["best_case"], north["commit"], north["closed"]) == (
        Decimal("1000.00"),
        Decimal("2000.00"),
        Decimal("0.00"),
        Decimal("300.00"),
    )
    # 1000 * 10 % + 2000 * 40 % + 300 (won) = 1200
    assert (north["weighted"], north["deals"]) == (Decimal("1200.00"), 3)
    assert by_name["head_north"]["commit"] == Decimal("500.00")
    assert by_name["head_north"]["weighted"] == Decimal("400.00")
    assert by_name["sales_rep_south"]["weighted"] == Decimal("8000.00")
    assert head["totals"]["weighted"] == Decimal("9600.00")
    assert head["totals"]["deals"] == 5

    teams = {
        r["name"]: r["weighted"]
        for r in forecast(world.user("head"), period=q4, group_by="team")["rows"]
    }
    assert teams == {"North sales": Decimal("1600.00"), "South sales": Decimal("8000.00")}

    rep = forecast(world.user("sales_rep", "south"), period=q4)
    assert [r["name"] for r in rep["rows"]] == ["sales_rep_south"]
    assert rep["totals"]["weighted"] == Decimal("8000.00")

    rub = forecast(world.user("head"), period=q4, currency="RUB")
    assert rub["totals"]["pipeline"] == Decimal("80.00")
    assert forecast(world.user("field_rep", "north"), period=q4)["totals"]["deals"] == 0
