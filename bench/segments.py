"""Benchmark: counting a four-condition behavioural segment over 1M contacts / 10M touchpoints.

    .venv/bin/python bench/segments.py [--contacts 1000000] [--touchpoints 10000000]
                                       [--runs 5] [--refill] [--explain]

Creates a private PostgreSQL database `tandem_bench_segments` on 127.0.0.1:5432 (re-created
with --refill or other sizes, else reused), migrated with Tandem's migrations (so it has exactly
the indexes Tandem creates), filled set-based with generate_series:
  - 50,000 accounts, industries in turn (a quarter "agriculture");
  - contacts spread over the accounts, lifecycle stages in turn (lead + mql: 2 of 9);
  - touchpoints at random contacts over the last 180 days: 60 % page views (path one of five,
    "/pricing" among them), 25 % email opens, 10 % email clicks, 5 % form submissions; 2 % bots.

The segment: industry = agriculture AND lifecycle stage in (lead, mql) AND visited /pricing at
least twice in 30 days AND opened an email in the last 60 days. Timed, alternating, `--runs`
times each (after one warm-up of each):
  - Tandem: the segment's compiled ORM query counted (`segment_members(segment).count()`, what
    the live count and a send use), including loading and compiling the definition;
  - hand-written SQL, two ways an expert would write it for PostgreSQL: a CTE aggregating the
    pricing visits joined to the contacts, and a correlated count per candidate contact.
All must return the same number. Prints the medians and the ratio of Tandem to the faster
hand-written form. Goal: <= 1.5x and < 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "tandem_bench_segments"
os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DEFINITION = {
    "type": "and",
    "children": [
        {"type": "field", "field": "account.industry", "op": "eq", "value": "agriculture"},
        {"type": "field", "field": "contact.lifecycle_stage", "op": "in", "value": ["lead", "mql"]},
        {
            "type": "touchpoint",
            "kind": "page_view",
            "properties": [{"key": "path", "op": "eq", "value": "/pricing"}],
            "at_least": 2,
            "within_days": 30,
        },
        {"type": "email", "event": "opened", "within_days": 60},
    ],
}

HAND_WRITTEN = """
WITH pricing AS (
    SELECT contact_id FROM crm_touchpoint
    WHERE kind = 'page_view' AND NOT is_bot
      AND occurred_at >= %(now)s::timestamptz - interval '30 days'
      AND properties ->> 'path' = '/pricing' AND contact_id IS NOT NULL
    GROUP BY contact_id HAVING count(*) >= 2
)
SELECT count(*)
FROM crm_contact c
JOIN crm_account a ON a.id = c.account_id
JOIN pricing p ON p.contact_id = c.id
WHERE a.industry = 'agriculture' AND c.lifecycle_stage IN ('lead', 'mql')
  AND EXISTS (
    SELECT 1 FROM crm_touchpoint t
    WHERE t.contact_id = c.id AND t.kind = 'email_opened' AND t.channel = 'email'
      AND NOT t.is_bot AND t.occurred_at >= %(now)s::timestamptz - interval '60 days'
  )
"""

# The same count as a correlated subquery per candidate contact: faster when the contact
# conditions are selective (as here), slower when they are not.
HAND_WRITTEN_CORRELATED = """
SELECT count(*)
FROM crm_contact c
JOIN crm_account a ON a.id = c.account_id
WHERE a.industry = 'agriculture' AND c.lifecycle_stage IN ('lead', 'mql')
  AND (
    SELECT count(*) FROM crm_touchpoint t
    WHERE t.contact_id = c.id AND t.kind = 'page_view' AND NOT t.is_bot
      AND t.occurred_at >= %(now)s::timestamptz - interval '30 days'
      AND t.properties ->> 'path' = '/pricing'
  ) >= 2
  AND EXISTS (
    SELECT 1 FROM crm_touchpoint t
    WHERE t.contact_id = c.id AND t.kind = 'email_opened' AND t.channel = 'email'
      AND NOT t.is_bot AND t.occurred_at >= %(now)s::timestamptz - interval '60 days'
  )
"""


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def exists() -> bool:
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
    return row is not None


def not_null_fillers(cursor: Any, table: str, given: set[str]) -> tuple[list[str], list[str]]:
    """NOT NULL columns without a default that the generator does not set (other apps may add
    columns): a neutral value for each."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
        " AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    neutral = {"boolean": "false", "jsonb": "'{}'::jsonb", "json": "'{}'::json",
               "timestamp with time zone": "now()", "date": "current_date"}  # fmt: skip
    names, values = [], []
    for name, kind in cursor.fetchall():
        if name in given:
            continue
        names.append(name)
        values.append(neutral.get(kind, "0" if "int" in kind or kind == "numeric" else "''"))
    return names, values


def insert(cursor: Any, table: str, columns: dict[str, str], source: str) -> None:
    extra_names, extra_values = not_null_fillers(cursor, table, set(columns) | {"id"})
    names = [*columns, *extra_names]
    values = [*columns.values(), *extra_values]
    cursor.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} {source}")


