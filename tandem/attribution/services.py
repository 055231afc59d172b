"""Attribution runs over the database: build journeys, run a model, store and serve the result.

    run = attribution_run(user=..., spec=JourneySpec(...), model="markov", order=2)
    run.result["credits"]["department"]   # [{name, conversions, value, share, lower, upper}]

Invariants:
- a result is computed over what ``user`` may see (`tandem.attribution.journeys` reads
  through ``scoped``): a rep's run covers only the rep's visible touchpoints and
  conversions, and the stored row is keyed by the user for every role that does not see
  everything, so one user's result is never served to another;
- results are cached in `AttributionRun`, keyed by a hash of model, parameters, scope and
  data version (max touchpoint id, touchpoint count, conversion count, latest deal
  change): new data, new key; the unique key makes concurrent computations store once;
- pages and the API never compute a run in the request: `runs_request` finds the stored run
  or the identical one being computed (the same row: the unique key) or queues a new one and
  enqueues `tasks.attribution_runs_compute` after commit; the worker claims each run with a
  conditional UPDATE (queued -> running), so a task delivered twice computes it once, reports
  the bootstrap replicates done as it goes, and stores the result (done) or the reason it
  failed (in the asker's language); a running run beats (``updated_at``) while its worker
  lives, so a run silent for TASKS_WORKER_STALE_SECONDS belongs to a killed worker: the task,
  run again once that worker counts as dead, takes it over and computes it from the start;
  when the task gives up for good the runs are failed with the reason; a run found running
  without a heartbeat for `STALE`, or queued that long, is queued and enqueued again; a failed
  run is queued again when asked for again (a page or API request, not a poll).
  `attribution_run` computes in the calling process (the command line, PDFs, exports, tests)
  and completes a waiting row the same way;
- per dimension, credits sum to the total conversions and value of the journeys (engine
  invariant), and each share comes with its bootstrap percentile interval;
- the cache row is not a business record: it is not audited;
- the head's credit adjustments (`credit_adjustment_record`, audited) never change a stored
  run: `department_credit_adjusted` shows them beside it, and the adjusted credits of a run
  sum to the same totals as the model's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tandem.attribution.engine import Journeys, bootstrap_credit, credit
from tandem.attribution.engine.models import MODELS
from tandem.attribution.engine.shapley import MAX_EXACT_PLAYERS
from tandem.attribution.engine.simulate import SimulatedData, default_scenario, simulate_journeys
from tandem.attribution.journeys import (
    CONVERSIONS,
    DIMENSIONS,
    DbJourneys,
    JourneySpec,
    build_journeys,
    data_version,
)
from tandem.attribution.models import AttributionRun, CreditAdjustment
from tandem.core.access import ALL, NONE, Action, _Everything, register, scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.interrupted_work import beating
from tandem.core.models import Department, User
from tandem.core.task_health import stale_after
from tandem.core.tasks import enqueue_on_commit
from tandem.sales.models import Deal

log = logging.getLogger(__name__)
MAX_BOOT = 1000
STALE = dt.timedelta(minutes=15)
BEAT_SECONDS = 0.5  # at most this often a running run's progress is written
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2199, 12, 31)
TOP_PATHS = 10
SIDE_BY_SIDE: tuple[str, ...] = ("first", "last", "linear", "position", "markov", "shapley")


def run_rule(user: User, action: Action) -> Q | _Everything:
    """Stored runs: head and admin see all; everyone else their own."""
    if action != "view":
        return NONE
    if user.sees_everything:
        return ALL
    return Q(user_id=user.pk)


def register_scopes() -> None:
    register(AttributionRun, run_rule)


@dataclass(frozen=True)
class ModelParams:
    """A model and its knobs; ``n_boot`` replicates give the intervals (0: none)."""

    model: str = "markov"
    order: int = 1
    half_life_days: float = 7.0
    n_boot: int = 100
    level: float = 0.95

    def engine_params(self) -> dict[str, Any]:
        if self.model == "markov":
            return {"order": self.order}
        if self.model == "time-decay":
            return {"half_life_days": self.half_life_days}
        return {}

    def as_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_boot": self.n_boot,
            "level": self.level,
            **self.engine_params(),
        }


def validate(spec: JourneySpec, params: ModelParams) -> None:
    """Raise `InvalidInput` naming each bad field."""
    errors: dict[str, list[str]] = {}
    if params.model not in MODELS:
        errors["model"] = [_("unknown model; choose from %(m)s") % {"m": ", ".join(MODELS)}]
    if not 1 <= params.order <= 3:
        errors["order"] = [_("must be 1, 2 or 3")]
    if not 0 < params.half_life_days <= 3650:
        errors["half_life_days"] = [_("must be between 0 and 3650 days")]
    if not 0 <= params.n_boot <= MAX_BOOT:
        errors["n_boot"] = [_("must be between 0 and %(n)d") % {"n": MAX_BOOT}]
    if not 0.5 <= params.level < 1:
        errors["level"] = [_("must be at least 0.5 and below 1")]
    if spec.end <= spec.start:
        errors["end"] = [_("must be after the start")]
    elif (spec.end - spec.start).days > 3660:
        errors["end"] = [_("the period may span at most ten years")]
    if not 0 <= spec.lookback_days <= 730:
        errors["lookback_days"] = [_("must be between 0 and 730 days")]
    if spec.unit not in ("contact", "account"):
        errors["unit"] = [_("must be contact or account")]
    conv = spec.conversion
    if conv not in CONVERSIONS and not (conv.startswith("event:") and 6 < len(conv) <= 66):
        errors["conversion"] = [
            _("choose deal_won, opportunity, mql or event:<kind>"),
        ]
    if len(spec.channels) > 100 or any(not c or len(c) > 40 for c in spec.channels):
        errors["channels"] = [_("at most 100 channel names of up to 40 characters")]
    if errors:
        raise InvalidInput(errors)


def build_request(
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    unit: str = "contact",
    conversion: str = "deal_won",
    lookback_days: int = 90,
    industry: str = "",
    team_id: int | None = None,
    channels: Iterable[str] = (),
    model: str = "markov",
    order: int = 1,
    half_life_days: float = 7.0,
    n_boot: int = 100,
    level: float = 0.95,
    today: dt.date | None = None,
) -> tuple[JourneySpec, ModelParams]:
    """A journey spec and model parameters from request values; the period's dates are
    inclusive (default: the 90 days up to today) and are UTC days. Raises `InvalidInput`."""
    errors: dict[str, list[str]] = {}
    texts = {"unit": unit, "conversion": conversion, "industry": industry, "model": model}
    channel_list = [str(c) for c in channels]
    for name, text in [*texts.items(), *(("channels", c) for c in channel_list)]:
        if "\x00" in text:
            errors[name] = [_("must not contain NUL characters")]
    last = end or today or dt.datetime.now(dt.UTC).date()
    for name, day in (("start", start), ("end", last)):
        if day is not None and not EARLIEST <= day <= LATEST:
            errors[name] = [_("must be between %(a)s and %(b)s") % {"a": EARLIEST, "b": LATEST}]
    if errors:
        raise InvalidInput(errors)
    first = start or last - dt.timedelta(days=89)
    if team_id is not None and not 0 < team_id < 2**31:
        errors["team_id"] = [_("no such team")]
    if errors:
        raise InvalidInput(errors)
    spec = JourneySpec(
        start=dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC),
        end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC),
        unit="account" if unit == "account" else "contact",
        conversion=conversion.strip(),
        lookback_days=lookback_days,
        industry=industry.strip(),
        team_id=team_id,
        channels=tuple(sorted({c.strip() for c in channel_list if c.strip()})),
    )
    params = ModelParams(
        model=model, order=order, half_life_days=half_life_days, n_boot=n_boot, level=level
    )
    if unit not in ("contact", "account"):
        errors["unit"] = [_("must be contact or account")]
    try:
        validate(spec, params)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return spec, params


def scope_of(user: User) -> str:
    return "all" if user.sees_everything else f"user:{user.pk}"


def run_key(scope: str, version: str, spec: JourneySpec, params: ModelParams) -> str:
    blob = json.dumps(
        {"scope": scope, "version": version, "spec": spec.as_params(), **params.as_params()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _model_for(j: Journeys, model: str) -> str:
    """Exact Shapley is limited to 20 players; above that the simplified value is identical."""
    if model == "shapley" and j.n_channels > MAX_EXACT_PLAYERS:
        return "simplified-shapley"
    return model


Progress = Callable[[int], None]


def dimension_credit(
    j: Journeys, params: ModelParams, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Rows ``{name, conversions, value, share, value_share, lower, upper}``, largest first.
    ``progress`` is told the bootstrap replicates done as they are done."""
    if j.n_journeys == 0:
        return []
    model = _model_for(j, params.model)
    extra = params.engine_params()
    res = credit(j, model, **extra)
    share = res.shares("conversions")
    value_share = res.shares("value")
    lower = upper = None
    if params.n_boot and j.conversions.sum() > 0:
        boot = bootstrap_credit(
            j, model, n_boot=params.n_boot, level=params.level, progress=progress, **extra
        )
        lower, upper = boot.lower, boot.upper
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(res.channels):
        rows.append(
            {
                "name": name,
                "conversions": float(res.conversions[i]),
                "value": float(res.value[i]),
                "share": float(share[i]),
                "value_share": float(value_share[i]),
                "lower": None if lower is None else float(lower[i]),
                "upper": None if upper is None else float(upper[i]),
            }
        )
    rows.sort(key=lambda r: (-r["conversions"], -r["value"], r["name"]))
    return rows


