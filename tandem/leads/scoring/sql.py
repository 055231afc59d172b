"""SQL for scoring, set-based: one statement scores every contact of a score group.

The "base" query gives per contact, as of a cut-off time:
  fit          sum of the points of the fit rules the contact and its account match;
  eng          sum over the contact's non-bot touchpoints matching an engagement rule of
               points * 0.5 ^ (age in days / half-life), touchpoints after the cut-off ignored;
  n90          non-bot touchpoints in the 90 days before the cut-off (any kind but lifecycle);
  recency      days since the last such touchpoint (365 when none);
  has_account  1 or 0;  industry  the account's industry ('' without an account).

Works on SQLite and PostgreSQL (the few differences are in `_Dialect`). Rule values are always
bound parameters; only numbers (points, model coefficients) are written into the SQL text, as
Python floats.

Invariants:
- the statements name only leads' own tables; contacts, accounts and touchpoints come from crm's
  selectors as derived tables (`contact_facts_sql` as `c`, `human_touchpoints_sql` as `t`),
  compiled by the ORM and flattened by the database into these statements; a fit rule made of a
  segment condition is `c.id IN (…)` over marketing's compiled condition
  (`marketing.selectors.contact_condition_sql`), its values bound parameters.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db import connection

from tandem.crm.selectors import contact_facts_sql, human_touchpoints_sql
from tandem.leads.models import RuleField, RuleKind, RuleOperator, ScoreRule, ScoringModel
from tandem.marketing.selectors import contact_condition_sql

INDUSTRIES = ["agriculture", "medical", "electronics"]
FEATURES = [
    "fit",
    "engagement",
    "recent_touchpoints",
    "days_since_last_touch",
    "has_account",
    *[f"industry_{name}" for name in INDUSTRIES],
]
FEATURE_SQL = [
    "b.fit",
    "b.eng",
    "LN(1 + b.n90)",
    "CASE WHEN b.recency > 365 THEN 365 ELSE b.recency END",
    "b.has_account",
    *[f"CASE WHEN b.industry = '{name}' THEN 1 ELSE 0 END" for name in INDUSTRIES],
]


def _num(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("numbers in scoring SQL must be finite")
    # Typed as double precision: PostgreSQL would otherwise compute in (slow) numeric.
    return f"CAST({value!r} AS DOUBLE PRECISION)"


@dataclass(frozen=True)
class _Dialect:
    postgres: bool

    def ts(self, placeholder: str = "%s") -> str:
        return f"CAST({placeholder} AS timestamptz)" if self.postgres else placeholder

    def age_days(self, cut: str) -> str:
        if self.postgres:
            seconds = f"CAST(EXTRACT(EPOCH FROM ({cut} - t.occurred_at)) AS DOUBLE PRECISION)"
            return f"({seconds} / CAST(86400 AS DOUBLE PRECISION))"
        return f"(julianday({cut}) - julianday(t.occurred_at))"

    def attr_text(self) -> str:
        if self.postgres:
            return "(c.account_attributes ->> %s)"
        return "CAST(json_extract(c.account_attributes, %s) AS TEXT)"

    def attr_key(self, key: str) -> str:
        return key if self.postgres else '$."' + key.replace('"', "") + '"'

    def clamp(self, expr: str, bound: float) -> str:
        if self.postgres:
            return f"LEAST(GREATEST({expr}, {-bound}), {bound})"
        return f"MIN(MAX({expr}, {-bound}), {bound})"

    def tune(self, cursor: Any) -> None:
        """Per-transaction settings for the one big scoring statement (PostgreSQL only)."""
        if self.postgres:
            cursor.execute("SET LOCAL work_mem = '256MB'")


def dialect() -> _Dialect:
    return _Dialect(postgres=connection.vendor == "postgresql")


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fit_condition(
    rule: ScoreRule, d: _Dialect, *, now: dt.datetime | None = None
) -> tuple[str, list[Any]] | None:
    """Whether the contact `c` (a row of crm's contact facts) meets a fit rule, as one SQL
    condition with its parameters; None for a rule that can never match."""
    if rule.field == RuleField.CONDITION:
        members, p = contact_condition_sql(rule.condition, now=now)
        return f"c.id IN ({members})", p
    if rule.field == RuleField.ACCOUNT_INDUSTRY:
        return "c.account_industry = %s", [rule.value]
    if rule.field == RuleField.ACCOUNT_REGION:
        return "LOWER(c.account_region) = LOWER(%s)", [rule.value]
    if rule.field == RuleField.CONTACT_TITLE:
        if rule.operator == RuleOperator.CONTAINS:
            return "LOWER(c.title) LIKE %s ESCAPE '\\'", [_like(rule.value)]
        return "LOWER(c.title) = LOWER(%s)", [rule.value]
    if rule.field == RuleField.ACCOUNT_ATTRIBUTE:
        key = d.attr_key(rule.key)
        if rule.operator == RuleOperator.AT_LEAST:
            if d.postgres:  # the cast only where the value is a number (CASE keeps the order)
                return (
                    "CASE WHEN jsonb_typeof(c.account_attributes -> %s) = 'number' THEN "
                    "(c.account_attributes ->> %s)::float8 >= %s ELSE false END"
                ), [key, key, float(rule.value)]
            return (
                "json_type(c.account_attributes, %s) IN ('integer', 'real') "
                "AND json_extract(c.account_attributes, %s) >= %s"
            ), [key, key, float(rule.value)]
        if rule.operator == RuleOperator.CONTAINS:
            return f"LOWER({d.attr_text()}) LIKE %s ESCAPE '\\'", [key, _like(rule.value)]
        return f"{d.attr_text()} = %s", [key, rule.value]
    return None


def fit_sql(
    rules: list[ScoreRule], d: _Dialect, *, now: dt.datetime | None = None
) -> tuple[str, list[Any]]:
    """The fit score as one SQL expression over `c` (a row of crm's contact facts)."""
    parts: list[str] = []
    params: list[Any] = []
    for rule in rules:
        condition = fit_condition(rule, d, now=now)
        if condition is None:
            continue
        parts.append(f"CASE WHEN {condition[0]} THEN {_num(rule.points)} ELSE 0 END")
        params += condition[1]
    return ("(" + " + ".join(parts) + ")" if parts else _num(0)), params


def engagement_sql(
    rules: list[ScoreRule],
    half_life_days: float,
    d: _Dialect,
    *,
    now_db: object,
    converted_stages: list[str] | None = None,
    contact_ids: list[int] | None = None,
) -> tuple[str, list[Any]]:
    """Per contact: eng, n90, recency from the timeline, with its parameters in text order.

    Without `converted_stages` the cut-off is `now_db`; with them, each contact's conversion
    time (else `now_db`)."""
    cut_join = ""
    cut = d.ts()
    join_params: list[Any] = []
    if converted_stages is not None:
        cut = f"COALESCE(cv.at, {d.ts()})"
        cut_join = f"LEFT JOIN {_conversions(converted_stages)} cv ON cv.contact_id = t.contact_id"
        join_params = list(converted_stages)
    cases: list[str] = []
    weight_params: list[Any] = []
    for rule in rules:
        cond = "t.kind = %s"
        weight_params.append(rule.value)
        if rule.channel:
            cond += " AND t.channel = %s"
            weight_params.append(rule.channel)
        cases.append(f"WHEN {cond} THEN {_num(rule.points)}")
    weight = f"CASE {' '.join(cases)} ELSE {_num(0)} END" if cases else _num(0)
    half_life = _num(max(half_life_days, 0.01))
    only = ""
    if contact_ids is not None:
        only = " AND t.contact_id IN (" + (", ".join(["%s"] * len(contact_ids)) or "NULL") + ")"
    touchpoints, touchpoint_params = human_touchpoints_sql()
    inner = (
        f"SELECT t.contact_id AS contact_id, {d.age_days(cut)} AS age, {weight} AS w "
        f"FROM ({touchpoints}) t {cut_join} "
        f"WHERE t.channel NOT IN ('lifecycle', 'dispute'){only}"
    )
    sql = (
        f"SELECT x.contact_id, SUM(x.w * POWER({_num(0.5)}, x.age / {half_life})) AS eng, "
        "SUM(CASE WHEN x.age <= 90 THEN 1 ELSE 0 END) AS n90, MIN(x.age) AS recency "
        f"FROM ({inner}) x WHERE x.age >= 0 GROUP BY x.contact_id"
    )
    return sql, [
        now_db,
        *weight_params,
        *touchpoint_params,
        *join_params,
        *(contact_ids or []),
    ]


def _conversions(stages: list[str]) -> str:
    marks = ", ".join(["%s"] * len(stages)) or "NULL"
    return (
        "(SELECT contact_id, MIN(entered_at) AS at FROM leads_stagehistory "
        f"WHERE stage IN ({marks}) GROUP BY contact_id)"
    )


def build_base(
    model: ScoringModel,
    now_db: object,
    *,
    training: bool = False,
    contact_ids: list[int] | None = None,
    converted_stages: list[str] | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    """The base query (see the module docstring) as SQL and parameters, in text order.

    For scoring, the cut-off is `now_db` for every contact. For training, each contact's cut-off
    is the moment it converted (first entered one of `converted_stages`), else `now_db`, so the
    features of a converted contact never include what happened after it converted.

    The timeline aggregate is a materialised CTE: computed once, not once per parallel worker.
    """
    d = dialect()
    rules = list(model.rules.all())
    fit_rules = [r for r in rules if r.kind == RuleKind.FIT]
    eng_rules = [r for r in rules if r.kind == RuleKind.ENGAGEMENT]
    stages = list(converted_stages or []) if training else None
    eng, params = engagement_sql(
        eng_rules,
        model.half_life_days,
        d,
        now_db=now_db,
        converted_stages=stages,
        contact_ids=contact_ids,
    )
    fit, fit_params = fit_sql(fit_rules, d, now=now)
    params += fit_params
    select_extra = ""
    conv_join = ""
    if stages is not None:
        marks = ", ".join(["%s"] * len(stages)) or "NULL"
        select_extra = (
            ", c.created_at AS created_at, CASE WHEN cv2.contact_id IS NULL AND "
            "c.lifecycle_stage NOT IN (" + marks + ") THEN 0 ELSE 1 END AS label"
        )
        conv_join = f" LEFT JOIN {_conversions(stages)} cv2 ON cv2.contact_id = c.id"
        params += stages
    contacts, contact_params = contact_facts_sql()
    params += contact_params
    if stages is not None:
        params += stages
    where = ""
    if contact_ids is not None:
        where = " WHERE c.id IN (" + (", ".join(["%s"] * len(contact_ids)) or "NULL") + ")"
        params += list(contact_ids)
    sql = (
        f"WITH e AS MATERIALIZED ({eng}) "
        f"SELECT c.id AS id, {fit} AS fit{select_extra}, COALESCE(e.eng, {_num(0)}) AS eng, "
        f"COALESCE(e.n90, 0) AS n90, COALESCE(e.recency, {_num(365)}) AS recency, "
        "CASE WHEN c.account_id IS NULL THEN 0 ELSE 1 END AS has_account, "
        "COALESCE(c.account_industry, '') AS industry "
        f"FROM ({contacts}) c "
        f"LEFT JOIN e ON e.contact_id = c.id{conv_join}{where}"
    )
    return sql, params


def probability_sql(params: dict[str, object], d: _Dialect) -> str:
    """The calibrated probability as SQL over the base columns `b` (see PredictiveModel)."""
    means = [float(v) for v in params["mean"]]  # type: ignore[attr-defined]
    scales = [float(v) for v in params["scale"]]  # type: ignore[attr-defined]
    folds = params["folds"]
    terms = []
    for fold in folds:  # type: ignore[attr-defined]
        linear = " + ".join(
            f"{_num(w)} * (({expr}) - {_num(m)}) / {_num(s)}"
            for w, expr, m, s in zip(fold["coef"], FEATURE_SQL, means, scales, strict=True)
        )
        logit = f"{_num(fold['a'])} * ({linear} + {_num(fold['intercept'])}) + {_num(fold['b'])}"
        terms.append(f"1.0 / (1.0 + EXP({d.clamp(logit, 50.0)}))")
    return "((" + " + ".join(terms) + f") / {len(terms)})"
