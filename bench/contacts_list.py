"""Benchmark: the contact list (API page and HTML page) with 1,000,000 contacts on PostgreSQL.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--repeat 40]

Creates (once; reused on later runs) a private database `tandem_bench_contacts` on
127.0.0.1:5432 with N contacts over 2,000 accounts owned by 50 reps in 5 teams, then measures in
one run, for the head (sees everyone) and for a sales rep (sees their team's contacts):
  - the first and the second page of GET /api/v1/contacts?limit=25 (through Django's full stack:
    middleware, auth, scoped query, serialisation; in-process, no network);
  - the first page of the HTML contact list /crm/contacts/ (sorted by name, with its capped
    count), and the same page searching for a name;
  - the baseline: the raw SQL of the same page, replayed with psycopg on one connection. The
    statements are captured from the page itself (one request under CaptureQueriesContext), so
    the baseline runs exactly the queries the page needs for its data — the scoped list, the tag
    prefetch, the capped count, the filter's choices — and not a simplified stand-in. The
    session and user lookups every authenticated request makes are replayed too but shown
    apart ("auth SQL"), as is GET /api/v1/me, the fixed cost of any authenticated request
    (middleware, session, auth, JSON).
Prints medians and the ratio to the raw SQL. Goal: under 100 ms and at most 3x the raw query.
"""

from __future__ import annotations

import argparse
import os
import re
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
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tandem.core.models import User

    populate(args.contacts)
    head = User.objects.get(username="head")
    rep = User.objects.get(username="rep7")

    # client-side binding, as Django uses: the planner sees the same literal SQL
    raw = psycopg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{DB}", cursor_factory=psycopg.ClientCursor
    )
    declare = re.compile(r'^DECLARE "[^"]+" NO SCROLL CURSOR WITH(?:OUT)? HOLD FOR ', re.S)

    def page_sql(client: Client, url: str) -> tuple[list[str], list[str]]:
        """The statements one request of the page runs: (auth lookups, the page's own)."""
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        auth, data = [], []
        for query in captured.captured_queries:
            sql = declare.sub("", query["sql"])  # a server-side cursor: replay its SELECT
            if sql.startswith(("FETCH ", "CLOSE ")):
                continue
            is_auth = ('FROM "django_session"' in sql) or (
                'FROM "core_user" WHERE "core_user"."id" =' in sql and not data
            )
            (auth if is_auth else data).append(sql)
        return auth, data

    def replay(statements: list[str]) -> Callable[[], None]:
        def run() -> None:
            for sql in statements:
                raw.execute(sql).fetchall()

        return run

    rows: list[tuple[str, str, float, float]] = []
    for label, user in (("head", head), ("sales rep", rep)):
        client = Client()
        client.force_login(user)
        first = client.get("/api/v1/contacts?limit=25")
        assert first.status_code == 200, first.content[:300]
        cursor = first.json()["next_cursor"]
        cases = [
            ("API page 1", "/api/v1/contacts?limit=25"),
            ("API page 2", f"/api/v1/contacts?limit=25&cursor={cursor}"),
            ("HTML list page", "/crm/contacts/"),
            ("HTML search page", "/crm/contacts/?q=first12345"),
        ]
        fixed = median_ms(lambda c=client: c.get("/api/v1/me"), args.repeat)
        rows.append((label, "GET /api/v1/me (fixed cost)", fixed, float("nan")))
        auth_ms = float("nan")
        for name, url in cases:
            auth, data = page_sql(client, url)
            if auth and auth_ms != auth_ms:
                auth_ms = median_ms(replay(auth), args.repeat)
                rows.append((label, f"auth SQL ({len(auth)} statements)", auth_ms, float("nan")))
            raw_ms = median_ms(replay(data), args.repeat)
            ms = median_ms(lambda c=client, u=url: c.get(u), args.repeat)
            rows.append((label, f"{name} (raw SQL, {len(data)} st.)", raw_ms, 1.0))
            rows.append((label, name, ms, ms / raw_ms))

    print(f"\ncontacts: {args.contacts:,}; median of {args.repeat} requests each\n")
    print(f"{'user':<10} {'what':<30} {'median ms':>10} {'x raw SQL':>10}")
    for label, name, ms, ratio in rows:
        print(f"{label:<10} {name:<30} {ms:>10.2f} {ratio:>10.2f}")
    worst = max(ms for _, name, ms, _ in rows if "raw" not in name)
    print(f"\nslowest page: {worst:.1f} ms (goal < 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