def top_paths(j: Journeys, limit: int = TOP_PATHS) -> list[dict[str, Any]]:
    """The most converting channel paths (repeats collapsed), with conversions and value."""
    if j.n_journeys == 0:
        return []
    agg, _rows = j.collapse_repeats().aggregate()
    order = np.lexsort((-agg.nulls, -agg.value, -agg.conversions))[:limit]
    return [
        {
            "path": " > ".join(agg.path(int(i))),
            "conversions": float(agg.conversions[i]),
            "value": float(agg.value[i]),
            "journeys": float(agg.conversions[i] + agg.nulls[i]),
        }
        for i in order
    ]


def replicates(params: ModelParams) -> int:
    """The bootstrap replicates a run computes: ``n_boot`` per dimension."""
    return params.n_boot * len(DIMENSIONS)


def compute(
    db: DbJourneys, params: ModelParams, progress: Progress | None = None
) -> dict[str, Any]:
    """The stored result of one run (pure: journeys in, JSON out); ``progress`` is told the
    replicates done over all dimensions (of `replicates(params)`)."""
    channel = db.journeys("channel")
    credits: dict[str, list[dict[str, Any]]] = {}
    for n, dim in enumerate(DIMENSIONS):
        before = n * params.n_boot

        def told(done: int, before: int = before) -> None:
            if progress is not None:
                progress(before + done)

        credits[dim] = dimension_credit(db.journeys(dim), params, told)
        told(params.n_boot)
    return {
        "model": params.model,
        "totals": {
            "journeys": db.n_journeys,
            "conversions": float(db.conversions.sum()),
            "value": float(db.value.sum()),
            "non_converting": float(db.nulls.sum()),
            "conversions_without_touches": db.conversions_without_touches,
        },
        "credits": credits,
        "top_paths": top_paths(channel),
    }


