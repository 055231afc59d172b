"""Attribution API (thin: parse the query, call `tandem.attribution.services`, render).

    GET /api/v1/attribution/credit     one model over a period/segment: credit by channel,
                                       campaign, content, person and department with intervals,
                                       the top paths and totals; by department also the credit
                                       after the head's dispute decisions (linked)
    GET /api/v1/attribution/compare    several models side by side (channel and department)
    GET /api/v1/attribution/runs/{id}  a run's state and progress, and its result once done

Long work never blocks a request: a run that is not stored yet is computed by a worker.
``/credit`` and ``/compare`` answer 200 with the result when every run they need is stored,
else 202 at once with the state of the run(s) (queued or running, replicates done of total,
or failed with the reason) and ``url``, the run to poll; asking again for the same thing finds
the same run (one computation), and asking again after a failure queues it again.

Invariants: results cover only what the caller may see (the services read through
``scoped``; a run is visible to whoever may see its result: its asker, and head and admin);
bad parameters are a 400 naming the field; results are cached per model, parameters, scope
and data version (`AttributionRun`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from tandem.attribution import services
from tandem.attribution.models import AttributionRun
from tandem.core.access import scoped
from tandem.core.api_auth import caller
from tandem.core.api_errors import ApiError, Error

router = Router(tags=["attribution"])

ERRORS: dict[int, Any] = {400: Error, 401: Error, 422: Error, 429: Error}
READ_ERRORS: dict[int, Any] = {401: Error, 404: Error, 429: Error}


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


class RunStateOut(Schema):
    id: int
    model: str
    status: str = Field(description="queued, running, done or failed")
    progress: int = Field(description="per cent done (100 once done)")
    replicates_done: int = Field(description="bootstrap replicates computed so far")
    replicates_total: int = Field(description="bootstrap replicates of the run (n_boot x 5)")
    error: str = Field(description="why it failed (empty unless failed)")
    url: str = Field(description="GET this to follow the run")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class RunJobOut(RunStateOut):
    result: RunOut | None = Field(None, description="the result, once done")


class CompareStateOut(Schema):
    status: str = Field(description="running while any run is queued or running, else failed")
    progress: int = Field(description="per cent done over all the runs")
    runs: list[RunStateOut]


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


def run_state(run: AttributionRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "model": run.model,
        "status": run.status,
        "progress": run.percent,
        "replicates_done": run.progress_total if run.is_done else run.progress_done,
        "replicates_total": run.progress_total,
        "error": run.error,
        "url": reverse("api:attribution_run", args=[run.pk]),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def runs_state(runs: list[AttributionRun]) -> dict[str, Any]:
    return {
        "status": "running" if any(r.is_active for r in runs) else "failed",
        "progress": services.runs_percent(runs),
        "runs": [run_state(r) for r in runs],
    }


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


def _result(user: Any, run: AttributionRun) -> dict[str, Any]:
    adjusted = services.department_credit_adjusted(
        user=user, run=run, spec=services.spec_of(run), params=services.params_of(run)
    )
    return {**run_out(run), "department_adjusted": adjusted}


@router.get("/credit", response={200: RunOut, 202: RunStateOut, **ERRORS})
def credit(request: HttpRequest, q: Query[RunQuery]) -> Any:
    """Credit of one model by channel, campaign, content, person and department, and by
    department beside the credit after the head's decisions on disputed deals (200); or, when
    the run is not stored yet, 202 at once with its state and the URL to poll."""
    spec, params = _request(q)
    user = caller(request).user
    run = services.run_request(user=user, spec=spec, params=params)
    if not run.is_done:
        return Status(202, run_state(run))
    return _result(user, run)


@router.get("/compare", response={200: CompareOut, 202: CompareStateOut, **ERRORS})
def compare(request: HttpRequest, q: Query[CompareQuery]) -> Any:
    """Models side by side: credit by channel and by department (intervals for ``model``);
    202 with the runs' states while any of them is being computed."""
    spec, params = _request(q)
    models = services.parse_models(q.models)
    runs = services.runs_request(
        user=caller(request).user, spec=spec, params_list=services.side_by_side(params, models)
    )
    if not all(r.is_done for r in runs):
        return Status(202, runs_state(runs))
    return {
        "models": {
            run.model: {dim: run.result["credits"][dim] for dim in ("channel", "department")}
            for run in runs
        }
    }


@router.get("/runs/{run_id}", response={200: RunJobOut, **READ_ERRORS}, url_name="attribution_run")
def run_detail(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """A run's state and progress; ``result`` holds the result once it is done. Following a
    run never starts or retries it (ask ``/credit`` again for that)."""
    user = caller(request).user
    run = scoped(user, AttributionRun).filter(pk=run_id).first()
    if run is None:
        raise ApiError(404, "not_found", _("No such attribution run."))
    return {**run_state(run), "result": _result(user, run) if run.is_done else None}
