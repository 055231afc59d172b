"""Benchmark: importing a HubSpot-style contact CSV into PostgreSQL versus COPY of the same file.

    .venv/bin/python bench/import.py [--rows 1000000]

Creates (once) a private database `tandem_bench_import` on 127.0.0.1:5432, writes a CSV of N
rows with HubSpot's export headers (BOM, First Name, Last Name, Email, Job Title, Company Name,
Website URL, Lifecycle Stage; 1 company per 50 contacts), empties the customer record, then in
one run measures:
  - Tandem: `import_run` (real run: each row through crm services, dedupe, audit, undo records);
  - baseline: psycopg `COPY ... FROM STDIN` of the same file into an unlogged text table.
Prints both times, rows per second and the ratio. Goal (issue 6): Tandem under 60 s for 1,000,000.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_import"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import psycopg  # noqa: E402

HEADER = "\ufeffFirst Name,Last Name,Email,Job Title,Company Name,Website URL,Lifecycle Stage\r\n"


def ensure_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            company = i // 50
            f.write(
                f"First{i},Last{i},person{i}@co{company}.example.com,Engineer,"
                f"Company {company},https://co{company}.example.com,lead\r\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection

    from tandem.core.models import Role, User
    from tandem.imports import services

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE crm_contact, crm_account, imports_importjob, core_auditentry CASCADE")
    admin, _created = User.objects.get_or_create(
        username="bench-admin", defaults={"role": Role.ADMIN, "email": "admin@bench.test"}
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        path = Path(tmp) / "hubspot.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size

        started = time.perf_counter()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}") as conn:
            conn.execute(
                "CREATE UNLOGGED TABLE IF NOT EXISTS bench_copy (first_name text, "
                "last_name text, email text, title text, company text, website text, stage text)"
            )
            conn.execute("TRUNCATE bench_copy")
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
                ) as copy,
                path.open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        copy_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with path.open("rb") as f:
            job = services.import_job_create(
                actor=admin, kind="contacts", upload=File(f, name=path.name)
            )
        job = services.import_run(actor=admin, job=job)
        tandem_seconds = time.perf_counter() - started

    print(
        f"rows: {args.rows:,} ({size / 1e6:.1f} MB); status {job.status}, "
        f"{job.created_count:,} contacts created, {job.error_count} rejected"
    )
    print(f"COPY:   {copy_seconds:8.2f} s  ({args.rows / copy_seconds:,.0f} rows/s)")
    print(f"Tandem: {tandem_seconds:8.2f} s  ({args.rows / tandem_seconds:,.0f} rows/s)")
    print(
        f"ratio Tandem / COPY: {tandem_seconds / copy_seconds:.1f}x; "
        f"projected for 1,000,000 rows: {tandem_seconds * 1_000_000 / args.rows:.0f} s "
        "(goal: under 60 s)"
    )


if __name__ == "__main__":
    main()
