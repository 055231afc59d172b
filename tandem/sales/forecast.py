"""Sales forecast: weighted and by category, per rep or team, for a fiscal period.

Definitions (docs/sales.md):
- a deal counts in a period when it is open with its expected close date inside the period, or
  won with its close moment inside the period; lost deals never count;
- its category is "closed" when won; else the rep's override on the deal, else its stage's;
  an "omitted" deal is listed in no category and in no weighted total;
- weighted = amount * stage probability / 100 (a won deal is at 100 %);
- only deals in one currency are summed (the organisation's by default): amounts in different
  currencies are never added together.

Invariants: everything is computed by the database in one grouped query (plus one for totals);
the totals row equals the sum of the group rows; the caller's scope applies, so a rep's forecast
never includes a deal they cannot see.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from tandem.core.access import scoped
from tandem.core.models import Organisation
from tandem.sales.models import Deal, DealStatus, ForecastCategory

PeriodKind = Literal["month", "quarter", "year"]
GroupBy = Literal["owner", "team"]
CENT = Decimal("0.01")
CATEGORIES = [
    ForecastCategory.PIPELINE,
    ForecastCategory.BEST_CASE,
    ForecastCategory.COMMIT,
    ForecastCategory.CLOSED,
]


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date  # inclusive
    end: dt.date  # exclusive
    label: str


# The days a forecast may be asked about: the periods around them (previous, next) exist too.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def fiscal_year_start(day: dt.date, start_month: int) -> dt.date:
    year = day.year if day.month >= start_month else day.year - 1
    return dt.date(year, start_month, 1)


def fiscal_year_label(fy_start: dt.date) -> str:
    if fy_start.month == 1:
        return f"FY{fy_start.year}"
    return f"FY{fy_start.year}/{str(fy_start.year + 1)[-2:]}"


def period_containing(day: dt.date, kind: PeriodKind, start_month: int) -> Period:
    """The fiscal month, quarter or year that contains `day`."""
    fy = fiscal_year_start(day, start_month)
    label_fy = fiscal_year_label(fy)
    if kind == "year":
        return Period("year", fy, _add_months(fy, 12), label_fy)
    offset = (day.year - fy.year) * 12 + day.month - fy.month
    if kind == "quarter":
        quarter = offset // 3
        start = _add_months(fy, quarter * 3)
        return Period("quarter", start, _add_months(start, 3), f"Q{quarter + 1} {label_fy}")
    start = dt.date(day.year, day.month, 1)
    return Period("month", start, _add_months(start, 1), f"{start:%Y-%m} ({label_fy})")


def period_shift(period: Period, steps: int, start_month: int) -> Period:
    months = {"month": 1, "quarter": 3, "year": 12}[period.kind]
    return period_containing(
        _add_months(period.start, months * steps),
        period.kind,  # type: ignore[arg-type]
        start_month,
    )


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    org = Organisation.current()
    try:
        zone = zoneinfo.ZoneInfo(org.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return (
        dt.datetime.combine(period.start, dt.time(), tzinfo=zone),
        dt.datetime.combine(period.end, dt.time(), tzinfo=zone),
    )


def _category_q(category: str) -> Q:
    if category == ForecastCategory.CLOSED:
        return Q(status=DealStatus.WON)
    return Q(status=DealStatus.OPEN) & (
        Q(forecast_category=category) | Q(forecast_category="", stage__forecast_category=category)
    )


def _aggregates() -> dict[str, Any]:
    money = DecimalField(max_digits=20, decimal_places=4)
    zero = Value(Decimal("0"), output_field=money)
    counted = ~(_category_q(ForecastCategory.OMITTED))
    weighted = ExpressionWrapper(
        F("amount") * F("stage__probability") / Value(100), output_field=money
    )
    values: dict[str, Any] = {
        c.value: Coalesce(Sum("amount", filter=_category_q(c)), zero, output_field=money)
        for c in CATEGORIES
    }
    values["weighted"] = Coalesce(Sum(weighted, filter=counted), zero, output_field=money)
    values["deals"] = Count("id", filter=counted)
    return values


def _money(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in [*(c.value for c in CATEGORIES), "weighted"]:
        out[key] = Decimal(str(row[key])).quantize(CENT, rounding=ROUND_HALF_UP)
    return out


def forecast(
    user: object,
    *,
    period: Period,
    group_by: GroupBy = "owner",
    currency: str | None = None,
) -> dict[str, Any]:
    """Forecast rows per rep (or team) and a totals row, for the deals the user may see."""
    code = (currency or Organisation.current().currency).upper()
    start_at, end_at = _bounds(period)
    deals = (
        scoped(user, Deal)
        .filter(currency=code)
        .filter(
            Q(status=DealStatus.OPEN, close_date__gte=period.start, close_date__lt=period.end)
            | Q(status=DealStatus.WON, closed_at__gte=start_at, closed_at__lt=end_at)
        )
    )
    if group_by == "team":
        keys = ["owner__team_id", "owner__team__name"]
    else:
        keys = ["owner_id", "owner__username", "owner__first_name", "owner__last_name"]
    rows = [_money(r) for r in deals.values(*keys).annotate(**_aggregates()).order_by(*keys)]
    for row in rows:
        if group_by == "team":
            row["key"], row["name"] = row.pop("owner__team_id"), row.pop("owner__team__name")
        else:
            row["key"] = row.pop("owner_id")
            full = f"{row.pop('owner__first_name') or ''} {row.pop('owner__last_name') or ''}"
            username = row.pop("owner__username")
            row["name"] = full.strip() or username
    totals = _money(deals.aggregate(**_aggregates()))
    return {
        "period": period,
        "currency": code,
        "group_by": group_by,
        "rows": rows,
        "totals": totals,
    }
