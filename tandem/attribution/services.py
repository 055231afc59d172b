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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
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
from tandem.core.models import Department, User
from tandem.sales.models import Deal

MAX_BOOT = 1000
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


def dimension_credit(j: Journeys, params: ModelParams) -> list[dict[str, Any]]:
    """Rows ``{name, conversions, value, share, value_share, lower, upper}``, largest first."""
    if j.n_journeys == 0:
        return []
    model = _model_for(j, params.model)
    extra = params.engine_params()
    res = credit(j, model, **extra)
    share = res.shares("conversions")
    value_share = res.shares("value")
    lower = upper = None
    if params.n_boot and j.conversions.sum() > 0:
        boot = bootstrap_credit(j, model, n_boot=params.n_boot, level=params.level, **extra)
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


def compute(db: DbJourneys, params: ModelParams) -> dict[str, Any]:
    """The stored result of one run (pure: journeys in, JSON out)."""
    channel = db.journeys("channel")
    return {
        "model": params.model,
        "totals": {
            "journeys": db.n_journeys,
            "conversions": float(db.conversions.sum()),
            "value": float(db.value.sum()),
            "non_converting": float(db.nulls.sum()),
            "conversions_without_touches": db.conversions_without_touches,
        },
        "credits": {dim: dimension_credit(db.journeys(dim), params) for dim in DIMENSIONS},
        "top_paths": top_paths(channel),
    }


def attribution_run(*, user: User, spec: JourneySpec, params: ModelParams) -> AttributionRun:
    """The run of ``params`` over ``spec`` as ``user`` sees the data: stored or computed now."""
    validate(spec, params)
    scope = scope_of(user)
    version = data_version(user, spec)
    key = run_key(scope, version, spec, params)
    found = AttributionRun.objects.filter(key=key).first()
    if found is not None:
        return found
    started = time.perf_counter()
    result = compute(build_journeys(user, spec), params)
    seconds = time.perf_counter() - started
    try:
        with transaction.atomic():
            return AttributionRun.objects.create(
                key=key,
                model=params.model,
                params={**spec.as_params(), **params.as_params()},
                scope=scope,
                data_version=version,
                user=user,
                result=result,
                seconds=seconds,
            )
    except IntegrityError:  # computed concurrently: the stored row wins
        return AttributionRun.objects.get(key=key)


def parse_models(text: str) -> tuple[str, ...]:
    """Comma-separated model names (1 to 12 known ones), in the given order."""
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in MODELS]
    if unknown or not 1 <= len(names) <= len(MODELS):
        raise InvalidInput({"models": [_("choose 1 or more of %(m)s") % {"m": ", ".join(MODELS)}]})
    return names


def compare_models(
    *, user: User, spec: JourneySpec, params: ModelParams, models: tuple[str, ...] = SIDE_BY_SIDE
) -> dict[str, AttributionRun]:
    """Several models over the same journeys (each run cached on its own)."""
    return {
        m: attribution_run(
            user=user,
            spec=spec,
            params=ModelParams(
                model=m,
                order=params.order,
                half_life_days=params.half_life_days,
                n_boot=0 if m != params.model else params.n_boot,
                level=params.level,
            ),
        )
        for m in models
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