def spec_of(run: AttributionRun) -> JourneySpec:
    """The journey spec a run was asked for (from its stored parameters)."""
    p = run.params
    return JourneySpec(
        start=dt.datetime.fromisoformat(p["start"]),
        end=dt.datetime.fromisoformat(p["end"]),
        unit="account" if p.get("unit") == "account" else "contact",
        conversion=p.get("conversion", "deal_won"),
        lookback_days=int(p.get("lookback_days", 90)),
        industry=p.get("industry", ""),
        team_id=p.get("team_id"),
        channels=tuple(p.get("channels", ())),
        include_nulls=bool(p.get("include_nulls", True)),
    )


def params_of(run: AttributionRun) -> ModelParams:
    """The model parameters a run was asked for."""
    p = run.params
    return ModelParams(
        model=p.get("model", run.model),
        order=int(p.get("order", 1)),
        half_life_days=float(p.get("half_life_days", 7.0)),
        n_boot=int(p.get("n_boot", 0)),
        level=float(p.get("level", 0.95)),
    )


def _run_fields(
    key: str, scope: str, version: str, user: User, spec: JourneySpec, params: ModelParams
) -> dict[str, Any]:
    return {
        "key": key,
        "model": params.model,
        "params": {**spec.as_params(), **params.as_params()},
        "scope": scope,
        "data_version": version,
        "user": user,
        "progress_total": replicates(params),
    }


