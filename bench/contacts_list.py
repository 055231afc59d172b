"""Benchmark: the contact list (API page and HTML page) with 1,000,000 contacts on PostgreSQL,
against its budgets.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--repeat 40] [--no-reference]

Creates (once; reused on later runs) a private database `tandem_lists_bench` on
127.0.0.1:5432 with N contacts over 2,000 accounts owned by 50 reps in 5 teams. For the head (sees
everyone) and a sales rep (sees their team's contacts) it requests, from gunicorn started as
`tandem serve` starts it (1 worker, its shared file cache in a scratch TANDEM_VAR_DIR), over one
keep-alive connection: GET /api/v1/me (what any authenticated request costs), the first and
second page of GET /api/v1/contacts?limit=25, the first page of GET /api/v1/accounts?limit=25,
the HTML contact list /crm/contacts/ (sorted by name, with its capped count), the same page
searching for a name, and the HTML account list.

Budgets (medians of the served requests): every list and API page under 50 ms, a search under
100 ms, and at most 12 queries per page (each page's statements counted once with
CaptureQueriesContext in-process, after a first request has settled the session). The script
exits 1 if a budget is missed. Beside each median it prints `cpu`: the Tandem worker's CPU time
per request (user + system, read from /proc), which load on a shared machine inflates far less
than wall time.

For reference only, it also serves each page's raw SQL (the statements the page ran, replayed
with psycopg by bench/raw_pages.py under the same gunicorn) and prints the ratio; the ratio is
not a goal.
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
DB = "tandem_lists_bench"
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


def cpu_seconds(master: int) -> float:
    """CPU time (user + system, s) used so far by the worker processes of a gunicorn master:
    what the requests cost the server whatever else the machine is running."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


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
        self.reconnects = 0

    def get(self, url: str) -> bytes:
        try:
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # the server closed an idle keep-alive connection: open a new one, once
            self.reconnects += 1
            self.conn.close()
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {url}: {response.status} {body[:300]!r}")
        return body


PAGE_BUDGET_MS = 50.0
SEARCH_BUDGET_MS = 100.0
QUERY_BUDGET = 12


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median (ms) of `repeat` calls of `fn`, after three to warm caches and connections."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument(
        "--no-reference", action="store_true", help="skip serving the raw SQL for reference"
    )
    args = parser.parse_args(argv)

    ensure_database()
    var_dir = tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ["TANDEM_VAR_DIR"] = var_dir  # the served Tandem's (and this process's) cache
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tandem.core.models import User

    populate(args.contacts)
    dsn = f"postgresql://postgres@127.0.0.1:5432/{DB}"
    declare = re.compile(r'^DECLARE "[^"]+" NO SCROLL CURSOR WITH(?:OUT)? HOLD FOR ', re.S)

    def page_sql(client: Client, url: str) -> list[str]:
        """Every statement one request of the page runs (a server-side cursor as its SELECT),
        after a first request has settled the session and caches."""
        assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        statements = [declare.sub("", q["sql"]) for q in captured.captured_queries]
        return [sql for sql in statements if not sql.startswith(("FETCH ", "CLOSE "))]

    # (user, page, kind, url, budget in ms, client, statements)
    cases: list[tuple[str, str, str, str, float, Client, list[str]]] = []
    for label, username in (("head", "head"), ("sales rep", "rep7")):
        client = Client()
        client.force_login(User.objects.get(username=username))
        first = client.get("/api/v1/contacts?limit=25")
        assert first.status_code == 200, first.content[:300]
        cursor = first.json()["next_cursor"]
        for name, kind, url, budget in (
            ("GET /api/v1/me", "json", "/api/v1/me", PAGE_BUDGET_MS),
            ("API contacts 1", "json", "/api/v1/contacts?limit=25", PAGE_BUDGET_MS),
            (
                "API contacts 2",
                "json",
                f"/api/v1/contacts?limit=25&cursor={cursor}",
                PAGE_BUDGET_MS,
            ),
            ("API accounts 1", "json", "/api/v1/accounts?limit=25", PAGE_BUDGET_MS),
            ("HTML contacts", "html", "/crm/contacts/", PAGE_BUDGET_MS),
            ("HTML search", "html", "/crm/contacts/?q=first12345", SEARCH_BUDGET_MS),
            ("HTML accounts", "html", "/crm/accounts/", PAGE_BUDGET_MS),
        ):
            cases.append((label, name, kind, url, budget, client, page_sql(client, url)))

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump([{"kind": case[2], "statements": case[6]} for case in cases], spec)
    env = {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,  # the test client's sessions and cursors
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "API_RATE_LIMIT": "1000000",
        "BENCH_RAW_PAGES": spec.name,
        "BENCH_RAW_DSN": dsn,
        "PYTHONPATH": str(ROOT / "bench"),
    }
    served: dict[int, float] = {}
    reference: dict[int, float] = {}
    cpu: dict[int, float] = {}  # the Tandem worker's CPU ms per request
    tandem, tandem_port = start_gunicorn("config.wsgi:application", env)
    procs = [tandem]
    try:
        bare = None
        if not args.no_reference:
            baseline, raw_port = start_gunicorn("raw_pages:application", env)
            procs.append(baseline)
            bare = Http(raw_port)
        for i, (_, _, _, url, _, client, _) in enumerate(cases):
            # every cookie the client holds (session, CSRF), as the browser sends them
            cookie = "; ".join(f"{k}={m.value}" for k, m in client.cookies.items())
            page = Http(tandem_port, cookie)
            cpu_before = cpu_seconds(tandem.pid)
            if bare is None:
                served[i] = timed(lambda u=url, p=page: p.get(u), args.repeat)
            else:
                reference[i], served[i] = paired(
                    lambda n=i, b=bare: b.get(f"/{n}"),
                    lambda u=url, p=page: p.get(u),
                    args.repeat,
                )
            cpu[i] = (cpu_seconds(tandem.pid) - cpu_before) * 1000 / (args.repeat + 3)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)
        os.unlink(spec.name)

    print(
        f"\ncontacts: {args.contacts:,}; served by gunicorn; medians of {args.repeat} requests, ms"
    )
    print(
        f"{'user':<10}{'page':<16}{'queries':>8}{'median':>9}{'budget':>8}{'':>6}"
        f"{'cpu':>7}{'raw SQL page':>14}{'x':>6}"
    )
    missed = []
    for i, (label, name, _, _, budget, _, statements) in enumerate(cases):
        ok = served[i] < budget and len(statements) <= QUERY_BUDGET
        if not ok:
            missed.append(f"{label} {name}")
        line = (
            f"{label:<10}{name:<16}{len(statements):>8}{served[i]:>9.2f}{budget:>8.0f}"
            f"{'ok' if ok else 'OVER':>6}{cpu[i]:>7.2f}"
        )
        if i in reference:
            line += f"{reference[i]:>14.2f}{served[i] / reference[i]:>6.1f}"
        print(line)
    slowest = max(served.values())
    most = max(len(case[6]) for case in cases)
    print(
        f"\nslowest page {slowest:.1f} ms; most queries {most} (budgets: pages < "
        f"{PAGE_BUDGET_MS:.0f} ms, search < {SEARCH_BUDGET_MS:.0f} ms, <= {QUERY_BUDGET} queries)"
    )
    if missed:
        print("over budget: " + ", ".join(missed))
        return 1
    print("every page within its budgets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
