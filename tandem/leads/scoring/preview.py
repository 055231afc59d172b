"""What a score group's rules would give, without writing anything: the distribution of scores
over today's contacts, how many contacts each rule reaches, and why one contact scores what it
does (the rules that fired and their points).

Invariants:
- read-only: nothing here writes scores; the numbers come from the same SQL as `score_contacts`
  (`build_base`, `fit_condition`), so the preview of a group equals what rescoring it now would
  store;
- the histogram's counts add up to the number of contacts; `above_threshold` counts totals at or
  above the group's MQL threshold;
- a contact's reasons add up to its fit and engagement as of `now`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from tandem.crm.selectors import contact_facts_sql, human_touchpoints_sql
from tandem.leads.models import RuleKind, ScoreRule, ScoringModel
from tandem.leads.scoring.predictive import distribution
from tandem.leads.scoring.sql import build_base, dialect, fit_condition


def _now_db(now: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(now)


def _fit_conditions(
    rules: list[ScoreRule], d: Any, now: dt.datetime
) -> list[tuple[ScoreRule, tuple[str, list[Any]]]]:
    out = []
    for rule in rules:
        if rule.kind == RuleKind.FIT:
            condition = fit_condition(rule, d, now=now)
            if condition is not None:
                out.append((rule, condition))
    return out


def score_preview(scoring_model: ScoringModel, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """{"contacts", "mean", "bins": [{"low", "high", "count"}], "above_threshold", "scored"
    (total not 0), "rules": {rule id: contacts it reaches}} for the group's rules as they are."""
    now = now or timezone.now()
    base, params = build_base(scoring_model, _now_db(now), now=now)
    with transaction.atomic(), connection.cursor() as cursor:
        dialect().tune(cursor)
        cursor.execute(f"SELECT b.fit + b.eng FROM ({base}) b", params)
        totals = np.array([row[0] for row in cursor.fetchall()], dtype=float)
    out = distribution(totals)
    out["above_threshold"] = int((totals >= scoring_model.mql_threshold).sum())
    out["scored"] = int((np.abs(totals) > 1e-9).sum())
    out["rules"] = rule_reach(scoring_model, now=now)
    return out


def rule_reach(scoring_model: ScoringModel, *, now: dt.datetime | None = None) -> dict[int, int]:
    """Per rule, how many contacts it gives points to: fit rules the contacts meeting them,
    engagement rules the contacts with a matching touchpoint (up to `now`)."""
    now = now or timezone.now()
    d = dialect()
    rules = list(scoring_model.rules.all())
    reach: dict[int, int] = {}
    fit = _fit_conditions(rules, d, now)
    contacts, contact_params = contact_facts_sql()
    with connection.cursor() as cursor:
        if fit:
            columns = ", ".join(f"SUM(CASE WHEN {c[0]} THEN 1 ELSE 0 END)" for _r, c in fit)
            params = [p for _r, c in fit for p in c[1]]
            cursor.execute(f"SELECT {columns} FROM ({contacts}) c", [*params, *contact_params])
            row = cursor.fetchone() or ()
            reach.update({r.pk: int(n or 0) for (r, _c), n in zip(fit, row, strict=True)})
        touchpoints, tp_params = human_touchpoints_sql()
        for rule in rules:
            if rule.kind != RuleKind.ENGAGEMENT:
                continue
            where, params = "t.kind = %s AND t.occurred_at <= %s", [rule.value, _now_db(now)]
            if rule.channel:
                where, params = where + " AND t.channel = %s", [*params, rule.channel]
            cursor.execute(
                f"SELECT COUNT(DISTINCT t.contact_id) FROM ({touchpoints}) t "
                f"WHERE t.channel <> 'lifecycle' AND {where}",
                [*tp_params, *params],
            )
            reach[rule.pk] = int((cursor.fetchone() or (0,))[0] or 0)
    for rule in rules:
        reach.setdefault(rule.pk, 0)
    return reach


def contact_reasons(
    contact_id: int, scoring_model: ScoringModel, *, now: dt.datetime | None = None
) -> list[tuple[ScoreRule, float]]:
    """The rules that give this contact points, with the points each gives now (engagement
    decayed by age), largest first. Two queries, whatever the number of rules."""
    now = now or timezone.now()
    d = dialect()
    rules = list(scoring_model.rules.all())
    fired: list[tuple[ScoreRule, float]] = []
    fit = _fit_conditions(rules, d, now)
    contacts, contact_params = contact_facts_sql()
    with connection.cursor() as cursor:
        if fit:
            columns = ", ".join(f"CASE WHEN {c[0]} THEN 1 ELSE 0 END" for _r, c in fit)
            params = [p for _r, c in fit for p in c[1]]
            cursor.execute(
                f"SELECT {columns} FROM ({contacts}) c WHERE c.id = %s",
                [*params, *contact_params, contact_id],
            )
            row = cursor.fetchone() or ()
            fired += [(r, r.points) for (r, _c), hit in zip(fit, row, strict=True) if hit]
        engagement = [r for r in rules if r.kind == RuleKind.ENGAGEMENT]
        if engagement:
            touchpoints, tp_params = human_touchpoints_sql()
            half_life = max(scoring_model.half_life_days, 0.01)
            cursor.execute(
                f"SELECT x.kind, x.channel, SUM(POWER(0.5, x.age / %s)) FROM ("
                f"SELECT t.kind AS kind, t.channel AS channel, {d.age_days(d.ts())} AS age "
                f"FROM ({touchpoints}) t WHERE t.contact_id = %s AND t.channel <> 'lifecycle'"
                ") x WHERE x.age >= 0 GROUP BY x.kind, x.channel",
                [half_life, _now_db(now), *tp_params, contact_id],
            )
            points: dict[int, float] = {}
            for kind, channel, weight in cursor.fetchall():
                # as in the scoring SQL: a touchpoint counts for the first rule it matches
                rule = next(
                    (
                        r
                        for r in engagement
                        if r.value == kind and (not r.channel or r.channel == channel)
                    ),
                    None,
                )
                if rule is not None:
                    points[rule.pk] = points.get(rule.pk, 0.0) + rule.points * float(weight)
            fired += [(r, points[r.pk]) for r in engagement if r.pk in points]
    return sorted(fired, key=lambda pair: -abs(pair[1]))
