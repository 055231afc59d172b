"""Benchmark: the contact list (API page and HTML page) with 1,000,000 contacts on PostgreSQL.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--repeat 40]

Creates (once; reused on later runs) a private database `tandem_bench_contacts` on
127.0.0.1:5432 with N contacts over 2,000 accounts owned by 50 reps in 5 teams, then measures in
one run, for the head (sees everyone) and for a sales rep (sees their team's contacts):
  - the first and the second page of GET /api/v1/contacts?limit=25 (through Django's full stack:
    middleware, auth, scoped query, serialisation; in-process, no network);
  - the first page of the HTML contact list /crm/contacts/;
  - the raw SQL for the same page with psycopg (the baseline).
Prints medians and the ratio to the raw query. Goal: under 100 ms and at most 3x the raw query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_contacts"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import psycopg  # noqa: E402


def ensure_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB}"')


def populate(n_contacts: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM crm_contact")
        if cur.fetchone()[0] == n_contacts:
            return
        print(f"populating {n_contacts:,} contacts (once) ...", flush=True)
        started = time.perf_counter()
        cur.execute("TRUNCATE crm_contact, crm_account, core_team, core_user CASCADE")
        cur.execute(
            """
            INSERT INTO core_team (name, department, region)
            SELECT 'Sales ' || g, 'sales', 'region ' || g FROM generate_series(1, 5) g;
            INSERT INTO core_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined, role, team_id,
                                   time_zone, language)
            SELECT '!', false, 'rep' || g, 'Rep', g::text, 'rep' || g || '@bench.test', false,
                   true, now(), 'sales_rep', (SELECT min(id) FROM core_team) + mod(g, 5), '', ''
            FROM generate_series(1, 50) g;
            INSERT INTO core_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined, role, time_zone,
                                   language)
            VALUES ('!', false, 'head', 'Head', 'Of', 'head@bench.test', false, true, now(),
                    'head', '', '');
            INSERT INTO crm_account (name, domains, industry, industry_attributes, region,
                                     owner_id, custom, created_at, updated_at)
            SELECT 'Account ' || g, '[]', 'other', '{}', '',
                   (SELECT min(id) FROM core_user) + mod(g, 50), '{}', now(), now()
            FROM generate_series(1, 2000) g;
            """
        )
        cur.execute(
            """
            INSERT INTO crm_contact (first_name, last_name, email, phone, title, account_id,
                                     owner_id, lifecycle_stage, consent, custom, created_at,
                                     updated_at)
            SELECT 'First' || g, 'Last' || mod(g, 9973), 'c' || g || '@bench.test', '', 'Buyer',
                   (SELECT min(id) FROM crm_account) + mod(g, 2000),
                   (SELECT min(id) FROM core_user) + mod(g, 50),
                   'lead', 'unknown', '{}',
                   now() - (g || ' seconds')::interval, now()
            FROM generate_series(1, %s) g
            """,
            [n_contacts],
        )
        cur.execute("ANALYZE")
        print(f"populated in {time.perf_counter() - started:.0f} s", flush=True)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    for _ in range(3):
        fn()  # warm up caches and connections
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args(argv)

    ensure_database()
    import django

    django.setup()
    from django.test import Client

    from tandem.core.models import User

    populate(args.contacts)
    head = User.objects.get(username="head")
    rep = User.objects.get(username="rep7")
    team_ids = list(User.objects.filter(team_id=rep.team_id).values_list("pk", flat=True))

    raw = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
    columns = (
        "c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.lifecycle_stage, "
        "c.consent, c.created_at, c.updated_at, c.owner_id, c.account_id, a.name"
    )
    head_sql = (
        f"SELECT {columns} FROM crm_contact c LEFT JOIN crm_account a ON a.id = c.account_id "
        "ORDER BY c.created_at DESC, c.id DESC LIMIT 26"
    )
    rep_sql = (
        f"SELECT {columns} FROM crm_contact c LEFT JOIN crm_account a ON a.id = c.account_id "
        "WHERE c.owner_id = ANY(%s) ORDER BY c.created_at DESC, c.id DESC LIMIT 26"
    )

    rows = []
    for label, user, sql, params in (
        ("head", head, head_sql, None),
        ("sales rep", rep, rep_sql, [team_ids]),
    ):
        client = Client()
        client.force_login(user)
        first = client.get("/api/v1/contacts?limit=25")
        assert first.status_code == 200, first.content[:300]
        cursor = first.json()["next_cursor"]
        assert client.get("/crm/contacts/").status_code == 200

        baseline = median_ms(
            lambda sql=sql, params=params: raw.execute(sql, params).fetchall(), args.repeat
        )
        timings = {
            "API page 1": median_ms(
                lambda c=client: c.get("/api/v1/contacts?limit=25"), args.repeat
            ),
            "API page 2": median_ms(
                lambda c=client, cur=cursor: c.get(f"/api/v1/contacts?limit=25&cursor={cur}"),
                args.repeat,
            ),
            "HTML list page": median_ms(lambda c=client: c.get("/crm/contacts/"), args.repeat),
        }
        rows.append((label, "raw SQL (baseline)", baseline, 1.0))
        rows.extend((label, name, ms, ms / baseline) for name, ms in timings.items())

    print(f"\ncontacts: {args.contacts:,}; median of {args.repeat} requests each\n")
    print(f"{'user':<10} {'what':<20} {'median ms':>10} {'x raw SQL':>10}")
    for label, name, ms, ratio in rows:
        print(f"{label:<10} {name:<20} {ms:>10.2f} {ratio:>10.2f}")
    worst = max(ms for _, name, ms, _ in rows if "raw" not in name)
    print(f"\nslowest page: {worst:.1f} ms (goal < 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
