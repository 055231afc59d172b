"""The scoring API, mounted at /api/v1/leads/scoring: score groups and their rules, the preview of
the score distribution, switching on, and background jobs (rescoring, training) that answer at
once with their state (202) and are read again with GET.

Everything needs the `manage_scoring` capability (403 otherwise) and, to change anything, a
session or a write token. Bad input is a 400 with the reasons by field (`condition` for a rule's
condition, as the segment schema and compiler word them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.leads.models import PredictiveModel, ScoringJob, ScoringModel
from tandem.leads.scoring import (
    predictive,
    score_rule_create,
    score_rule_delete,
    scoring_model_activate,
    scoring_model_create,
)
from tandem.leads.scoring.jobs import scoring_job_start
from tandem.leads.scoring.preview import score_preview

router = Router(tags=["lead scoring"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class RuleOut(Schema):
    id: int
    kind: str
    field: str
    operator: str
    value: str
    key: str
    channel: str
    condition: dict[str, Any]
    points: float


class GroupOut(Schema):
    id: int
    name: str
    product_line: str
    mql_threshold: float
    half_life_days: float
    is_active: bool


class GroupDetailOut(GroupOut):
    rules: list[RuleOut]


class GroupIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    product_line: str = Field("", max_length=100)
    mql_threshold: float = Field(50, ge=-100000, le=100000)
    half_life_days: float = Field(30, gt=0, le=3650)


class RuleIn(Schema):
    kind: Literal["fit", "engagement"]
    condition: dict[str, Any] | None = Field(
        None,
        description='Fit: one segment condition, e.g. {"type": "field", "field": '
        '"contact.title", "op": "contains", "value": "engineer"} or {"type": "tag", "op": '
        '"has", "value": "vip"}.',
    )
    touchpoint_kind: str = Field("", max_length=200, description="Engagement: the kind.")
    channel: str = Field("", max_length=40, description="Engagement: only this channel.")
    points: float = Field(ge=-1000, le=1000)


class ActivateIn(Schema):
    active: bool


class Bin(Schema):
    low: float
    high: float
    count: int


class PreviewOut(Schema):
    contacts: int
    mean: float | None
    above_threshold: int
    scored: int
    bins: list[Bin]
    rules: dict[int, int] = Field(description="Contacts each rule gives points to, by rule id.")


class CalibrationRow(Schema):
    predicted: float
    observed: float
    count: int
    positives: int


class PredictiveOut(Schema):
    id: int
    trained_at: dt.datetime
    auc: float | None
    n_train: int
    n_test: int
    positives: int
    is_current: bool
    calibration: list[CalibrationRow]
    distribution: dict[str, Any]


class JobOut(Schema):
    id: int
    scoring_model_id: int
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: int
    stage: str
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any]
    predictive_model: PredictiveOut | None


class SwitchOut(Schema):
    predictive_model: PredictiveOut
    rescore: JobOut | None


def _who(request: HttpRequest, *, write: bool = False) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_scoring") or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("You may not change scoring."))
    return who


def _group(who: ApiCaller, model_id: int) -> ScoringModel:
    return get_scoped(who.user, ScoringModel, model_id)


def _detail(group: ScoringModel) -> dict[str, Any]:
    return {**GroupOut.model_validate(group).model_dump(), "rules": list(group.rules.all())}


@router.get("/models", response={200: list[GroupOut], **ERRORS})
def list_groups(request: HttpRequest) -> list[ScoringModel]:
    who = _who(request)
    return list(scoped(who.user, ScoringModel).order_by("product_line", "id"))


@router.post("/models", response={201: GroupDetailOut, **ERRORS})
def create_group(request: HttpRequest, payload: GroupIn) -> Status[dict[str, Any]]:
    """A new score group, switched off until reviewed (`POST …/activate`)."""
    who = _who(request, write=True)
    group = scoring_model_create(actor=who.actor, is_active=False, **payload.model_dump())
    return Status(201, _detail(group))


@router.get("/models/{model_id}", response={200: GroupDetailOut, **ERRORS})
def get_group(request: HttpRequest, model_id: int) -> dict[str, Any]:
    return _detail(_group(_who(request), model_id))


@router.post("/models/{model_id}/rules", response={201: RuleOut, **ERRORS})
def add_rule(request: HttpRequest, model_id: int, payload: RuleIn) -> Status[Any]:
    who = _who(request, write=True)
    group = _group(who, model_id)
    if payload.kind == "fit":
        rule = score_rule_create(
            actor=who.actor,
            scoring_model=group,
            kind="fit",
            field="condition",
            value="",
            condition=payload.condition,
            points=payload.points,
        )
    else:
        rule = score_rule_create(
            actor=who.actor,
            scoring_model=group,
            kind="engagement",
            field="touchpoint.kind",
            value=payload.touchpoint_kind,
            channel=payload.channel,
            points=payload.points,
        )
    return Status(201, rule)


@router.delete("/models/{model_id}/rules/{rule_id}", response={204: None, **ERRORS})
def delete_rule(request: HttpRequest, model_id: int, rule_id: int) -> Status[None]:
    who = _who(request, write=True)
    rule = _group(who, model_id).rules.filter(pk=rule_id).first()
    if rule is None:
        raise ApiError(404, "not_found", _("No such record."))
    score_rule_delete(actor=who.actor, rule=rule)
    return Status(204, None)


@router.get("/models/{model_id}/preview", response={200: PreviewOut, **ERRORS})
def preview(request: HttpRequest, model_id: int) -> dict[str, Any]:
    """The score distribution the group's rules would give every contact now (nothing stored)."""
    return score_preview(_group(_who(request), model_id))


