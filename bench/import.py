"""Benchmark: importing a HubSpot-style contact CSV into PostgreSQL versus COPY of the same file.

    .venv/bin/python bench/import.py [--rows 1000000] [--repeat 3] [--without-trigram] [--in-turn]
        [--writers N]

Creates (once) a private database `tandem_bench_import` on 127.0.0.1:5432, writes a CSV of N
rows with HubSpot's export headers (BOM, First Name, Last Name, Email, Job Title, Company Name,
Website URL, Lifecycle Stage; 1 company per 50 contacts), empties the customer record, then in
one run measures:
  - Tandem: `import_run` (real run: dedupe look-ups, crm checks, contacts, ContactEmail rows,
    accounts and their domains, one audit entry and one ImportRow per record);
  - baseline: psycopg `COPY ... FROM STDIN` of the same file into an unlogged text table.
After each run it checks what was stored (N contacts, N emails, N/50 accounts, one audit entry and
one import row per record). Prints medians over --repeat runs, rows per second and the ratio.
--without-trigram drops the contact search indexes (crm migration 0003) for the import and
rebuilds them afterwards, to measure what they cost. Goal: under 60 s for 1,000,000.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
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


TRIGRAM = ["first_name", "last_name", "email", "title"]


class BackendCpu:
    """CPU seconds used by this database's PostgreSQL backends while running: /proc sampled
    every 0.2 s (a backend that ends between two samples loses at most 0.2 s). With other work
    on the machine, wall times vary with the load; CPU seconds much less."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.ours: dict[int, bool] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        # a process's command line is read once unless it is a PostgreSQL process not (yet)
        # titled with our database (a new backend is titled just after its fork): the sampler
        # runs in the measured process and must cost it next to nothing
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            ours = self.ours.get(pid)
            try:
                if ours is None:
                    cmdline = Path(f"/proc/{name}/cmdline").read_bytes() + b" "
                    ours = f" {DB} ".encode() in cmdline
                    if ours or not cmdline.startswith(b"postgres"):
                        self.ours[pid] = ours
                if not ours:
                    continue
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[pid] = (int(fields[11]) + int(fields[12])) / self.tick

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.sample()

    def __enter__(self) -> BackendCpu:
        self.sample()
        self.before = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sample()

    @property
    def seconds(self) -> float:
        return sum(v - self.before.get(pid, 0.0) for pid, v in self.seen.items())


def copy_baseline(path: Path) -> float:
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
    return time.perf_counter() - started


def set_trigram(present: bool) -> float:
    """Drop or (re)build the contact search indexes of crm migration 0003; returns seconds."""
    started = time.perf_counter()
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}", autocommit=True) as conn:
        for column in TRIGRAM:
            name = f"crm_contact_{column}_trgm"
            if present:
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON crm_contact "
                    f"USING gin (UPPER({column}::text) gin_trgm_ops)"
                )
            else:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are printed")
    parser.add_argument(
        "--without-trigram",
        action="store_true",
        help="measure the cost of the contact search indexes: drop them for the import, "
        "rebuild them afterwards (timed separately)",
    )
    parser.add_argument(
        "--in-turn", action="store_true", help="no writer thread: plan and write chunks in turn"
    )
    parser.add_argument(
        "--writers", type=int, default=None, help="writer threads (default: services.WRITERS)"
    )
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection

    from tandem.core.models import AuditEntry, Role, User
    from tandem.crm.models import Account, Contact, ContactEmail
    from tandem.imports import services
    from tandem.imports.models import ImportRow

    call_command("migrate", verbosity=0)
    services.WRITER_THREAD = not args.in_turn
    if args.writers is not None:
        services.WRITERS = args.writers
    admin, _created = User.objects.get_or_create(
        username="bench-admin", defaults={"role": Role.ADMIN, "email": "admin@bench.test"}
    )
    copies: list[float] = []
    imports: list[float] = []
    rebuilds: list[float] = []
    python_cpu: list[float] = []
    postgres_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        path = Path(tmp) / "hubspot.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size
        for _run in range(args.repeat):
            with connection.cursor() as cur:
                cur.execute(
                    "TRUNCATE crm_contact, crm_account, imports_importjob, core_auditentry CASCADE"
                )
            copies.append(copy_baseline(path))
            if args.without_trigram:
                set_trigram(False)
            started = time.perf_counter()
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            with BackendCpu() as backends:
                with path.open("rb") as f:
                    job = services.import_job_create(
                        actor=admin, kind="contacts", upload=File(f, name=path.name)
                    )
                job = services.import_run(actor=admin, job=job)
            imports.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_SELF)
            python_cpu.append(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime)
            postgres_cpu.append(backends.seconds)
            if args.without_trigram:
                rebuilds.append(set_trigram(True))
            stored = (
                Contact.objects.count(),
                ContactEmail.objects.count(),
                Account.objects.count(),
                AuditEntry.objects.count(),
                ImportRow.objects.filter(job=job).count(),
            )
            print(
                f"run {_run + 1}: COPY {copies[-1]:.2f} s, Tandem {imports[-1]:.2f} s "
                f"(CPU: Python {python_cpu[-1]:.1f} s, PostgreSQL {postgres_cpu[-1]:.1f} s)"
                + (f", trigram rebuild {rebuilds[-1]:.2f} s" if rebuilds else "")
                + f"; stored contacts/emails/accounts/audit/import rows: {stored}",
                flush=True,
            )
            expected_accounts = (args.rows + 49) // 50
            assert stored == (
                args.rows,
                args.rows,
                expected_accounts,
                args.rows + expected_accounts,
                args.rows + expected_accounts,
            ), stored

    copy_seconds = statistics.median(copies)
    tandem_seconds = statistics.median(imports)
    print(
        f"rows: {args.rows:,} ({size / 1e6:.1f} MB); status {job.status}, "
        f"{job.created_count:,} contacts created, {job.error_count} rejected"
        + (" (contact search indexes dropped during the import)" if args.without_trigram else "")
    )
    print(f"COPY:   {copy_seconds:8.2f} s  ({args.rows / copy_seconds:,.0f} rows/s) median")
    print(f"Tandem: {tandem_seconds:8.2f} s  ({args.rows / tandem_seconds:,.0f} rows/s) median")
    print(
        f"Tandem CPU seconds (median): Python process {statistics.median(python_cpu):.1f}, "
        f"PostgreSQL backends {statistics.median(postgres_cpu):.1f}"
    )
    if rebuilds:
        print(f"rebuilding the 4 trigram indexes afterwards: {statistics.median(rebuilds):.2f} s")
    print(
        f"ratio Tandem / COPY: {tandem_seconds / copy_seconds:.1f}x; "
        f"projected for 1,000,000 rows: {tandem_seconds * 1_000_000 / args.rows:.0f} s "
        "(goal: under 60 s)"
    )
    with open("/proc/loadavg") as f:
        print(f"load average (1/5/15 min) at the end: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
