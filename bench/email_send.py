"""Benchmark: personalised, DKIM-signed marketing sends to a local aiosmtpd server on PostgreSQL.

    .venv/bin/python bench/email_send.py [--messages 100000]

Creates (once per size) a private database `tandem_bench_email` on 127.0.0.1:5432 with N
subscribed contacts, then in one run measures:
  - Tandem: `send_run` for a send to all of them (claim, eligibility checks against the consent
    ledger, suppressions and frequency cap, render, sanitise, DKIM sign, SMTP, mark sent);
  - the baseline: a bare smtplib loop sending N pre-rendered messages to the same server.
Prints messages/s for both and the ratio. Goal: >= 1,000 messages/s and >= 50% of the bare rate.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_email"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import psycopg  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    n = parser.parse_args().messages
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tandem.core.audit import Actor
    from tandem.marketing.email import sending
    from tandem.marketing.models import SubscriptionType
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
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    system = Actor.system()
    news = SubscriptionType.objects.create(key="newsletter", name="News", double_opt_in=False)
    template = sending.template_save(
        actor=system,
        name="Bench",
        subject="Hello {{ contact.first_name|default:'there' }}",
        html='<p>Hi {{ contact.first_name }}!</p><p><a href="https://x.example/a">Read</a></p>',
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
        from_email="news@example.com",
    )
    started = time.perf_counter()
    result = sending.send_run(send_id=send.pk)
    tandem_s = time.perf_counter() - started
    assert result["delivered"] == n, result
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n\r\n"
        + (b"x" * 70 + b"\r\n") * 30
    )
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            smtp.sendmail("a@example.com", [f"p{i}@example.com"], raw)
    bare_s = time.perf_counter() - started
    controller.stop()
    tandem_rate, bare_rate = n / tandem_s, n / bare_s
    print(f"messages: {n:,}")
    print(f"tandem send_run: {tandem_s:.1f} s = {tandem_rate:,.0f} messages/s")
    print(f"bare smtplib:    {bare_s:.1f} s = {bare_rate:,.0f} messages/s")
    print(f"ratio tandem/bare: {tandem_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
