"""Benchmark: the head's cockpit (their home page, `/`) on the large demo on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--runs 7] [--quick] [--db tandem_bench] [--reload]
                                        [--fresh] [--size large|small]

Uses the PostgreSQL database `--db` on 127.0.0.1:5432 (`BENCH_PG` names another server):
creates it if missing and loads the large demo into it with the real command, timed
(`tandem demo --no-serve --size large`, about 5,000 accounts and 50,000 contacts) unless it
holds the large demo already, else migrates it (`--reload` loads it again with `--reset`,
`--fresh` drops the database first, for one whose migration history no longer fits the code;
`--size small` uses the small demo instead, to try the script in a few minutes).

Each measurement runs in a web process of its own (a child of this script) that serves
`GET /` to the signed-in head through Django's WSGI handler, as gunicorn calls it (no socket,
no test-client instrumentation), for the default period (this quarter, linear model):
  - cold: a fresh process and database connection, Django's caches cleared and the stored
    attribution runs deleted, so the first request computes everything (PostgreSQL's shared
    buffers and the OS page cache cannot be dropped here: they stay warm); the URLconf, and
    with it every view and API module (numpy, scipy, scikit-learn, pydantic schemas), is
    imported before the request, as a worker that loaded its application; that import is
    timed and printed on its own; `--runs` processes, one request each;
  - warm: one process, one request to warm it up, then `--runs` requests.
Every request's queries are timed one by one (`connection.execute_wrapper`); the baseline
measured in the same run is the page's slowest single query, and the ratio printed is
render / slowest query. Peak memory is the web process's `ru_maxrss` (imports included).

Goals: warm median < 1 s, cold median < 3 s, peak memory < 500 MB. Exits 1 when one is missed.
`--quick` is 3 runs of each.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PATH = "/"
GOALS = {"warm": 1.0, "cold": 3.0, "memory_mb": 500.0}
ACCOUNTS = {"large": 5000, "small": 100}


def _env(db: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = f"{SERVER}/{db}"
    scratch = Path(tempfile.gettempdir()) / f"tandem-bench-dashboard-{db}"
    env.setdefault("TANDEM_VAR_DIR", str(scratch))
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    Path(env["TANDEM_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


# --- the parent: database, demo, runs ------------------------------------------------------


def ensure_database(db: str, fresh: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
            print(f"dropped database {db}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
            print(f"created database {db}")


def demo_accounts(db: str) -> int:
    import psycopg

    with psycopg.connect(f"{SERVER}/{db}") as conn:
        found = conn.execute("SELECT to_regclass('crm_account') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return 0
        row = conn.execute(
            "SELECT count(DISTINCT a.account_id) FROM crm_account_tags a"
            " JOIN crm_tag t ON t.id = a.tag_id WHERE t.name = 'demo'"
        ).fetchone()
        return int(row[0]) if row else 0


def load_demo(db: str, size: str, reset: bool) -> float:
    command = [str(Path(sys.executable).with_name("tandem")), "demo", "--no-serve"]
    command += ["--size", size] + (["--reset"] if reset else [])
    print(f"loading the {size} demo:", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, env=_env(db), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    print(f"{size} demo loaded in {seconds:.1f} s (migrations included)", flush=True)
    return seconds


def child(db: str, mode: str, runs: int) -> list[dict[str, Any]]:
    command = [sys.executable, __file__, "--child", mode, "--runs", str(runs), "--db", db]
    done = subprocess.run(command, env=_env(db), cwd=ROOT, check=True, capture_output=True)
    return list(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 runs of each")
    parser.add_argument("--db", default="tandem_bench")
    parser.add_argument("--reload", action="store_true", help="load the demo again")
    parser.add_argument("--size", choices=list(ACCOUNTS), default="large")
    parser.add_argument(
        "--fresh", action="store_true", help="drop the database first, then load the demo"
    )
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    if args.child:
        print(json.dumps(serve(args.child, runs)))
        return 0

    ensure_database(args.db, fresh=args.fresh)
    accounts = demo_accounts(args.db)
    if args.reload or accounts != ACCOUNTS[args.size]:
        load_demo(args.db, args.size, reset=args.reload or accounts > 0)
    else:  # the demo is there: bring its schema up to this code's migrations
        migrate = [sys.executable, "manage.py", "migrate", "-v0"]
        if subprocess.run(migrate, env=_env(args.db), cwd=ROOT).returncode:
            print(f"{args.db} cannot be migrated to this code: run again with --fresh")
            return 2
    load = os.getloadavg()[0]
    print(f"database {args.db}: {demo_accounts(args.db)} demo accounts; load average {load:.1f}")

    cold = [child(args.db, "cold", 1)[0] for _ in range(runs)]
    warm = child(args.db, "warm", runs)
    report(cold, warm)
    print(f"load average now {os.getloadavg()[0]:.1f} (2 cores; other work slows every figure)")
    missed = _missed(cold, warm)
    print("every goal met" if not missed else "missed: " + ", ".join(missed))
    return 1 if missed else 0


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(cold: list[dict[str, Any]], warm: list[dict[str, Any]]) -> None:
    print()
    print(f"{'GET /':8} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'queries':>7} "
          f"{'slowest q s':>11} {'x':>6} {'peak MB':>8}")  # fmt: skip
    for name, rows in (("cold", cold), ("warm", warm)):
        render = _median(rows, "seconds")
        slowest = _median(rows, "slowest")
        print(
            f"{name:8} {len(rows):4d} {render:9.3f} {min(r['seconds'] for r in rows):7.3f} "
            f"{max(r['seconds'] for r in rows):7.3f} {int(_median(rows, 'queries')):7d} "
            f"{slowest:11.4f} {render / slowest if slowest else 0:6.1f} "
            f"{max(r['maxrss_mb'] for r in rows):8.0f}"
        )
    print()
    for name, rows in (("cold", cold), ("warm", warm)):
        middle = sorted(rows, key=lambda r: r["seconds"])[len(rows) // 2]
        print(f"{name}: slowest query {middle['slowest']:.4f} s: {middle['slowest_sql'][:300]}")
        print(
            f"{name}: the {len(middle['top'])} slowest queries together "
            f"{sum(middle['top']):.3f} s; all {middle['queries']} queries "
            f"{middle['query_seconds']:.3f} s"
        )
    imports = statistics.median(r["imports"] for r in cold)
    print(
        f"a new process's imports before its first request (URLconf, views, API): {imports:.1f} s"
    )
    print()
    print(
        f"goals: warm < {GOALS['warm']} s, cold < {GOALS['cold']} s, "
        f"peak memory < {GOALS['memory_mb']:.0f} MB"
    )


def _missed(cold: list[dict[str, Any]], warm: list[dict[str, Any]]) -> list[str]:
    missed = []
    if _median(warm, "seconds") >= GOALS["warm"]:
        missed.append("warm")
    if _median(cold, "seconds") >= GOALS["cold"]:
        missed.append("cold")
    if max(r["maxrss_mb"] for r in cold + warm) >= GOALS["memory_mb"]:
        missed.append("memory")
    return missed


# --- the child: a web process -------------------------------------------------------------


def serve(mode: str, runs: int) -> list[dict[str, Any]]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import Client
    from django.urls import get_resolver

    from tandem.attribution.models import AttributionRun
    from tandem.core.models import User

    head = User.objects.filter(role="head", is_active=True).order_by("pk").first()
    if head is None:
        raise SystemExit("no head in the database: load the demo")
    if mode == "cold":
        for alias in settings.CACHES:
            caches[alias].clear()
        AttributionRun.objects.all().delete()  # the stored runs are the attribution's cache
    client = Client()
    client.force_login(head)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    handler = WSGIHandler()
    started = time.perf_counter()
    get_resolver().url_patterns  # noqa: B018  (imports every view and API module, as below)
    imports = time.perf_counter() - started
    connection.close()  # the request opens the process's connection, as a fresh worker does

    def request() -> dict[str, Any]:
        timings: list[tuple[float, str]] = []

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append((time.perf_counter() - started, sql))

        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": PATH,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": cookie,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        status: list[str] = []

        def start_response(code: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(code)
            return lambda data: None

        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            body = b"".join(handler(environ, start_response))
        seconds = time.perf_counter() - started
        if not status or not status[0].startswith("200") or b"<html" not in body:
            raise SystemExit(f"GET {PATH} answered {status}: {body[:300]!r}")
        timings.sort(reverse=True)
        return {
            "seconds": seconds,
            "queries": len(timings),
            "query_seconds": sum(t for t, _sql in timings),
            "slowest": timings[0][0] if timings else 0.0,
            "slowest_sql": timings[0][1] if timings else "",
            "top": [t for t, _sql in timings[:5]],
            "bytes": len(body),
        }

    if mode == "cold":
        rows = [request()]
    else:
        request()  # warm-up
        rows = [request() for _ in range(runs)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["maxrss_mb"] = peak
        row["imports"] = imports
    connection.close()
    return rows


if __name__ == "__main__":
    sys.exit(main())