def attribution_run(*, user: User, spec: JourneySpec, params: ModelParams) -> AttributionRun:
    """The run of ``params`` over ``spec`` as ``user`` sees the data: stored, or computed now in
    this process (also when a worker has it queued: the first to finish stores it)."""
    validate(spec, params)
    scope = scope_of(user)
    version = data_version(user, spec)
    key = run_key(scope, version, spec, params)
    found = AttributionRun.objects.filter(key=key).first()
    if found is not None and found.is_done:
        return found
    started = time.perf_counter()
    result = compute(build_journeys(user, spec), params)
    seconds = time.perf_counter() - started
    now = timezone.now()
    done = {
        "status": AttributionRun.Status.DONE,
        "result": result,
        "seconds": seconds,
        "progress_done": replicates(params),
        "error": "",
        "finished_at": now,
        "updated_at": now,
    }
    if found is None:
        try:
            with transaction.atomic():
                return AttributionRun.objects.create(
                    **_run_fields(key, scope, version, user, spec, params), **done
                )
        except IntegrityError:  # asked for or computed concurrently: complete that row
            pass
    AttributionRun.objects.filter(key=key).exclude(status=AttributionRun.Status.DONE).update(**done)
    return AttributionRun.objects.get(key=key)


# --- runs in the background -------------------------------------------------------------------


def runs_request(
    *,
    user: User,
    spec: JourneySpec,
    params_list: Sequence[ModelParams],
    retry_failed: bool = True,
) -> list[AttributionRun]:
    """The runs of each of ``params_list`` over ``spec`` as ``user`` sees the data, at once:
    each stored (done), being computed (the identical queued or running run), or queued now.

    New runs, failed ones (when ``retry_failed``: a request, not a poll) and stale ones are
    queued and handed to one task after commit, which builds the journeys once for all of
    them. Raises `InvalidInput` for bad parameters."""
    for params in params_list:
        validate(spec, params)
    scope = scope_of(user)
    version = data_version(user, spec)
    now = timezone.now()
    runs: list[AttributionRun] = []
    queued: list[int] = []
    for params in params_list:
        key = run_key(scope, version, spec, params)
        run = AttributionRun.objects.filter(key=key).first()
        if run is None:
            try:
                with transaction.atomic():
                    run = AttributionRun.objects.create(
                        **_run_fields(key, scope, version, user, spec, params),
                        status=AttributionRun.Status.QUEUED,
                        created_at=now,
                        updated_at=now,
                    )
            except IntegrityError:  # another request asked for it in between
                run = AttributionRun.objects.get(key=key)
            else:
                queued.append(run.pk)
        elif _requeue(run, now, retry_failed):
            queued.append(run.pk)
            run.refresh_from_db()
        runs.append(run)
    if queued:
        from tandem.attribution.tasks import attribution_runs_compute

        enqueue_on_commit(attribution_runs_compute, queued)
        if not transaction.get_connection().in_atomic_block:  # enqueued now (a worker, or
            for run in runs:  # the immediate backend, which has run it already)
                if run.pk in queued:
                    run.refresh_from_db()
    return runs


def run_request(
    *, user: User, spec: JourneySpec, params: ModelParams, retry_failed: bool = True
) -> AttributionRun:
    """`runs_request` for one run."""
    return runs_request(user=user, spec=spec, params_list=[params], retry_failed=retry_failed)[0]


def _requeue(run: AttributionRun, now: dt.datetime, retry_failed: bool) -> bool:
    """Queue ``run`` again if it failed (and ``retry_failed``) or went silent; with a
    conditional UPDATE, so of two requests one re-enqueues it."""
    again = Q(status=AttributionRun.Status.QUEUED, updated_at__lt=now - STALE) | Q(
        status=AttributionRun.Status.RUNNING, updated_at__lt=now - STALE
    )
    if retry_failed:
        again |= Q(status=AttributionRun.Status.FAILED)
    if run.is_done:
        return False
    return bool(
        AttributionRun.objects.filter(again, pk=run.pk).update(
            status=AttributionRun.Status.QUEUED, error="", progress_done=0, updated_at=now
        )
    )