def fill(contacts: int, touchpoints: int) -> None:
    from django.db import connection

    accounts = 50_000
    with connection.cursor() as cur:
        cur.execute("TRUNCATE crm_touchpoint, crm_contact, crm_account RESTART IDENTITY CASCADE")
        insert(
            cur,
            "crm_account",
            {"name": "'Account ' || g", "domains": "'[]'::jsonb",
             "industry": "(ARRAY['agriculture','medical','electronics','other'])[1 + g % 4]",
             "region": "''", "custom": "'{}'::jsonb", "industry_attributes": "'{}'::jsonb",
             "created_at": "now()", "updated_at": "now()"},
            f"FROM generate_series(1, {accounts}) g",
        )  # fmt: skip
        insert(
            cur,
            "crm_contact",
            {"first_name": "'P' || g", "last_name": "'L'", "email": "'p' || g || '@example.com'",
             "phone": "''", "title": "''", "account_id": f"1 + g % {accounts}",
             "lifecycle_stage": "(ARRAY['subscriber','lead','mql','sal','sql','opportunity',"
             "'customer','recycled','disqualified'])[1 + g % 9]",
             "consent": "'granted'", "custom": "'{}'::jsonb", "created_at": "now()",
             "updated_at": "now()"},
            f"FROM generate_series(1, {contacts}) g",
        )  # fmt: skip
        # Tandem's secondary indexes on touchpoints are dropped for the bulk insert and
        # recreated from their own definitions after it (same schema, minutes faster).
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'crm_touchpoint'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        insert(
            cur,
            "crm_touchpoint",
            {"contact_id": "c", "account_id": f"1 + c % {accounts}", "anonymous_id": "''",
             "user_id": "''", "occurred_at": "now() - r2 * interval '180 days'",
             "channel": "CASE WHEN r1 < 0.6 THEN 'organic' WHEN r1 < 0.95 THEN 'email'"
             " ELSE 'website' END",
             "department": "'marketing'",
             "kind": "CASE WHEN r1 < 0.6 THEN 'page_view' WHEN r1 < 0.85 THEN 'email_opened'"
             " WHEN r1 < 0.95 THEN 'email_clicked' ELSE 'form_submitted' END",
             "campaign": "''", "content": "''",
             "properties": "CASE WHEN r1 < 0.6 THEN jsonb_build_object('path', (ARRAY['/',"
             "'/pricing','/blog','/docs','/about'])[1 + (r3 * 5)::int % 5]) ELSE '{}'::jsonb END",
             "is_bot": "r3 < 0.02", "source": "'bench'", "recorded_at": "now()"},
            f"FROM (SELECT 1 + (random() * ({contacts} - 1))::int AS c, random() AS r1,"
            f" random() AS r2, random() AS r3 FROM generate_series(1, {touchpoints})) s",
        )  # fmt: skip
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute("DROP TABLE IF EXISTS bench_size")
        cur.execute("CREATE TABLE bench_size (contacts int, touchpoints int)")
        cur.execute("INSERT INTO bench_size VALUES (%s, %s)", [contacts, touchpoints])
    with psycopg.connect(f"{SERVER}/{DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def filled_size() -> tuple[int, int] | None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('bench_size') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT contacts, touchpoints FROM bench_size")
        row = cur.fetchone()
    return (int(row[0]), int(row[1])) if row else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    if not exists():
        admin(f'CREATE DATABASE "{DB}"')
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tandem.core.audit import Actor
    from tandem.crm.models import Contact
    from tandem.marketing.models import Segment
    from tandem.marketing.segments import services as seg
    from tandem.marketing.segments.compiler import Context, segment_q

    call_command("migrate", verbosity=0)
    size = (args.contacts, args.touchpoints)
    if args.refill or filled_size() != size:
        # A fresh database: an interrupted fill (indexes dropped) never leaks into a run.
        connection.close()
        admin(f'DROP DATABASE "{DB}"')
        admin(f'CREATE DATABASE "{DB}"')
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        fill(*size)
        print(f"filled {size[0]:,} contacts, {size[1]:,} touchpoints in"
              f" {time.perf_counter() - started:.0f} s")  # fmt: skip
    Segment.objects.filter(name="bench").delete()
    segment = seg.segment_create(actor=Actor.system(), name="bench", definition=DEFINITION)

    now = timezone.now()  # one "now" for both, so the 30/60-day windows are the same rows

    def tandem() -> int:
        fresh = Segment.objects.get(pk=segment.pk)
        return Contact.objects.filter(segment_q(fresh, Context(now=now))).count()

    def hand_sql(sql: str) -> Any:
        def run() -> int:
            with connection.cursor() as cur:
                cur.execute(sql, {"now": now})
                return int(cur.fetchone()[0])

        return run

    runners = {
        "tandem": tandem,
        "hand_cte": hand_sql(HAND_WRITTEN),
        "hand_correlated": hand_sql(HAND_WRITTEN_CORRELATED),
    }

    if args.explain:
        query = Contact.objects.filter(segment_q(segment, Context(now=now))).values("pk").query
        with connection.cursor() as cur:
            sql, params = query.sql_with_params()
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) q", params)
            print("\n".join(r[0] for r in cur.fetchall()))
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + HAND_WRITTEN, {"now": now})
            print("\n".join(r[0] for r in cur.fetchall()))
    counts = {name: run() for name, run in runners.items()}  # warm-up
    assert len(set(counts.values())) == 1, counts
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.runs):
        for name, run in runners.items():
            started = time.perf_counter()
            assert run() == counts[name]
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"contacts {size[0]:,}, touchpoints {size[1]:,}; segment members: {counts['tandem']:,}")
    labels = {"tandem": "tandem (compiled ORM query)", "hand_cte": "hand-written, CTE + join",
              "hand_correlated": "hand-written, correlated"}  # fmt: skip
    for name, values in times.items():
        runs = ", ".join(f"{x:.3f}" for x in values)
        print(f"{labels[name]:28} median {medians[name]:.3f} s  (runs: {runs})")
    best = min(medians["hand_cte"], medians["hand_correlated"])
    print(f"ratio tandem / faster hand-written: {medians['tandem'] / best:.2f}")


if __name__ == "__main__":
    main()