@router.post("/models/{model_id}/activate", response={200: GroupOut, **ERRORS})
def activate(request: HttpRequest, model_id: int, payload: ActivateIn) -> ScoringModel:
    """Switch the group on (every contact is rescored in the background) or off."""
    who = _who(request, write=True)
    return scoring_model_activate(
        actor=who.actor, scoring_model=_group(who, model_id), active=payload.active
    )


def _job(job: ScoringJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "scoring_model_id": job.scoring_model_id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "stage": job.stage,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "result": job.result,
        "predictive_model": job.predictive_model,
    }


def _start(request: HttpRequest, model_id: int, kind: str) -> Status[dict[str, Any]]:
    who = _who(request, write=True)
    job, _created = scoring_job_start(
        actor=who.actor, scoring_model=_group(who, model_id), kind=kind
    )
    return Status(202, _job(job))


@router.post("/models/{model_id}/train", response={202: JobOut, **ERRORS})
def train(request: HttpRequest, model_id: int) -> Status[dict[str, Any]]:
    """Start training a predictive model in the background, or get the training already queued
    or running: 202 with the job's state at once. The trained model is not used until
    switched on (`POST …/predictive/{id}/switch-on`)."""
    return _start(request, model_id, ScoringJob.Kind.TRAIN)


@router.post("/models/{model_id}/rescore", response={202: JobOut, **ERRORS})
def rescore(request: HttpRequest, model_id: int) -> Status[dict[str, Any]]:
    """Start rescoring every contact in the background (or get the one running): 202."""
    return _start(request, model_id, ScoringJob.Kind.RESCORE)


def _get_job(request: HttpRequest, model_id: int, job_id: int, kind: str) -> dict[str, Any]:
    who = _who(request)
    group = _group(who, model_id)
    job = scoped(who.user, ScoringJob).filter(pk=job_id, scoring_model=group, kind=kind).first()
    if job is None:
        raise ApiError(404, "not_found", _("No such record."))
    return _job(job)


@router.get("/models/{model_id}/train/{job_id}", response={200: JobOut, **ERRORS})
def training_state(request: HttpRequest, model_id: int, job_id: int) -> dict[str, Any]:
    """A training's state and progress; once done, the trained model with its AUC, calibration
    table and the distribution of the probabilities it would give."""
    return _get_job(request, model_id, job_id, ScoringJob.Kind.TRAIN)


@router.get("/models/{model_id}/rescore/{job_id}", response={200: JobOut, **ERRORS})
def rescore_state(request: HttpRequest, model_id: int, job_id: int) -> dict[str, Any]:
    return _get_job(request, model_id, job_id, ScoringJob.Kind.RESCORE)


@router.get("/models/{model_id}/predictive", response={200: list[PredictiveOut], **ERRORS})
def list_predictive(request: HttpRequest, model_id: int) -> list[PredictiveModel]:
    who = _who(request)
    group = _group(who, model_id)
    return list(
        scoped(who.user, PredictiveModel).filter(scoring_model=group).order_by("-trained_at")[:20]
    )


@router.post(
    "/models/{model_id}/predictive/{predictive_id}/switch-on",
    response={200: SwitchOut, **ERRORS},
)
def switch_on(request: HttpRequest, model_id: int, predictive_id: int) -> dict[str, Any]:
    """Use this trained model for the group's probabilities (after review); rescoring starts."""
    who = _who(request, write=True)
    group = _group(who, model_id)
    chosen = scoped(who.user, PredictiveModel).filter(pk=predictive_id, scoring_model=group)
    model = chosen.first()
    if model is None:
        raise ApiError(404, "not_found", _("No such record."))
    model = predictive.predictive_switch_on(actor=who.actor, predictive_model=model)
    job = group.jobs.filter(kind=ScoringJob.Kind.RESCORE, status__in=ScoringJob.ACTIVE).first()
    return {"predictive_model": model, "rescore": _job(job) if job else None}