def runs_percent(runs: Sequence[AttributionRun]) -> int:
    """How far a set of runs is, 0 to 100: replicates done (a finished run counts one more
    step for its point estimates) over all of them."""
    done = total = 0
    for run in runs:
        total += run.progress_total + 1
        done += (
            run.progress_total + 1 if run.is_done else min(run.progress_done, run.progress_total)
        )
    return 100 if done >= total else int(100 * done / total)


class _Beat:
    """Writes a running run's progress (and heartbeat) at most every `BEAT_SECONDS`."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.last = 0.0

    def __call__(self, done: int) -> None:
        moment = time.monotonic()
        if moment - self.last < BEAT_SECONDS:
            return
        self.last = moment
        AttributionRun.objects.filter(pk=self.run_id, status=AttributionRun.Status.RUNNING).update(
            progress_done=done, updated_at=timezone.now()
        )


def _claim(run_id: int, now: dt.datetime) -> bool:
    """Queued, or running without a heartbeat for as long as a dead worker's (the run of a
    process that was killed: taken over)."""
    due = Q(status=AttributionRun.Status.QUEUED) | Q(
        status=AttributionRun.Status.RUNNING, updated_at__lt=now - stale_after()
    )
    return bool(
        AttributionRun.objects.filter(due, pk=run_id).update(
            status=AttributionRun.Status.RUNNING,
            started_at=now,
            updated_at=now,
            progress_done=0,
            error="",
        )
    )


MODEL_KEYS = frozenset(f.name for f in dataclasses.fields(ModelParams))


def runs_compute(run_ids: Sequence[int]) -> dict[int, str]:
    """The task's body: compute each of the runs that is still queued (claimed first), the
    journeys built once per asker and spec; returns each run's status afterwards."""
    now = timezone.now()
    claimed = [pk for pk in run_ids if _claim(pk, now)]
    groups: dict[tuple[int | None, str], list[AttributionRun]] = {}
    for run in AttributionRun.objects.filter(pk__in=claimed).select_related("user"):
        asked = {k: v for k, v in run.params.items() if k not in MODEL_KEYS}
        spec_key = json.dumps(asked, sort_keys=True, default=str)
        groups.setdefault((run.user_id, spec_key), []).append(run)
    for group in groups.values():
        ids = [run.pk for run in group]

        def beat(ids: list[int] = ids) -> None:  # while the journeys are built, too
            AttributionRun.objects.filter(pk__in=ids, status=AttributionRun.Status.RUNNING).update(
                updated_at=timezone.now()
            )

        with beating(beat, max(0.5, min(5.0, stale_after().total_seconds() / 4))):
            _compute_group(group)
    return dict(AttributionRun.objects.filter(pk__in=run_ids).values_list("pk", "status"))


def _compute_group(group: list[AttributionRun]) -> None:
    user = group[0].user
    language = (user.language if user else "") or settings.LANGUAGE_CODE
    with translation.override(language):
        left = list(group)
        try:
            if user is None:
                raise InvalidInput(_("The person who asked for this run no longer exists."))
            db = build_journeys(user, spec_of(group[0]))
            while left:
                run = left[0]
                started = time.perf_counter()
                params = params_of(run)
                result = compute(db, params, _Beat(run.pk))
                end = timezone.now()
                AttributionRun.objects.filter(
                    pk=run.pk, status=AttributionRun.Status.RUNNING
                ).update(
                    status=AttributionRun.Status.DONE,
                    result=result,
                    seconds=time.perf_counter() - started,
                    progress_done=replicates(params),
                    finished_at=end,
                    updated_at=end,
                )
                left.pop(0)
        except Exception as exc:  # a worker records the failure, whatever it was
            if not isinstance(exc, InvalidInput):
                log.exception("attribution runs %s failed", [r.pk for r in left])
            message = exc.message if isinstance(exc, InvalidInput) else str(exc)
            end = timezone.now()
            AttributionRun.objects.filter(
                pk__in=[r.pk for r in left], status=AttributionRun.Status.RUNNING
            ).update(
                status=AttributionRun.Status.FAILED,
                error=(message or type(exc).__name__)[:500],
                finished_at=end,
                updated_at=end,
            )


