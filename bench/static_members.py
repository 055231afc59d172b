"""Benchmark: adding and removing 10,000 contacts to/from a static list in one call (the API's
maximum), with the membership rows, the entered/left events and the audit entry.

    .venv/bin/python bench/static_members.py [--runs 5]

Creates (once, then reuses) a private PostgreSQL database `tandem_bench_static_members` on
127.0.0.1:5432, migrated with Tandem's migrations, with 10,000 contacts; each run makes a new
static list, times `members_add` of the 10,000 ids, then `members_remove` of the same ids.
Prints the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

DB = "tandem_bench_static_members"
N = 10_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            c.execute(f'CREATE DATABASE "{DB}"')
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tandem.core.audit import Actor
    from tandem.crm.models import Contact
    from tandem.marketing.segments import members
    from tandem.marketing.segments import services as seg

    call_command("migrate", verbosity=0)
    people = Contact.objects.filter(email__endswith="@bench.example")
    if people.count() < N:
        Contact.objects.bulk_create(
            [Contact(first_name=f"b{i}", email=f"b{i}@bench.example") for i in range(N)],
            batch_size=2000,
        )
    ids = list(people.order_by("pk").values_list("pk", flat=True)[:N])
    system = Actor.system()
    adds: list[float] = []
    removes: list[float] = []
    for run in range(args.runs):
        segment = seg.segment_create(actor=system, name=f"bench {run}", kind="static")
        start = time.perf_counter()
        change = members.members_add(actor=system, segment=segment, contact_ids=ids)
        adds.append(time.perf_counter() - start)
        assert change.changed == N
        start = time.perf_counter()
        members.members_remove(actor=system, segment=segment, contact_ids=ids)
        removes.append(time.perf_counter() - start)
    print(
        f"add {N:,}: median {statistics.median(adds):.2f} s ({', '.join(f'{t:.2f}' for t in adds)})"
    )
    print(
        f"remove {N:,}: median {statistics.median(removes):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in removes)})"
    )


if __name__ == "__main__":
    main()
