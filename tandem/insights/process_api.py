"""API of the process analytics, computed by `tandem.insights.process` as the page does.

    GET /api/v1/insights/process?from=2026-10-01&to=2026-12-31[&team=3][&industry=medical]
        [&channel=email][&rep=7][&by=rep|team|channel|industry]

Dates are local days (the caller's time zone, else the organisation's), both inclusive. A bad
date, a reversed range, an unknown team, rep, industry, channel shape or breakdown is a 400
naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from tandem.core.api_auth import caller
from tandem.core.api_errors import Error
from tandem.core.errors import InvalidInput
from tandem.core.models import Team, User
from tandem.crm.models import Industry
from tandem.insights import process
from tandem.insights.channels import is_channel
from tandem.insights.periods import window, zone_of

router = Router(tags=["insights"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 429: Error}
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


class ProcessQuery(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: str = Field(alias="from", pattern=ISO_DAY, description="first day, YYYY-MM-DD")
    end: str = Field(alias="to", pattern=ISO_DAY, description="last day, YYYY-MM-DD, inclusive")
    team: int | None = Field(None, ge=1, lt=2**31, description="a team's id")
    industry: str = Field("", description="the accounts' industry")
    channel: str = Field("", max_length=40, description="first-touch channel, or none")
    rep: int | None = Field(None, ge=1, lt=2**31, description="a rep's user id")
    by: str = Field("rep", description="breakdown: rep, team, channel or industry")


class PeriodOut(Schema):
    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")
    time_zone: str


class FlowOut(Schema):
    key: str = Field(description="the stage's id (deals) or lifecycle stage (leads)")
    label: str
    pipeline: str = Field(description="the pipeline's name (deals); empty for leads")
    entered: int
    advanced: int | None = Field(description="of those entering, how many reached a later stage")
    conversion: float | None
    median_days_to_next: float | None
    median_days_in_stage: float | None


class WaitOut(Schema):
    stage_id: int
    stage: str
    pipeline: str
    open_now: int
    median_days_now: float | None
    history: int = Field(description="ended stays in the stage")
    median_days: float | None
    p75_days: float | None
    over_p75: int
    ratio: float | None = Field(description="median wait now over the historical median")


class OutlierOut(Schema):
    deal_id: int
    name: str
    owner: str
    stage: str
    days: float
    p75_days: float


class BreakdownOut(Schema):
    key: str
    label: str
    leads: int
    mql: int
    mql_rate: float | None
    sql: int
    sql_rate: float | None
    deals: int
    won: int
    win_rate: float | None
    median_days_to_win: float | None


class CohortCellOut(Schema):
    milestone: str
    days: int
    reached: int
    eligible: int
    rate: float | None


class CohortOut(Schema):
    month: str = Field(description="YYYY-MM")
    leads: int
    cells: list[CohortCellOut]


class ProcessOut(Schema):
    period: PeriodOut
    team: int | None
    industry: str
    channel: str
    rep: int | None
    by: str
    complete: bool
    deal_flow: list[FlowOut]
    lead_flow: list[FlowOut]
    waiting: list[WaitOut]
    outliers: list[OutlierOut]
    breakdown: list[BreakdownOut]
    cohorts: list[CohortOut]


def _day(name: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({name: [_("%(day)s is not a date") % {"day": text}]}) from None


def filters_checked(
    *, team: int | None, industry: str, channel: str, rep: int | None, by: str
) -> process.Filters:
    """The filters, or InvalidInput naming each bad one."""
    errors: dict[str, list[str]] = {}
    if team is not None and not Team.objects.filter(pk=team).exists():
        errors["team"] = [_("No such team.")]
    if rep is not None and not User.objects.filter(pk=rep).exists():
        errors["rep"] = [_("No such user.")]
    if industry and industry not in Industry.values:
        errors["industry"] = [_("choose one of %(m)s") % {"m": ", ".join(Industry.values)}]
    channel = channel.strip().lower()
    if channel and not is_channel(channel):
        errors["channel"] = [_("A channel is a name such as email or organic_search.")]
    if by not in process.BREAKDOWNS:
        errors["by"] = [_("choose one of %(m)s") % {"m": ", ".join(process.BREAKDOWNS)}]
    if errors:
        raise InvalidInput(errors)
    return process.Filters(team_id=team, industry=industry, channel=channel, rep_id=rep)


def flow_json(row: process.StageFlow) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "pipeline": row.group,
        "entered": row.entered,
        "advanced": row.advanced,
        "conversion": None if row.conversion is None else round(row.conversion, 4),
        "median_days_to_next": row.median_days_to_next,
        "median_days_in_stage": row.median_days_in_stage,
    }


def process_json(p: process.Process) -> dict[str, Any]:
    def rate(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "period": {"start": p.window.first, "end": p.window.last, "time_zone": p.window.zone.key},
        "team": p.filters.team_id,
        "industry": p.filters.industry,
        "channel": p.filters.channel,
        "rep": p.filters.rep_id,
        "by": p.by,
        "complete": p.complete,
        "deal_flow": [flow_json(r) for r in p.deal_flow],
        "lead_flow": [flow_json(r) for r in p.lead_flow],
        "waiting": [
            {
                "stage_id": w.stage_id,
                "stage": w.label,
                "pipeline": w.pipeline,
                "open_now": w.open_now,
                "median_days_now": w.median_days_now,
                "history": w.history,
                "median_days": w.median_days,
                "p75_days": w.p75_days,
                "over_p75": w.over_p75,
                "ratio": w.ratio,
            }
            for w in p.waiting
        ],
        "outliers": [
            {
                "deal_id": o.deal_id,
                "name": o.name,
                "owner": o.owner,
                "stage": o.stage,
                "days": o.days,
                "p75_days": o.p75_days,
            }
            for o in p.outliers
        ],
        "breakdown": [
            {
                "key": b.key,
                "label": b.label,
                "leads": b.leads,
                "mql": b.mql,
                "mql_rate": rate(b.mql_rate),
                "sql": b.sql,
                "sql_rate": rate(b.sql_rate),
                "deals": b.deals,
                "won": b.won,
                "win_rate": rate(b.win_rate),
                "median_days_to_win": b.median_days_to_win,
            }
            for b in p.breakdown
        ],
        "cohorts": [
            {
                "month": f"{c.month:%Y-%m}",
                "leads": c.leads,
                "cells": [
                    {"milestone": m, "days": h, "reached": n, "eligible": e, "rate": rate(r)}
                    for m, h, n, e, r in c.cells
                ],
            }
            for c in p.cohorts
        ],
    }


@router.get("/process", response={200: ProcessOut, **ERRORS}, by_alias=True)
def process_summary(request: HttpRequest, params: Query[ProcessQuery]) -> dict[str, Any]:
    """Stage-to-stage conversion and velocity of deals and leads, the stages where deals wait
    longest now, a breakdown and the monthly lead cohorts, as the caller may see them."""
    user = caller(request).user
    span = window(_day("from", params.start), _day("to", params.end), zone_of(user))
    filters = filters_checked(
        team=params.team,
        industry=params.industry,
        channel=params.channel,
        rep=params.rep,
        by=params.by,
    )
    return process_json(process.process(user, window=span, filters=filters, by=params.by))
