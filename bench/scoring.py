"""Benchmark: lead scoring of 1,000,000 contacts on PostgreSQL, against one SQL UPDATE.

    .venv/bin/python bench/scoring.py [--contacts 1000000] [--touchpoints-per-contact 3]

Creates a private database (tandem_bench_scoring), migrates it, fills it set-based with
accounts, contacts, touchpoints (5 % bot-flagged) and past conversions, then times:

  baseline   one `UPDATE leads_contactscore SET fit = <rule CASE expression> FROM crm_contact …`
             — the rule score alone, the least any scorer must do;
  rules      `score_contacts`: fit + decaying engagement over every touchpoint, upserted;
  train      `predictive.train`: time-split, calibrated logistic regression, AUC;
  full       `score_contacts` with the predictive model evaluated in the same statement.

Prints each time, the AUC, and full/baseline as a ratio; the goal is full scoring under 60 s.
The database is dropped at the end (also on failure). Needs PostgreSQL on 127.0.0.1:5432
(override with BENCH_PG, e.g. postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tandem_bench_scoring"

FILL_BY_TYPE = {
    "boolean": "false",
    "jsonb": "'{}'::jsonb",
    "json": "'{}'::json",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "double precision": "0",
    "numeric": "0",
    "timestamp with time zone": "now()",
    "date": "current_date",
}


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def fill_missing(cursor: object, table: str, given: list[str]) -> tuple[list[str], list[str]]:
    """NOT NULL columns of `table` the generator does not set (other apps add columns)."""
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    names, values = [], []
    for name, data_type in cursor.fetchall():  # type: ignore[attr-defined]
        if name not in given and name != "id":
            names.append(name)
            values.append(FILL_BY_TYPE.get(data_type, "''"))
    return names, values


def insert(cursor: object, table: str, columns: dict[str, str], source: str) -> None:
    extra_names, extra_values = fill_missing(cursor, table, list(columns))
    names = ", ".join([*columns, *extra_names])
    values = ", ".join([*columns.values(), *extra_values])
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}")  # type: ignore[attr-defined]


def generate(n_contacts: int, per_contact: int) -> None:
    from django.db import connection

    n_accounts = max(n_contacts // 10, 1)
    with connection.cursor() as c:
        insert(
            c,
            "crm_account",
            {
                "id": "g",
                "name": "'Account ' || g",
                "domains": "'[]'::jsonb",
                "industry": "(ARRAY['agriculture','medical','electronics','other'])[1 + g % 4]",
                "industry_attributes": "CASE WHEN g % 4 = 1 THEN jsonb_build_object('beds', "
                "(g * 37) % 500) ELSE '{}'::jsonb END",
                "region": "(ARRAY['north','south','east','west','centre'])[1 + g % 5]",
                "custom": "'{}'::jsonb",
                "created_at": "now() - interval '400 days'",
                "updated_at": "now()",
            },
            f"generate_series(1, {n_accounts}) g",
        )
        insert(
            c,
            "crm_contact",
            {
                "id": "g",
                "first_name": "'First'",
                "last_name": "'Last ' || g",
                "email": "'c' || g || '@bench.test'",
                "phone": "''",
                "title": "(ARRAY['Head of Procurement','Engineer','Student','CEO','Buyer'])"
                "[1 + (g * 7) % 5]",
                "account_id": f"1 + (g * 13) % {n_accounts}",
                "lifecycle_stage": "'lead'",
                "consent": "'unknown'",
                "custom": "'{}'::jsonb",
                "created_at": "now() - ((g % 360) || ' days')::interval",
                "updated_at": "now()",
            },
            f"generate_series(1, {n_contacts}) g",
        )
        # touchpoints: engaged contacts (every 4th) get more form submits; 5 % are bots
        insert(
            c,
            "crm_touchpoint",
            {
                "contact_id": f"1 + (g % {n_contacts})",
                "anonymous_id": "''",
                "occurred_at": "now() - (((g * 31) % 200) || ' days')::interval",
                "channel": "(ARRAY['website','email','webinar'])[1 + g % 3]",
                "department": "'marketing'",
                "kind": f"CASE WHEN (1 + g % {n_contacts}) % 4 = 0 AND g % 3 <> 0 "
                "THEN 'form_submit' "
                "ELSE (ARRAY['page_view','email_click','page_view','webinar_join'])"
                "[1 + (g * 11) % 4] END",
                "campaign": "'campaign-' || (g % 40)",
                "content": "''",
                "properties": "'{}'::jsonb",
                "is_bot": "g % 20 = 0",
                "source": "'bench'",
                "recorded_at": "now()",
            },
            f"generate_series(1, {n_contacts * per_contact}) g",
        )
        # past conversions: most engaged contacts and a few others reached SQL
        converted = "(SELECT id FROM crm_contact WHERE (id % 4 = 0 AND id % 7 <> 0) OR id % 53 = 0)"
        insert(
            c,
            "leads_stagehistory",
            {
                "contact_id": "id",
                "stage": "'sql'",
                "entered_at": "now() - ((id % 300) || ' days')::interval",
                "reason": "'bench'",
            },
            converted + " s",
        )
        c.execute(f"UPDATE crm_contact SET lifecycle_stage = 'sql' WHERE id IN {converted}")
        for table in ("crm_account", "crm_contact", "crm_touchpoint", "leads_stagehistory"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")


def setup_model() -> int:
    from tandem.core.audit import Actor
    from tandem.leads.scoring import score_rule_create, scoring_model_create

    system = Actor.system()
    model = scoring_model_create(actor=system, name="Bench", half_life_days=30)
    rules = [
        {"kind": "fit", "field": "account.industry", "value": "medical", "points": 20},
        {"kind": "fit", "field": "account.region", "value": "north", "points": 5},
        {
            "kind": "fit",
            "field": "account.attribute",
            "key": "beds",
            "operator": "at_least",
            "value": "200",
            "points": 10,
        },
        {
            "kind": "fit",
            "field": "contact.title",
            "operator": "contains",
            "value": "head of",
            "points": 15,
        },
        {
            "kind": "fit",
            "field": "contact.title",
            "operator": "contains",
            "value": "student",
            "points": -20,
        },
        {"kind": "engagement", "field": "touchpoint.kind", "value": "form_submit", "points": 25},
        {"kind": "engagement", "field": "touchpoint.kind", "value": "email_click", "points": 3},
        {"kind": "engagement", "field": "touchpoint.kind", "value": "webinar_join", "points": 10},
        {"kind": "engagement", "field": "touchpoint.kind", "value": "page_view", "points": 1},
    ]
    for rule in rules:
        score_rule_create(actor=system, scoring_model=model, **rule)  # type: ignore[arg-type]
    return model.pk


def baseline_update(model_id: int) -> float:
    from django.db import connection

    from tandem.crm.selectors import contact_facts_sql
    from tandem.leads.models import RuleKind, ScoringModel
    from tandem.leads.scoring.sql import dialect, fit_sql

    model = ScoringModel.objects.get(pk=model_id)
    fit, params = fit_sql(list(model.rules.filter(kind=RuleKind.FIT)), dialect())
    contacts, contact_params = contact_facts_sql()
    sql = (
        f"UPDATE leads_contactscore s SET fit = {fit} FROM ({contacts}) c "
        "WHERE s.contact_id = c.id AND s.scoring_model_id = %s"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *contact_params, model_id])
    return time.perf_counter() - started


def timed(label: str, call: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.2f} s")
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--touchpoints-per-contact", type=int, default=3)
    args = parser.parse_args()

    admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin(f"CREATE DATABASE {DB_NAME}")
    try:
        os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(
            f"contacts {args.contacts:,}, touchpoints "
            f"{args.contacts * args.touchpoints_per_contact:,} (5 % bots), PostgreSQL"
        )
        timed(
            "generate data (not part of the comparison)",
            lambda: generate(args.contacts, args.touchpoints_per_contact),
        )
        model_id = setup_model()

        from django.db import connection

        from tandem.leads.scoring import predictive, score_contacts

        _first, _rows = timed(
            "score: rules + engagement (first, inserts)",
            lambda: score_contacts(scoring_model_id=model_id),
        )
        rules_time, _rows = timed(
            "score: rules + engagement (again, updates)",
            lambda: score_contacts(scoring_model_id=model_id),
        )
        train_time, trained = timed(
            "train predictive model (time split, calibrated)",
            lambda: predictive.train(scoring_model_id=model_id),
        )
        full_time, _rows = timed(
            "score: rules + engagement + model", lambda: score_contacts(scoring_model_id=model_id)
        )
        baseline = baseline_update(model_id)
        print(f"{'baseline: one UPDATE computing the rule score':<44} {baseline:8.2f} s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), avg(total), avg(probability) FROM leads_contactscore")
            count, avg_total, avg_probability = cursor.fetchone()
        print(
            f"scored rows {count:,}; mean score {avg_total:.2f}; mean probability "
            f"{avg_probability:.3f}; AUC on the newest 25 %: {trained.auc:.3f} "  # type: ignore[attr-defined]
            f"(train {trained.n_train:,}, test {trained.n_test:,})"
        )  # type: ignore[attr-defined]
        print(f"ratio full scoring / baseline UPDATE: {full_time / baseline:.2f}x")
        print(f"ratio rules + engagement / baseline UPDATE: {rules_time / baseline:.2f}x")
        print(
            f"full scoring including training: {full_time + train_time:.1f} s "
            f"(goal: under 60 s) -> {'OK' if full_time + train_time < 60 else 'OVER'}"
        )
        connection.close()
    finally:
        admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
