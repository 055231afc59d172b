"""Attribution API (thin: parse the query, call `tandem.attribution.services`, render).

    GET /api/v1/attribution/credit   one model over a period/segment: credit by channel,
                                     campaign, content, person and department with intervals,
                                     the top paths and totals; by department also the credit
                                     after the head's dispute decisions (linked)
    GET /api/v1/attribution/compare  several models side by side (channel and department)

Invariants: results cover only what the caller may see (the services read through
``scoped``); bad parameters are a 400 naming the field; results are cached per model,
parameters, scope and data version (`AttributionRun`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tandem.attribution import services
from tandem.attribution.models import AttributionRun
from tandem.core.api_auth import caller
from tandem.core.api_errors import Error

router = Router(tags=["attribution"])

ERRORS: dict[int, Any] = {400: Error, 401: Error, 422: Error, 429: Error}


class RunQuery(Schema):
    model: str = Field("markov", description="first, last, linear, position, markov, shapley…")
    start: dt.date | None = Field(None, description="first day of conversions (UTC)")
    end: dt.date | None = Field(None, description="last day of conversions (inclusive)")
    unit: str = Field("contact", description="contact, or account (B2B buying group)")
    conversion: str = Field("deal_won", description="deal_won, opportunity, mql, event:<kind>")
    lookback_days: int = Field(90, ge=0, le=730)
    industry: str = Field("", max_length=20)
    team_id: int | None = Field(None, description="owner team of the account (or contact)")
    channels: str = Field("", max_length=4000, description="comma-separated channels to keep")
    order: int = Field(1, ge=1, le=3, description="Markov order")
    half_life_days: float = Field(7.0, gt=0, le=3650)
    n_boot: int = Field(100, ge=0, le=services.MAX_BOOT, description="bootstrap replicates")
    level: float = Field(0.95, ge=0.5, lt=1)


class CompareQuery(RunQuery):
    models: str = Field(
        ",".join(services.SIDE_BY_SIDE), max_length=300, description="comma-separated models"
    )


class CreditRow(Schema):
    name: str
    conversions: float
    value: float
    share: float
    value_share: float
    lower: float | None
    upper: float | None


class PathRow(Schema):
    path: str
    conversions: float
    value: float
    journeys: float


class Totals(Schema):
    journeys: int
    conversions: float
    value: float
    non_converting: float
    conversions_without_touches: int


class AdjustedRow(Schema):
    name: str = Field(description="department")
    model_conversions: float = Field(description="the model's credit (conversions)")
    model_value: float
    model_share: float
    conversions: float = Field(description="credit after the head's decisions")
    value: float
    share: float


class AdjustmentOut(Schema):
    id: int
    deal_id: int
    deal: str
    dispute_id: int
    decision_url: str = Field(description="the page of the dispute and its decision")
    decided_at: dt.datetime
    model_shares: dict[str, float] = Field(description="the model's shares of the deal")
    shares: dict[str, float] = Field(description="the head's shares of the deal")


class AdjustedCredit(Schema):
    rows: list[AdjustedRow]
    adjustments: list[AdjustmentOut]


class RunOut(Schema):
    id: int
    model: str
    params: dict[str, Any]
    data_version: str
    computed_seconds: float
    created_at: dt.datetime
    totals: Totals
    credits: dict[str, list[CreditRow]]
    top_paths: list[PathRow]
    department_adjusted: AdjustedCredit | None = Field(
        None,
        description="credit by department beside the credit after the head's dispute "
        "decisions about deals among the conversions, each decision linked",
    )


class CompareOut(Schema):
    models: dict[str, dict[str, list[CreditRow]]]


def _request(q: RunQuery) -> Any:
    return services.build_request(
        start=q.start,
        end=q.end,
        unit=q.unit,
        conversion=q.conversion,
        lookback_days=q.lookback_days,
        industry=q.industry,
        team_id=q.team_id,
        channels=q.channels.split(","),
        model=q.model,
        order=q.order,
        half_life_days=q.half_life_days,
        n_boot=q.n_boot,
        level=q.level,
    )


def run_out(run: AttributionRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "model": run.model,
        "params": run.params,
        "data_version": run.data_version,
        "computed_seconds": run.seconds,
        "created_at": run.created_at,
        **run.result,
    }


@router.get("/credit", response={200: RunOut, **ERRORS})
def credit(request: HttpRequest, q: Query[RunQuery]) -> dict[str, Any]:
    """Credit of one model by channel, campaign, content, person and department, and by
    department beside the credit after the head's decisions on disputed deals."""
    spec, params = _request(q)
    user = caller(request).user
    run = services.attribution_run(user=user, spec=spec, params=params)
    adjusted = services.department_credit_adjusted(user=user, run=run, spec=spec, params=params)
    return {**run_out(run), "department_adjusted": adjusted}


@router.get("/compare", response={200: CompareOut, **ERRORS})
def compare(request: HttpRequest, q: Query[CompareQuery]) -> dict[str, Any]:
    """Models side by side: credit by channel and by department (intervals for ``model``)."""
    spec, params = _request(q)
    models = services.parse_models(q.models)
    runs = services.compare_models(
        user=caller(request).user, spec=spec, params=params, models=models
    )
    return {
        "models": {
            name: {dim: run.result["credits"][dim] for dim in ("channel", "department")}
            for name, run in runs.items()
        }
    }
