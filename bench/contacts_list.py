"""Benchmark: the contact list (API page and HTML page) with 1,000,000 contacts on PostgreSQL.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--repeat 40] [--no-served]

Creates (once; reused on later runs) a private database `tandem_bench_contacts` on
127.0.0.1:5432 with N contacts over 2,000 accounts owned by 50 reps in 5 teams. For the head (sees
everyone) and a sales rep (sees their team's contacts) it measures GET /api/v1/me (what any
authenticated request costs), the first and second page of GET /api/v1/contacts?limit=25, the
first page of the HTML contact list /crm/contacts/ (sorted by name, with its capped count) and
the same page searching for a name.

The baseline is the raw SQL of the same page. One request of the page runs under
CaptureQueriesContext; its statements — all of them: the session and user look-ups, the scoped
list with the rep's real scope, the tag names, the capped count, the filter's choices — are the
page's raw SQL. Two legs, each timing page and baseline alternately (so noise from a shared
machine falls on both) and quoting medians:
  - in-process: the page through Django's test client (middleware, session, auth, scoped query,
    serialisation or template; no network) against the statements replayed with psycopg on one
    connection;
  - served: the page from gunicorn started as `tandem serve` starts it (1 worker), against
    bench/raw_pages.py — the same statements and nothing else, writing their rows as JSON or an
    HTML table — served by the same gunicorn; one keep-alive HTTP connection each.
Goal: under 100 ms and at most 3x the raw query, judged on the served leg (a page is an HTTP
response, so its raw counterpart is the same SQL answered over HTTP); the in-process leg is
printed for reference.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
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


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def paired(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Medians (ms) of `a` and `b`, timed alternately (the order swapping each round)."""
    for _ in range(3):  # warm up caches and connections
        a()
        b()
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(repeat):
        order = ((0, a), (1, b)) if i % 2 == 0 else ((1, b), (0, a))
        for which, fn in order:
            started = time.perf_counter()
            fn()
            times[which].append((time.perf_counter() - started) * 1000)
    return median(times[0]), median(times[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    from tandem.core.cli import gunicorn_options

    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, *gunicorn_options(f"127.0.0.1:{port}", workers=1, threads=4, app=app)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn for {app} exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn for {app} did not start in 30 s")


class Http:
    """GET over one keep-alive connection, insisting on 200."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Cookie": cookie} if cookie else {}

    def get(self, url: str) -> bytes:
        self.conn.request("GET", url, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {url}: {response.status} {body[:300]!r}")
        return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--no-served", action="store_true", help="skip the gunicorn leg")
    args = parser.parse_args(argv)

    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tandem.core.models import User

    populate(args.contacts)
    dsn = f"postgresql://postgres@127.0.0.1:5432/{DB}"
    # client-side binding, as Django uses: the planner sees the same literal SQL
    raw = psycopg.connect(dsn, cursor_factory=psycopg.ClientCursor, autocommit=True)
    declare = re.compile(r'^DECLARE "[^"]+" NO SCROLL CURSOR WITH(?:OUT)? HOLD FOR ', re.S)

    def page_sql(client: Client, url: str) -> list[str]:
        """Every statement one request of the page runs (a server-side cursor as its SELECT)."""
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        statements = [declare.sub("", q["sql"]) for q in captured.captured_queries]
        return [sql for sql in statements if not sql.startswith(("FETCH ", "CLOSE "))]

    def replay(statements: list[str]) -> Callable[[], None]:
        def run() -> None:
            for sql in statements:
                raw.execute(sql).fetchall()

        return run

    # (user, page, kind, url, client, statements)
    cases: list[tuple[str, str, str, str, Client, list[str]]] = []
    for label, username in (("head", "head"), ("sales rep", "rep7")):
        client = Client()
        client.force_login(User.objects.get(username=username))
        first = client.get("/api/v1/contacts?limit=25")
        assert first.status_code == 200, first.content[:300]
        cursor = first.json()["next_cursor"]
        for name, kind, url in (
            ("GET /api/v1/me", "json", "/api/v1/me"),
            ("API page 1", "json", "/api/v1/contacts?limit=25"),
            ("API page 2", "json", f"/api/v1/contacts?limit=25&cursor={cursor}"),
            ("HTML list page", "html", "/crm/contacts/"),
            ("HTML search page", "html", "/crm/contacts/?q=first12345"),
        ):
            cases.append((label, name, kind, url, client, page_sql(client, url)))

    results: dict[int, tuple[float, float]] = {}
    for i, (_, _, _, url, client, statements) in enumerate(cases):
        results[i] = paired(replay(statements), lambda c=client, u=url: c.get(u), args.repeat)

    served: dict[int, tuple[float, float]] = {}
    if not args.no_served:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump([{"kind": k, "statements": st} for _, _, k, _, _, st in cases], spec)
        env = {
            **os.environ,
            "SECRET_KEY": settings.SECRET_KEY,  # the test client's sessions and cursors
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "API_RATE_LIMIT": "1000000",
            "BENCH_RAW_PAGES": spec.name,
            "BENCH_RAW_DSN": dsn,
            "PYTHONPATH": str(ROOT / "bench"),
        }
        tandem, tandem_port = start_gunicorn("config.wsgi:application", env)
        baseline, raw_port = start_gunicorn("raw_pages:application", env)
        try:
            bare = Http(raw_port)
            for i, (_, _, _, url, client, _) in enumerate(cases):
                # every cookie the client holds (session, CSRF), as the browser sends them
                cookie = "; ".join(f"{k}={m.value}" for k, m in client.cookies.items())
                page = Http(tandem_port, cookie)
                served[i] = paired(
                    lambda n=i: bare.get(f"/{n}"), lambda u=url, p=page: p.get(u), args.repeat
                )
        finally:
            for proc in (tandem, baseline):
                proc.terminate()
                proc.wait(timeout=15)
            os.unlink(spec.name)

    print(f"\ncontacts: {args.contacts:,}; medians of {args.repeat} requests each, ms")
    print(f"{'':<28}{'in-process':>26}{'served (gunicorn)':>28}")
    print(
        f"{'user':<10}{'page':<18}{'st.':>4}{'raw SQL':>9}{'page':>7}{'x':>6}"
        f"{'raw page':>12}{'page':>8}{'x':>6}"
    )
    worst = 0.0
    worst_ratio = {"in-process": 0.0, "served": 0.0}
    for i, (label, name, _, _, _, statements) in enumerate(cases):
        raw_ms, page_ms = results[i]
        line = f"{label:<10}{name:<18}{len(statements):>4}{raw_ms:>9.2f}{page_ms:>7.2f}"
        line += f"{page_ms / raw_ms:>6.1f}"
        worst = max(worst, page_ms)
        worst_ratio["in-process"] = max(worst_ratio["in-process"], page_ms / raw_ms)
        if i in served:
            raw_served, page_served = served[i]
            line += f"{raw_served:>12.2f}{page_served:>8.2f}{page_served / raw_served:>6.1f}"
            worst = max(worst, page_served)
            worst_ratio["served"] = max(worst_ratio["served"], page_served / raw_served)
        print(line)
    print(f"\nslowest page: {worst:.1f} ms (goal < 100 ms)")
    print(
        "highest ratio: served {served:.1f}x (the goal: at most 3x; page and raw SQL both over"
        " HTTP), in-process {in-process:.1f}x (raw side without a request)".format(**worst_ratio)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
