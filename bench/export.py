"""Benchmark: exporting the contact list (page, full request stack) versus PostgreSQL's COPY TO.

    .venv/bin/python bench/export.py [--rows 200000] [--xlsx]

Creates (once) a private database `tandem_bench_export` on 127.0.0.1:5432 and fills it with N
contacts (1 account per 50 contacts; reused while the count matches), then measures:
  - Tandem CSV: GET /crm/contacts/export/ as the head of sales through Django's test client
    (middleware, scoped query, formula neutralising, streaming): total time, time to the first
    chunk, and the peak Python memory of a second pass (tracemalloc);
  - baseline: psycopg `COPY (SELECT … the same columns, joins and order …) TO STDOUT CSV`;
  - with `--xlsx`, Tandem XLSX of the same list.
Prints rows per second and the ratio Tandem CSV / COPY.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_export"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import psycopg  # noqa: E402

COPY_SQL = """
COPY (
  SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, a.name,
         c.lifecycle_stage, c.consent, u.email, c.created_at, c.updated_at
  FROM crm_contact c
  LEFT JOIN crm_account a ON a.id = c.account_id
  LEFT JOIN core_user u ON u.id = c.owner_id
  ORDER BY c.last_name, c.first_name, c.id
) TO STDOUT WITH (FORMAT csv, HEADER true)
"""


def ensure_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')


def seed(rows: int) -> None:
    from django.db import connection

    from tandem.crm.models import Account, Contact

    if Contact.objects.count() == rows:
        return
    with connection.cursor() as cur:
        cur.execute("TRUNCATE crm_contact, crm_account, core_auditentry CASCADE")
    accounts = Account.objects.bulk_create(
        [
            Account(name=f"Company {i}", domains=[f"co{i}.example.com"])
            for i in range(rows // 50 + 1)
        ],
        batch_size=5000,
    )
    batch: list[Contact] = []
    for i in range(rows):
        batch.append(
            Contact(
                first_name=f"First{i}",
                last_name=f"Last{i % 9973}",
                email=f"person{i}@co{i // 50}.example.com",
                title='=HYPERLINK("http://x")' if i % 1000 == 0 else "Engineer",
                account_id=accounts[i // 50].pk,
            )
        )
        if len(batch) == 10_000:
            Contact.objects.bulk_create(batch)
            batch.clear()
    Contact.objects.bulk_create(batch)


def export(client: object, fmt: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    response = client.get("/crm/contacts/export/", {"format": fmt})  # type: ignore[attr-defined]
    first = None
    size = 0
    for chunk in response.streaming_content:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    return time.perf_counter() - started, first or 0.0, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--xlsx", action="store_true", help="also time the XLSX export")
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from tandem.core.models import Role, User

    setup_test_environment()
    call_command("migrate", verbosity=0)
    seed(args.rows)
    head, _created = User.objects.get_or_create(
        username="bench-head", defaults={"role": Role.HEAD, "email": "head@bench.test"}
    )
    client = Client()
    client.force_login(head)
    client.get("/crm/contacts/")  # warm up: URL modules, templates, translations

    started = time.perf_counter()
    copied = 0
    with (
        psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}") as conn,
        conn.cursor() as cur,
        cur.copy(COPY_SQL) as copy,
    ):
        for block in copy:
            copied += len(block)
    copy_seconds = time.perf_counter() - started

    csv_seconds, first_chunk, size = export(client, "csv")
    tracemalloc.start()
    export(client, "csv")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"rows: {args.rows:,}; CSV {size / 1e6:.1f} MB (COPY {copied / 1e6:.1f} MB)")
    print(f"COPY TO:     {copy_seconds:7.2f} s  ({args.rows / copy_seconds:,.0f} rows/s)")
    print(
        f"Tandem CSV:  {csv_seconds:7.2f} s  ({args.rows / csv_seconds:,.0f} rows/s); "
        f"first chunk after {first_chunk * 1000:.0f} ms; peak Python memory {peak / 1e6:.1f} MB"
    )
    if args.xlsx:
        xlsx_seconds, _first, xlsx_size = export(client, "xlsx")
        print(
            f"Tandem XLSX: {xlsx_seconds:7.2f} s  ({args.rows / xlsx_seconds:,.0f} rows/s), "
            f"{xlsx_size / 1e6:.1f} MB"
        )
    print(f"ratio Tandem CSV / COPY: {csv_seconds / copy_seconds:.1f}x")


if __name__ == "__main__":
    main()