def runs_interrupted(*, run_ids: Sequence[int], reason: str) -> int:
    """The task computing ``run_ids`` gave up for good (its worker lost every time): the runs
    still queued or running are failed with ``reason`` (asking again queues them anew); how
    many were."""
    end = timezone.now()
    return AttributionRun.objects.filter(pk__in=run_ids, status__in=AttributionRun.ACTIVE).update(
        status=AttributionRun.Status.FAILED,
        error=f"interrupted: {reason}"[:500],
        finished_at=end,
        updated_at=end,
    )


def parse_models(text: str) -> tuple[str, ...]:
    """Comma-separated model names (1 to 12 known ones), in the given order."""
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in MODELS]
    if unknown or not 1 <= len(names) <= len(MODELS):
        raise InvalidInput({"models": [_("choose 1 or more of %(m)s") % {"m": ", ".join(MODELS)}]})
    return names


def side_by_side(params: ModelParams, models: tuple[str, ...] = SIDE_BY_SIDE) -> list[ModelParams]:
    """The parameters of each model of a comparison: intervals only for ``params.model``."""
    return [
        ModelParams(
            model=m,
            order=params.order,
            half_life_days=params.half_life_days,
            n_boot=0 if m != params.model else params.n_boot,
            level=params.level,
        )
        for m in models
    ]


def compare_models(
    *, user: User, spec: JourneySpec, params: ModelParams, models: tuple[str, ...] = SIDE_BY_SIDE
) -> dict[str, AttributionRun]:
    """Several models over the same journeys, computed in this process (each run cached on its
    own); pages and the API ask with `runs_request(params_list=side_by_side(...))`."""
    return {
        p.model: attribution_run(user=user, spec=spec, params=p)
        for p in side_by_side(params, models)
    }


def demo_journeys(n: int = 2000, seed: int = 0) -> SimulatedData:
    """Simulated multi-channel journeys with planted channel effects (same seed, same data)."""
    return simulate_journeys(n, default_scenario(), seed=seed)


# --- the head's adjustments of a deal's credit -------------------------------------------------
# A dispute about the credit for a deal ends, when the head says so, in a `CreditAdjustment`:
# the deal's credit per department as the head decided it. Reports keep the model's credit
# and show the adjusted credit beside it: for each adjusted deal among the run's conversions,
# the deal's own model credit (the run's model over that deal's journey alone) is taken out of
# its departments and the head's shares of the deal (one conversion, its amount) are put in.
# Totals stay the same; a deal without touches in the run's window is not in the journeys and
# its adjustment does not apply.

SHARE_TOLERANCE = 0.001


def credit_shares_clean(shares: Mapping[str, Any]) -> dict[str, float]:
    """Shares by department: each between 0 and 1, all of them summing to 1 (departments not
    named get 0). Raises InvalidInput naming what is wrong."""
    out = dict.fromkeys(Department.values, 0.0)
    errors: list[str] = []
    for name, value in shares.items():
        if name not in out:
            errors.append(_("%(d)s is not a department.") % {"d": name})
            continue
        try:
            share = float(value)
        except (TypeError, ValueError):
            errors.append(_("The share of %(d)s is not a number.") % {"d": name})
            continue
        if not 0.0 <= share <= 1.0 or share != share:
            errors.append(_("The share of %(d)s must be between 0 and 100 per cent.") % {"d": name})
            continue
        out[name] = share
    if not errors and abs(sum(out.values()) - 1.0) > SHARE_TOLERANCE:
        errors.append(_("The shares must add up to 100 per cent."))
    if errors:
        raise InvalidInput({"shares": errors})
    return {name: round(share, 6) for name, share in out.items()}


@transaction.atomic
def credit_adjustment_record(
    *,
    actor: Actor,
    deal: Deal,
    dispute: Any,
    shares: Mapping[str, Any],
    at: dt.datetime | None = None,
) -> CreditAdjustment:
    """Record the head's credit of `deal` per department, citing `dispute` (audited); `at`:
    when it was decided (default now)."""
    if actor.user is None or not actor.user.sees_everything:
        raise InvalidInput(_("Only the head adjusts credit."), code="forbidden")
    adjustment = CreditAdjustment.objects.create(
        deal=deal,
        dispute=dispute,
        shares=credit_shares_clean(shares),
        decided_by=actor.user,
        created_at=at or timezone.now(),
    )
    record_change(
        actor=actor, action="create", instance=adjustment, changes=diff({}, snapshot(adjustment))
    )
    return adjustment


