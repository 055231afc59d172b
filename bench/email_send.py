"""Benchmark: personalised, DKIM-signed marketing sends to Postfix's smtp-sink, on PostgreSQL.

    .venv/bin/python bench/email_send.py [--messages 100000] [--workers 3] [--no-dkim]

Needs `/usr/sbin/smtp-sink` (Debian package `postfix`; the postfix daemon is not started). A
Python SMTP server (aiosmtpd) caps around 870 messages/s by itself, so it would measure the
server, not Tandem; the tests use aiosmtpd to check what a message *is*.

Creates a private database `tandem_bench_email` on 127.0.0.1:5432 with N contacts subscribed to
the newsletter, then in one run measures:
  - Tandem: `send_run` for one send to all of them, run by `--workers` worker processes at once
    (as several task workers would): materialise recipients, claim chunks, check suppression,
    consent ledger and frequency cap per chunk, render, sanitise, add tracking, DKIM-sign
    (2048-bit RSA), SMTP, mark sent and record `email_sent` touchpoints in batches;
  - the baseline: a bare smtplib loop sending N pre-rendered messages of the same size over one
    connection (and, for reference, the same loop in `--workers` processes at once).
Prints messages/s for each and the ratio Tandem / bare loop.
Goal: >= 1,000 messages/s and >= 50% of the bare rate.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_email"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
SINK = "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"smtp-sink did not listen on {port}")


def worker(send_id: int) -> None:
    """Set up Django, say "ready", wait for "go", run the send."""
    import django

    django.setup()
    from tandem.marketing.email import sending

    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        result = profiler.runcall(sending.send_run, send_id=send_id)
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    else:
        result = sending.send_run(send_id=send_id)
    print(result.get("delivered", 0), time.process_time() - cpu, flush=True)


def bare_loop(port: int, count: int, raw: bytes, offset: int = 0) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(offset, offset + count):
            smtp.sendmail("bounces@example.com", [f"p{i}@example.com"], raw)


def dkim_env() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    os.environ.update(DKIM_DOMAIN="news.example", DKIM_SELECTOR="s1", DKIM_PRIVATE_KEY=pem.decode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--no-dkim", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.bare:
        port, count, offset = args.bare
        bare_loop(port, count, Path(os.environ["BENCH_RAW"]).read_bytes(), offset)
        return
    if not Path(SINK).exists():
        raise SystemExit("needs smtp-sink: DEBIAN_FRONTEND=noninteractive apt-get install postfix")
    n, workers = args.messages, args.workers
    port = free_port()
    sink = subprocess.Popen(
        [SINK, *(["-u", "nobody"] if os.getuid() == 0 else []), f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        run(n, workers, port, dkim=not args.no_dkim)
    finally:
        sink.terminate()
        sink.wait()


def run(n: int, workers: int, port: int, *, dkim: bool) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_TLS="0")
    os.environ["TANDEM_BASE_URL"] = "https://tandem.example"
    if dkim:
        dkim_env()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tandem.core.audit import Actor
    from tandem.crm.models import Touchpoint
    from tandem.marketing.email import message, sending
    from tandem.marketing.models import EmailRecipient, SubscriptionType
    from tandem.marketing.segments import services as seg

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO crm_contact (first_name, last_name, email, phone, title, lifecycle_stage,"
            " consent, custom, created_at, updated_at) SELECT 'P' || g, 'L', 'p' || g ||"
            " '@example.com', '', '', 'lead', 'granted', '{}', now(), now()"
            " FROM generate_series(1, %s) g",
            [n],
        )
        cur.execute(
            "INSERT INTO tracking_consentrecord (contact_id, purpose, wording, wording_version,"
            " state, at, user_agent) SELECT id, 'newsletter', '', '1', 'granted', now(), ''"
            " FROM crm_contact"
        )
        cur.execute("ANALYZE")
    system = Actor.system()
    # migration 0007 seeds "newsletter": take it over (the bench's contacts are all granted)
    news, _created = SubscriptionType.objects.update_or_create(
        key="newsletter", defaults={"name": "News", "double_opt_in": False}
    )
    template = sending.template_save(
        actor=system,
        name="Bench",
        subject="Hello {{ contact.first_name|default:'there' }}",
        html=(
            "<h1>News for {{ contact.first_name|default:'you' }}</h1>"
            "<p>Hi {{ contact.first_name }} {{ contact.last_name }}, here is what is new"
            " this month.</p>"
            '<p><a href="https://x.example/a">Read the story</a> or'
            ' <a href="https://x.example/pricing">see pricing</a>.</p>'
        ),
    )
    everyone = seg.segment_create(
        actor=system,
        name="All",
        definition={"type": "subscription", "subscription": "newsletter"},
    )
    send = sending.send_create(
        actor=system,
        name="Bench",
        template=template,
        segment=everyone,
        subscription_type=news,
        from_email="news@news.example",
        from_name="Tandem News",
        frequency_cap=3,
    )
    connection.close()
    me = [sys.executable, str(Path(__file__).resolve())]
    procs = [
        subprocess.Popen(
            [*me, "--worker", str(send.pk)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    cpu_before = os.times()
    started = time.perf_counter()
    go_at = time.time()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = [proc.communicate()[0].split() for proc in procs]
    tandem_s = time.perf_counter() - started
    cpu_after = os.times()
    delivered = sum(int(r[0]) for r in reports)
    run_cpu = sum(float(r[1]) for r in reports)  # CPU of the workers while sending
    workers_user = cpu_after.children_user - cpu_before.children_user
    workers_sys = cpu_after.children_system - cpu_before.children_system
    workers_cpu = workers_user + workers_sys  # whole processes, Django start-up included
    send.refresh_from_db()
    assert send.started_at is not None
    materialise_s = send.started_at.timestamp() - go_at  # recipients inserted (one worker)
    sent = EmailRecipient.objects.filter(send=send, status="sent").count()
    touchpoints = Touchpoint.objects.filter(kind="email_sent").count()
    assert delivered == n == sent == touchpoints, (delivered, n, sent, touchpoints)

    raw, _id = message.build(
        from_email="news@news.example",
        from_name="Tandem News",
        to="p1@example.com",
        subject="Hello P1",
        html="<h1>News for P1</h1><p>Hi P1 L, here is what is new this month.</p>"
        '<p><a href="https://x.example/a">Read the story</a> or'
        ' <a href="https://x.example/pricing">see pricing</a>.</p>',
        text="News for P1\n\nHi P1 L, here is what is new this month.\n",
        token="t" * 22,
    )
    started = time.perf_counter()
    bare_loop(port, n, raw)
    bare_s = time.perf_counter() - started
    raw_file = ROOT / "var" / "bench_email_raw.eml"
    raw_file.parent.mkdir(exist_ok=True)
    raw_file.write_bytes(raw)
    env = {**os.environ, "BENCH_RAW": str(raw_file)}
    share = n // workers
    started = time.perf_counter()
    bare_procs = [
        subprocess.Popen([*me, "--bare", str(port), str(share), str(i * share)], env=env)
        for i in range(workers)
    ]
    for bare_proc in bare_procs:
        bare_proc.wait()
    bare_parallel_s = time.perf_counter() - started
    raw_file.unlink()

    tandem_rate, bare_rate = n / tandem_s, n / bare_s
    parallel_rate = share * workers / bare_parallel_s
    print(f"messages: {n:,}  (message size {len(raw):,} bytes, DKIM {'on' if dkim else 'off'})")
    print(
        f"tandem send_run x{workers} workers: {tandem_s:.1f} s = {tandem_rate:,.0f} messages/s"
        f" (workers' CPU while sending {run_cpu:.1f} s = {run_cpu / n * 1e3:.2f} ms a message;"
        f" whole processes {workers_cpu:.1f} s: user {workers_user:.1f}, system {workers_sys:.1f})"
    )
    print(f"  of which materialising the {n:,} recipients (one worker): {materialise_s:.1f} s")
    print(f"bare smtplib loop, 1 connection:  {bare_s:.1f} s = {bare_rate:,.0f} messages/s")
    print(f"bare smtplib loop x{workers} processes: {parallel_rate:,.0f} messages/s (reference)")
    print(f"ratio tandem/bare loop: {tandem_rate / bare_rate:.2f}")
    print(f"ratio tandem/bare x{workers}: {tandem_rate / parallel_rate:.2f}")


if __name__ == "__main__":
    main()
