"""Ingestion benchmark: concurrent client processes POST batches to /v1/batch of a Tandem server.

    .venv/bin/python bench/ingest.py [--db postgres|sqlite|both] [--seconds 10] [--clients 3]
                                     [--batch 250] [--workers 2] [--worker-class sync]
                                     [--threads 2] [--runs 1]
    .venv/bin/python bench/ingest.py --parse [--batch 250]

For each database it starts a private Tandem (gunicorn on 127.0.0.1, a fresh database: a new
PostgreSQL database on 127.0.0.1:5432, or a SQLite file in a temporary directory), migrates it,
creates a source, and lets the clients send for `--seconds`. It prints events/s acknowledged,
p95 request latency, the client processes' share of the machine's CPU, and — in the same run —
the rate of loading the very same rows with COPY (PostgreSQL) or one executemany (SQLite) into
a copy of the table with the same indexes, and the ratio. Everything is bounded in time and count,
targets 127.0.0.1 only, and is removed afterwards.

`--parse` times the Segment parser alone, in this process (no server, no database):
`ingest.prepare` over the same request bodies the clients send (track/page calls), and over the
same bodies with every fifth call an identify, group or alias; it prints CPU microseconds per
event (process time, the best of 7 rounds of 40 bodies: other work on the machine disturbs it
least).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MAX_REQUESTS_PER_CLIENT = 20_000
COLUMNS = (
    "contact_id, account_id, anonymous_id, user_id, occurred_at, channel, department, "
    "kind, campaign, content, actor_id, properties, is_bot, source, message_id, "
    "recorded_at"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        TANDEM_VAR_DIR=var_dir,
        SECRET_KEY="bench-" + "x" * 40,
        DJANGO_SETTINGS_MODULE="config.settings",
        TRACKING_BENCH="1",
        LOG_LEVEL="ERROR",
    )
    return env


def _prepare(env: dict[str, str]) -> str:
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PYTHON, "manage.py", "source", "create", "bench", "--kind", "website"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _event(run: str, n: int) -> dict[str, object]:
    return {
        "type": "track" if n % 3 else "page",
        "event": "Product Viewed",
        "anonymousId": f"{run}-visitor-{n % 5000}",
        "messageId": f"{run}-{n}",
        "timestamp": "2026-06-01T10:00:00.000Z",
        "properties": {"sku": f"SKU-{n % 700}", "price": 19.9, "category": "sensors"},
        "context": {
            "campaign": {"source": "linkedin", "medium": "social", "name": "june"},
            "page": {"url": "https://shop.example/p/1", "referrer": ""},
            "ip": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
    }


def _bodies(run: str, index: int, batch: int) -> list[bytes]:
    """A few pre-serialised request bodies per client; `@SEQ@` in every messageId is replaced by
    the request's sequence number, so every event sent is new while the client does almost no
    work per request (one bytes.replace)."""
    bodies = []
    for variant in range(8):
        base = (index * 8 + variant) * batch
        events = [_event(run, base + i) for i in range(batch)]
        for i, event in enumerate(events):
            event["messageId"] = f"{run}-{index}-{variant}-@SEQ@-{i}"
        bodies.append(json.dumps({"batch": events, "sentAt": "2026-06-01T10:00:00.000Z"}).encode())
    return bodies


def _client(
    port: int, key: str, run: str, index: int, batch: int, deadline: float, out: mp.Queue
) -> None:
    import base64

    bodies = _bodies(run, index, batch)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
    }
    sent = 0
    latencies: list[float] = []
    errors = 0
    cpu0 = time.process_time()
    for seq in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        body = bodies[seq % len(bodies)].replace(b"@SEQ@", str(seq).encode())
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/batch", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - start)
        if response.status == 200:
            sent += batch
        else:
            errors += 1
    out.put((sent, latencies, errors, time.process_time() - cpu0))


def _load(port: int, key: str, clients: int, batch: int, seconds: float) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    queue: mp.Queue = mp.Queue()
    start = time.monotonic()
    deadline = start + seconds
    procs = [
        mp.Process(target=_client, args=(port, key, run, i, batch, deadline, queue))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    wall = time.monotonic() - start
    for p in procs:
        p.join(timeout=10)
    events = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    cpu = sum(r[3] for r in results)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    return {
        "events": events,
        "wall": wall,
        "rate": events / wall,
        "p95_ms": p95 * 1000,
        "median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "errors": sum(r[2] for r in results),
        "client_cpu_share": cpu / (wall * (os.cpu_count() or 1)),
    }


def _serve(
    env: dict[str, str], workers: int, worker_class: str = "gthread", threads: int = 2
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    server = subprocess.Popen(
        [
            GUNICORN,
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(600):  # ready when a request is answered (the app is loaded)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/v1/batch")
            conn.getresponse().read()
            conn.close()
            return server, port
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def _copy_rate_postgres(url: str) -> tuple[int, float]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        buffer = bytearray()
        with conn.cursor().copy(f"COPY (SELECT {COLUMNS} FROM crm_touchpoint) TO STDOUT") as cp:
            for chunk in cp:
                buffer += chunk
        rows = conn.execute("SELECT count(*) FROM crm_touchpoint").fetchone()[0]  # type: ignore[index]
        conn.execute("CREATE TABLE bench_copy (LIKE crm_touchpoint INCLUDING ALL)")
        start = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY bench_copy ({COLUMNS}) FROM STDIN") as cp,
        ):
            cp.write(bytes(buffer))
        elapsed = time.perf_counter() - start
    return rows, rows / elapsed


def _copy_rate_sqlite(path: str) -> tuple[int, float]:
    conn = sqlite3.connect(path)
    rows = conn.execute(f"SELECT {COLUMNS} FROM crm_touchpoint").fetchall()
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name='crm_touchpoint'").fetchone()[0]
    conn.execute(ddl.replace('"crm_touchpoint"', '"bench_copy"', 1))
    conn.execute("CREATE UNIQUE INDEX bench_copy_mid ON bench_copy (message_id)")
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    start = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO bench_copy ({COLUMNS}) VALUES ({marks})", rows)
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows), len(rows) / elapsed


def bench(db: str, args: argparse.Namespace) -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix="tandem-bench-")
    if db == "postgres":
        import psycopg

        name = f"tandem_bench_{os.getpid()}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.execute(f"CREATE DATABASE {name}")
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp}/bench.sqlite3"
    env = _env(url, tmp)
    try:
        key = _prepare(env)
        server, port = _serve(env, args.workers, args.worker_class, args.threads)
        try:
            _load(port, key, 1, args.batch, 1.0)  # warm up: connections, rule cache
            result = _load(port, key, args.clients, args.batch, args.seconds)
        finally:
            _stop(server)
        if db == "postgres":
            rows, copy_rate = _copy_rate_postgres(url)
        else:
            rows, copy_rate = _copy_rate_sqlite(f"{tmp}/bench.sqlite3")
        result.update(rows=rows, copy_rate=copy_rate, ratio=result["rate"] / copy_rate)
        return result
    finally:
        if db == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def parse_only(batch: int) -> None:
    import datetime as dt

    sys.path.insert(0, str(ROOT))
    os.environ.update(
        _env("sqlite:///" + tempfile.mkdtemp() + "/unused.sqlite3", tempfile.mkdtemp())
    )
    import django

    django.setup()
    from tandem.tracking.channels import compile_rules, default_rule_dicts
    from tandem.tracking.ingest import prepare

    rules = compile_rules(default_rule_dicts())
    received = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    plain = [json.loads(body) for body in _bodies("parse", 0, batch)]
    mixed = json.loads(json.dumps(plain))
    identity = [
        {"type": "identify", "traits": {"email": "a@b.example", "plan": "pro"}},
        {"type": "group", "groupId": "g1", "traits": {"name": "Acme"}},
        {"type": "alias", "previousId": "p1", "userId": "u1"},
    ]
    for body in mixed:
        for n, call in enumerate(body["batch"]):
            if n % 5 == 4:
                call.pop("event", None)
                call.update(identity[n % 3], userId="u1")
    for name, bodies in (("track/page", plain), ("with identify/group/alias", mixed)):
        best = float("inf")
        for _round in range(7):
            start = time.process_time()
            for n in range(40):
                prepare(
                    bodies[n % len(bodies)],
                    path_type=None,
                    source_id=1,
                    source_kind="website",
                    received_at=received,
                    request_ip="203.0.113.9",
                    request_user_agent="bench",
                    rules=rules,
                )
            best = min(best, time.process_time() - start)
        print(f"parse {name}: {best / (40 * batch) * 1e6:.2f} CPU us per event (best of 7)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="repeat; the medians are judged")
    parser.add_argument("--parse", action="store_true", help="time the parser alone, in process")
    args = parser.parse_args()
    if not (
        1 <= args.seconds <= 120
        and 1 <= args.clients <= 16
        and 1 <= args.batch <= 2000
        and 1 <= args.workers <= 8
        and 1 <= args.threads <= 8
        and 1 <= args.runs <= 9
    ):
        parser.error(
            "bounded: 1-120 seconds, 1-16 clients, batches of 1-2000, 1-8 workers and threads, "
            "1-9 runs"
        )
    if args.parse:
        parse_only(args.batch)
        return 0
    goals = {"postgres": 10_000, "sqlite": 3_000}
    server = f"gunicorn {args.workers} {args.worker_class} workers" + (
        f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    )
    failed = False
    for db in ["postgres", "sqlite"] if args.db == "both" else [args.db]:
        baseline = "COPY" if db == "postgres" else "executemany"
        runs = []
        for _ in range(args.runs):
            r = bench(db, args)
            runs.append(r)
            print(
                f"{db}: {r['rate']:,.0f} events/s acknowledged ({r['events']:,.0f} in "
                f"{r['wall']:.1f} s, {args.clients} clients x batches of {args.batch}, {server}); "
                f"p95 {r['p95_ms']:.0f} ms, median {r['median_ms']:.0f} ms; errors "
                f"{r['errors']:.0f}; client CPU share {r['client_cpu_share']:.0%}; {baseline} of "
                f"the same {r['rows']:,.0f} rows {r['copy_rate']:,.0f} rows/s; ratio "
                f"{r['ratio']:.1%}",
                flush=True,
            )
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{db}: median of {len(runs)} run(s): {m['rate']:,.0f} events/s, p95 "
            f"{m['p95_ms']:.0f} ms, client CPU share {m['client_cpu_share']:.0%}, {baseline} "
            f"{m['copy_rate']:,.0f} rows/s, ratio {m['ratio']:.1%}"
        )
        ok = m["rate"] >= goals[db] and (db != "postgres" or m["ratio"] >= 0.20)
        print(
            f"{db}: goal {goals[db]:,} events/s"
            + (" and 20% of COPY" if db == "postgres" else "")
            + (": met" if ok else ": NOT met")
        )
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