def _adjustments_in(user: User, spec: JourneySpec) -> list[CreditAdjustment]:
    """The newest adjustment of each deal that is a conversion of `spec` and `user` sees."""
    if spec.conversion not in ("deal_won", "opportunity"):
        return []
    at = "closed_at" if spec.conversion == "deal_won" else "created_at"
    deals = scoped(user, Deal).filter(**{f"{at}__gte": spec.start, f"{at}__lt": spec.end})
    if spec.conversion == "deal_won":
        deals = deals.filter(status="won")
    newest: dict[int, CreditAdjustment] = {}
    rows = (
        CreditAdjustment.objects.filter(deal_id__in=deals.values("pk"))
        .select_related("deal", "dispute")
        .order_by("deal_id", "-created_at", "-id")
    )
    for adjustment in rows:
        newest.setdefault(adjustment.deal_id, adjustment)
    return sorted(newest.values(), key=lambda a: (a.created_at, a.pk))


def deal_model_shares(
    user: User, spec: JourneySpec, params: ModelParams, deal: Deal
) -> dict[str, float] | None:
    """The run's model over the deal's own journey: its share of the deal per department
    (None when the deal has no touch in the window, so it is not in the run's journeys)."""
    at = deal.closed_at if spec.conversion == "deal_won" else deal.created_at
    if at is None:
        return None
    one = dataclasses.replace(
        spec, start=at, end=at + dt.timedelta(microseconds=1), include_nulls=False
    )
    db = build_journeys(user, one)
    if db.n_journeys == 0 or db.conversions.sum() <= 0:
        return None
    journeys = db.journeys("department")
    result = credit(journeys, _model_for(journeys, params.model), **params.engine_params())
    shares = result.shares("conversions")
    return {name: float(shares[i]) for i, name in enumerate(result.channels) if shares[i] > 0}


def department_credit_adjusted(
    *, user: User, run: AttributionRun, spec: JourneySpec, params: ModelParams
) -> dict[str, Any]:
    """The run's credit by department beside the credit after the head's decisions.

    ``rows``: ``{name, model_conversions, model_value, model_share, conversions, value,
    share}`` per department; ``adjustments``: the decisions that apply, each with the deal, the
    model's and the head's shares of it and the decision's link."""
    model_rows = run.result.get("credits", {}).get("department", [])
    conversions = {r["name"]: float(r["conversions"]) for r in model_rows}
    value = {r["name"]: float(r["value"]) for r in model_rows}
    applied: list[dict[str, Any]] = []
    for adjustment in _adjustments_in(user, spec):
        deal = adjustment.deal
        own = deal_model_shares(user, spec, params, deal)
        if own is None:
            continue
        amount = float(deal.amount) if spec.conversion in ("deal_won", "opportunity") else 0.0
        for name in set(own) | set(adjustment.shares):
            delta = float(adjustment.shares.get(name, 0.0)) - own.get(name, 0.0)
            conversions[name] = conversions.get(name, 0.0) + delta
            value[name] = value.get(name, 0.0) + delta * amount
        applied.append(
            {
                "id": adjustment.pk,
                "deal_id": deal.pk,
                "deal": deal.name,
                "dispute_id": adjustment.dispute_id,
                "decision_url": reverse("leads:dispute_detail", args=[adjustment.dispute_id]),
                "decided_at": adjustment.created_at,
                "model_shares": own,
                "shares": {k: v for k, v in adjustment.shares.items() if v},
            }
        )
    total = sum(r["conversions"] for r in model_rows) or 1.0
    by_name = {r["name"]: r for r in model_rows}
    names = [r["name"] for r in model_rows] + sorted(
        n for n in conversions if n not in by_name and abs(conversions[n]) > 1e-9
    )
    rows = [
        {
            "name": name,
            "model_conversions": float(by_name[name]["conversions"]) if name in by_name else 0.0,
            "model_value": float(by_name[name]["value"]) if name in by_name else 0.0,
            "model_share": float(by_name[name]["share"]) if name in by_name else 0.0,
            "conversions": round(conversions[name], 9),
            "value": round(value[name], 6),
            "share": round(conversions[name] / total, 9),
        }
        for name in names
    ]
    return {"rows": rows, "adjustments": applied}
