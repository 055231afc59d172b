"""Benchmark: the contact list (API page and HTML page) with 1,000,000 contacts on PostgreSQL.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--repeat 40]

Creates (once; reused on later runs) a private database `tandem_bench_contacts` on
127.0.0.1:5432 with N contacts over 2,000 accounts owned by 50 reps in 5 teams, then measures in
one run, for the head (sees everyone) and for a sales rep (sees their team's contacts):
  - the first and the second page of GET /api/v1/contacts?limit=25 (through Django's full stack:
    middleware, auth, scoped query, serialisation; in-process, no network);
  - the first page of the HTML contact list /crm/contacts/ (sorted by name, with its capped
    count), and the same page searching for a name;
  - the raw SQL for each page with psycopg (the baseline), and GET /api/v1/me, the fixed cost
    of any authenticated request (middleware, session, auth, JSON).
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

    # client-side binding, as Django uses: the planner sees the search pattern itself
    raw = psycopg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{DB}", cursor_factory=psycopg.ClientCursor
    )
    columns = (
        "c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.lifecycle_stage, "
        "c.consent, c.created_at, c.updated_at, c.owner_id, c.account_id, a.name"
    )
    base = f"SELECT {columns} FROM crm_contact c LEFT JOIN crm_account a ON a.id = c.account_id"
    newest = "ORDER BY c.created_at DESC, c.id DESC LIMIT 26"
    by_name = "ORDER BY c.last_name, c.first_name, c.id LIMIT 26"
    capped = "SELECT count(*) FROM (SELECT 1 FROM crm_contact c {where} LIMIT 1001) t"
    search = (
        "(UPPER(c.first_name::text) LIKE UPPER(%(q)s) OR UPPER(c.last_name::text) LIKE "
        "UPPER(%(q)s) OR UPPER(c.email::text) LIKE UPPER(%(q)s) OR "
        "UPPER(c.title::text) LIKE UPPER(%(q)s))"
    )

    def raw_page(where: str, order: str, params: dict, with_count: bool) -> Callable[[], None]:
        def run() -> None:
            rows = raw.execute(f"{base} {where} {order}", params).fetchall()
            if with_count and len(rows) > 25:  # as the page: count only when there is more
                raw.execute(capped.format(where=where), params).fetchone()

        return run

    rows: list[tuple[str, str, float, float]] = []
    for label, user, scope, params in (
        ("head", head, "", {}),
        ("sales rep", rep, "c.owner_id = ANY(%(team)s)", {"team": team_ids}),
    ):
        client = Client()
        client.force_login(user)
        first = client.get("/api/v1/contacts?limit=25")
        assert first.status_code == 200, first.content[:300]
        cursor = first.json()["next_cursor"]
        assert client.get("/crm/contacts/").status_code == 200
        term = {"q": "%first12345%", **params}
        where = f"WHERE {scope}" if scope else ""
        where_q = f"WHERE {scope} AND {search}" if scope else f"WHERE {search}"
        cases = [
            ("API page 1", "/api/v1/contacts?limit=25", raw_page(where, newest, params, False)),
            (
                "API page 2",
                f"/api/v1/contacts?limit=25&cursor={cursor}",
                raw_page(where, newest, params, False),
            ),
            ("HTML list page", "/crm/contacts/", raw_page(where, by_name, params, True)),
            (
                "HTML search page",
                "/crm/contacts/?q=first12345",
                raw_page(where_q, by_name, term, True),
            ),
        ]
        fixed = median_ms(lambda c=client: c.get("/api/v1/me"), args.repeat)
        rows.append((label, "GET /api/v1/me (fixed cost)", fixed, float("nan")))
        for name, url, baseline in cases:
            raw_ms = median_ms(baseline, args.repeat)
            ms = median_ms(lambda c=client, u=url: c.get(u), args.repeat)
            rows.append((label, f"{name} (raw SQL)", raw_ms, 1.0))
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
