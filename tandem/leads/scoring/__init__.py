"""Lead scoring: fit and engagement from rules, a calibrated conversion probability on top.

Invariants:
- `score_contacts` writes every contact's `ContactScore` for a score group in ONE upsert
  statement (INSERT … SELECT … ON CONFLICT DO UPDATE): no Python loop over contacts;
- total = fit + engagement; bot-flagged touchpoints and lifecycle entries never count;
- the probability is NULL until a predictive model was trained for the group;
- rules are validated when created (an "at least" rule needs a number, a condition must parse
  and compile as a segment condition), so scoring never fails on bad rule data;
- scoring is changed only by holders of `manage_scoring` (core.access.CAPABILITIES) or the
  system, each change audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import can
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.leads.models import (
    PredictiveModel,
    RuleField,
    RuleKind,
    RuleOperator,
    ScoreRule,
    ScoringJob,
    ScoringModel,
)
from tandem.leads.scoring.sql import build_base, dialect, probability_sql
from tandem.marketing.selectors import contact_condition_check


def _now_db(now: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(now)


def score_contacts(
    *,
    scoring_model_id: int,
    contact_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """(Re)compute the scores of a group, for all contacts or the given ones; returns rows."""
    model = ScoringModel.objects.get(pk=scoring_model_id)
    now = now or timezone.now()
    d = dialect()
    base, params = build_base(model, _now_db(now), contact_ids=contact_ids, now=now)
    current = PredictiveModel.objects.filter(scoring_model=model, is_current=True).first()
    probability = probability_sql(current.params, d) if current is not None else "NULL"
    sql = (
        "INSERT INTO leads_contactscore "
        "(contact_id, scoring_model_id, fit, engagement, total, probability, computed_at) "
        f"SELECT b.id, %s, b.fit, b.eng, b.fit + b.eng, {probability}, %s FROM ({base}) b "
        "WHERE true ON CONFLICT (contact_id, scoring_model_id) DO UPDATE SET "
        "fit = excluded.fit, engagement = excluded.engagement, total = excluded.total, "
        "probability = excluded.probability, computed_at = excluded.computed_at"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        d.tune(cursor)
        cursor.execute(sql, [model.pk, _now_db(now), *params])
        return int(cursor.rowcount)


# --- settings: score groups and rules --------------------------------------------------------


def _check_head(actor: Actor) -> None:
    """Scoring is changed by those with the `manage_scoring` capability (and the system)."""
    if actor.user is not None and not can(actor.user, "manage_scoring"):
        raise InvalidInput(_("You may not change scoring."), code="forbidden")


@transaction.atomic
def scoring_model_create(
    *,
    actor: Actor,
    name: str,
    product_line: str = "",
    mql_threshold: float = 50,
    half_life_days: float = 30,
    is_active: bool = True,
) -> ScoringModel:
    """A new score group; the scoring page makes it inactive (`is_active=False`): a draft whose
    rules and score distribution are reviewed before `scoring_model_activate` switches it on."""
    _check_head(actor)
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > 100:
        errors["name"] = [_("A name of 1 to 100 characters is required.")]
    if not 0 < half_life_days <= 3650:
        errors["half_life_days"] = [_("Between 0 and 3650 days.")]
    if ScoringModel.objects.filter(product_line=product_line.strip()).exists():
        errors["product_line"] = [_("This product line has a scoring model already.")]
    if errors:
        raise InvalidInput(errors)
    model = ScoringModel.objects.create(
        name=name,
        product_line=product_line.strip(),
        mql_threshold=mql_threshold,
        half_life_days=half_life_days,
        is_active=is_active,
    )
    record_change(actor=actor, action="create", instance=model, changes=diff({}, snapshot(model)))
    return model


@transaction.atomic
def scoring_model_update(
    *,
    actor: Actor,
    scoring_model: ScoringModel,
    name: str | None = None,
    mql_threshold: float | None = None,
    half_life_days: float | None = None,
) -> ScoringModel:
    _check_head(actor)
    model = ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    before = snapshot(model)
    fields = []
    if name is not None:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput({"name": [_("A name of 1 to 100 characters is required.")]})
        model.name = name
        fields.append("name")
    if mql_threshold is not None:
        model.mql_threshold = float(mql_threshold)
        fields.append("mql_threshold")
    if half_life_days is not None:
        if not 0 < half_life_days <= 3650:
            raise InvalidInput({"half_life_days": [_("Between 0 and 3650 days.")]})
        model.half_life_days = float(half_life_days)
        fields.append("half_life_days")
    if fields:
        model.save(update_fields=fields)
        record_change(
            actor=actor, action="update", instance=model, changes=diff(before, snapshot(model))
        )
    return model


FIT_FIELDS = {
    RuleField.ACCOUNT_INDUSTRY,
    RuleField.ACCOUNT_REGION,
    RuleField.ACCOUNT_ATTRIBUTE,
    RuleField.CONTACT_TITLE,
}


@transaction.atomic
def score_rule_create(
    *,
    actor: Actor,
    scoring_model: ScoringModel,
    kind: str,
    field: str,
    value: str,
    points: float,
    operator: str = RuleOperator.EQUALS,
    key: str = "",
    channel: str = "",
    condition: dict[str, Any] | None = None,
) -> ScoreRule:
    """A rule of the group. A fit rule of `field="condition"` is a segment condition (see
    `marketing.selectors.contact_condition_check`); its `value` is only a description."""
    _check_head(actor)
    if field == RuleField.CONDITION:
        return _condition_rule_create(
            actor=actor, scoring_model=scoring_model, kind=kind, condition=condition, points=points
        )
    errors: dict[str, list[str]] = {}
    value = str(value).strip()
    if kind not in RuleKind.values:
        errors["kind"] = [_("Fit or engagement.")]
    if field not in RuleField.values:
        errors["field"] = [_("Unknown field.")]
    elif kind == RuleKind.FIT and field not in FIT_FIELDS:
        errors["field"] = [_("A fit rule looks at the contact or its account.")]
    elif kind == RuleKind.ENGAGEMENT and field != RuleField.TOUCHPOINT_KIND:
        errors["field"] = [_("An engagement rule looks at touchpoint kinds.")]
    if operator not in RuleOperator.values:
        errors["operator"] = [_("Unknown operator.")]
    elif operator == RuleOperator.AT_LEAST:
        if field != RuleField.ACCOUNT_ATTRIBUTE:
            errors["operator"] = [_("“At least” applies to account attributes only.")]
        try:
            float(value)
        except ValueError:
            errors["value"] = [_("“At least” needs a number.")]
    if field == RuleField.ACCOUNT_ATTRIBUTE and not key.strip():
        errors["key"] = [_("Which attribute?")]
    if not value or len(value) > 200:
        errors["value"] = [_("A value of 1 to 200 characters is required.")]
    points = _points(points, errors)
    if errors:
        raise InvalidInput(errors)
    rule = ScoreRule.objects.create(
        scoring_model=scoring_model,
        kind=kind,
        field=field,
        key=key.strip()[:50],
        operator=operator,
        value=value,
        channel=channel.strip()[:40],
        points=points,
    )
    record_change(actor=actor, action="create", instance=rule, changes=diff({}, snapshot(rule)))
    return rule


def _points(points: object, errors: dict[str, list[str]]) -> float:
    try:
        number = float(points)  # type: ignore[arg-type]
        if not -1000 <= number <= 1000:
            raise ValueError
    except (TypeError, ValueError):
        errors["points"] = [_("A number between -1000 and 1000.")]
        return 0.0
    return number


def _condition_rule_create(
    *, actor: Actor, scoring_model: ScoringModel, kind: str, condition: Any, points: float
) -> ScoreRule:
    errors: dict[str, list[str]] = {}
    if kind != RuleKind.FIT:
        errors["kind"] = [_("A condition is a fit rule; engagement rules count touchpoints.")]
    number = _points(points, errors)
    try:
        stored = contact_condition_check(condition)
    except InvalidInput as exc:
        errors.update(exc.errors)
        stored = {}
    if errors:
        raise InvalidInput(errors)
    rule = ScoreRule.objects.create(
        scoring_model=scoring_model,
        kind=RuleKind.FIT,
        field=RuleField.CONDITION,
        operator=RuleOperator.EQUALS,
        value=str(stored.get("value", ""))[:200],
        condition=stored,
        points=number,
    )
    record_change(actor=actor, action="create", instance=rule, changes=diff({}, snapshot(rule)))
    return rule


@transaction.atomic
def score_rule_delete(*, actor: Actor, rule: ScoreRule) -> None:
    """Remove a rule; the group's scores change at its next rescoring."""
    _check_head(actor)
    record_change(actor=actor, action="delete", instance=rule, changes=diff(snapshot(rule), {}))
    rule.delete()


@transaction.atomic
def scoring_model_activate(
    *, actor: Actor, scoring_model: ScoringModel, active: bool = True
) -> ScoringModel:
    """Switch a score group on (its scores are recomputed in the background, then the periodic
    rescoring keeps them fresh and hands MQLs over) or off (no more rescoring or hand-overs;
    the scores stay as they were). Each product line has one group, so each line has at most
    one active model."""
    from tandem.leads.scoring.jobs import scoring_job_start

    _check_head(actor)
    model = ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    if model.is_active != active:
        model.is_active = active
        model.save(update_fields=["is_active"])
        record_change(
            actor=actor,
            action="update",
            instance=model,
            changes={"is_active": [not active, active]},
        )
        if active:
            scoring_job_start(actor=actor, scoring_model=model, kind=ScoringJob.Kind.RESCORE)
    return model
