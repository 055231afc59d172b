"""Benchmark: the automation runner on PostgreSQL — N enrolments through a five-step flow with
waits, the clock moved past each wait, advanced by two worker processes at once.

    .venv/bin/python bench/automation.py [--enrolments 100000] [--workers 2] [--batch 500]

Creates a private database `tandem_auto` on 127.0.0.1:5432 (dropped and re-created), N
contacts with consent, and a published flow:
    s1 send_email -> s2 wait 1 day -> s3 split A/B -> s4 wait 2 days -> s5 goal
(quiet hours off, cap 5 a week). Every enrolment is due at T0. The workers advance at T0 (s1,
s2), at T0 + 1 day (s3, s4) and at T0 + 3 days (s5), meeting at a barrier between the clocks,
until nothing is due: 5 steps per enrolment, each with its `StepRun` row, the email step with
its frequency-cap count and its queued `FlowMessage` (delivery is not measured: it is an SMTP
benchmark of its own, bench/email_send.py), one guarded UPDATE per enrolment per clock, all in
claimed batches (`FOR UPDATE SKIP LOCKED`).

The baseline, in the same run, with the same number of processes: the same UPDATEs the runner
writes (`runner.move`: one statement per claimed batch setting every moved column, each row
guarded by its seq), over the same rows in the same chunks, once per clock, each chunk in its
own transaction — the bare cost of moving the rows without claiming them or running any step.
Prints steps/s, rows moved/s by the bare UPDATEs, their ratio, and each worker's peak RSS (and
its RSS after each clock: flat means no growth with the number of enrolments run).

Goal: >= 2,000 steps/s and >= 1/3 of the raw UPDATE rate; each worker's peak under 300 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_auto"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
CLOCKS = [T0, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=3)]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def engine_worker(batch: int, barrier: Any, out: Any) -> None:
    import django

    django.setup()
    from tandem.automation import runner

    steps, updates, rss = 0, 0, []
    barrier.wait()
    started = time.perf_counter()
    for clock in CLOCKS:
        while True:
            done = runner.advance_batch(now=clock, limit=batch)
            steps += done.steps
            updates += done.enrolments
            if not done.enrolments:
                break
        rss.append(round(rss_mb(), 1))
        barrier.wait()
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put({"steps": steps, "updates": updates, "seconds": elapsed, "peak": peak, "rss": rss})


def raw_worker(ids: list[int], batch: int, barrier: Any, out: Any) -> None:
    """The runner's own bulk UPDATE (`runner.move`), same chunks, same values, no steps."""
    import django

    django.setup()
    from django.db import transaction

    from tandem.automation import runner
    from tandem.automation.models import Enrolment

    rows = list(Enrolment.objects.filter(pk__in=ids).order_by("id"))
    barrier.wait()
    started = time.perf_counter()
    count = 0
    for _clock in CLOCKS:
        for i in range(0, len(rows), batch):
            chunk = [(e, e.seq) for e in rows[i : i + batch]]
            with transaction.atomic():
                runner.move(chunk)
            count += len(chunk)
    out.put({"updates": count, "seconds": time.perf_counter() - started})


def setup(n: int) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from tandem.automation import services
    from tandem.automation.models import Enrolment, Policy
    from tandem.core.audit import Actor
    from tandem.crm.models import Contact

    Policy.objects.update_or_create(
        pk=1, defaults={"quiet_start": 0, "quiet_end": 0, "emails_per_window": 5}
    )
    graph = {
        "trigger": {"kind": "manual"},
        "entry": "s1",
        "nodes": [
            {
                "id": "s1",
                "kind": "send_email",
                "config": {"subject": "Hi {first_name}", "body": "Hello"},
            },
            {"id": "s2", "kind": "wait", "config": {"days": 1}},
            {"id": "s3", "kind": "split", "config": {"percent_a": 50}},
            {"id": "s4", "kind": "wait", "config": {"days": 2}},
            {"id": "s5", "kind": "goal", "config": {}},
        ],
        "edges": [
            {"source": "s1", "target": "s2"},
            {"source": "s2", "target": "s3"},
            {"source": "s3", "target": "s4", "label": "a"},
            {"source": "s3", "target": "s4", "label": "b"},
            {"source": "s4", "target": "s5"},
        ],
    }
    flow = services.flow_create(actor=Actor.system(), name="Bench", graph=graph, reentry="always")
    version = services.flow_publish(actor=Actor.system(), flow=flow, now=T0)
    for start in range(0, n, 10_000):
        Contact.objects.bulk_create(
            Contact(first_name=f"P{i}", email=f"p{i}@example.com", consent="granted")
            for i in range(start, min(n, start + 10_000))
        )
    contact_ids = list(Contact.objects.order_by("id").values_list("pk", flat=True)[:n])
    for start in range(0, n, 10_000):
        Enrolment.objects.bulk_create(
            Enrolment(
                flow=flow, version=version, contact_id=c, status="active", node="s1",
                next_run_at=T0, trigger_key="bench", enrolled_at=T0,
            )
            for c in contact_ids[start : start + 10_000]
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def run(kind: str, workers: int, args: list[Any]) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    target = engine_worker if kind == "engine" else raw_worker
    procs = [ctx.Process(target=target, args=(*a, barrier, out)) for a in args]
    for p in procs:
        p.start()
    results = [out.get() for _p in procs]
    for p in procs:
        p.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    opts = parser.parse_args()
    t = time.perf_counter()
    setup(opts.enrolments)
    print(f"setup: {opts.enrolments} contacts and enrolments in {time.perf_counter() - t:.1f} s")

    engine = run("engine", opts.workers, [(opts.batch,)] * opts.workers)
    steps = sum(r["steps"] for r in engine)
    seconds = max(r["seconds"] for r in engine)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM automation_enrolment GROUP BY status")
        statuses = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*), count(DISTINCT (enrolment_id, seq)) FROM automation_steprun"
        )
        runs, distinct = cursor.fetchone()
        cursor.execute("SELECT id FROM automation_enrolment ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
    connection.close()
    assert statuses == {"completed": opts.enrolments}, statuses
    assert runs == distinct == 5 * opts.enrolments, (runs, distinct)

    from tandem.automation.models import Enrolment

    Enrolment.objects.update(status="active")  # the baseline moves active rows, as the runner
    connection.close()
    halves = [ids[i :: opts.workers] for i in range(opts.workers)]
    raw = run("raw", opts.workers, [(h, opts.batch) for h in halves])
    raw_updates = sum(r["updates"] for r in raw)
    raw_seconds = max(r["seconds"] for r in raw)

    rate, raw_rate = steps / seconds, raw_updates / raw_seconds
    print(f"engine: {steps} steps ({sum(r['updates'] for r in engine)} enrolment UPDATEs) "
          f"in {seconds:.1f} s = {rate:,.0f} steps/s with {opts.workers} workers")  # fmt: skip
    print(f"raw:    {raw_updates} UPDATEs in {raw_seconds:.1f} s = {raw_rate:,.0f} UPDATEs/s")
    print(f"ratio:  steps/s / raw UPDATEs/s = {rate / raw_rate:.2f}")
    for i, r in enumerate(engine):
        print(f"worker {i + 1}: peak RSS {r['peak']:.0f} MB; RSS after each clock {r['rss']} MB")


if __name__ == "__main__":
    main()
