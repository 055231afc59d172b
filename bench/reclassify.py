"""Benchmark: reclassifying stored touchpoints on PostgreSQL, with recorded progress.

    .venv/bin/python bench/reclassify.py [--rows 200000] [--repeat 3]

Creates (once) a private database `tandem_bench_reclassify` on 127.0.0.1:5432, migrates it,
fills it with N touchpoints carrying channel inputs (half of them from `utm_source=partnerx`),
then measures, `--repeat` times each (medians printed):
  - change: a run under rules that move the partnerx half to another channel and back (every
    run rewrites N/2 rows; a warm-up run under the defaults comes first, not counted);
  - check: a run under the same rules again (nothing changes: reads and classifies only);
  - legacy check: the loop as it was before runs were recorded (no count, no per-chunk progress,
    cancel or version check), over the same rows, for the cost of the progress bookkeeping.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "tandem_bench_reclassify"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import psycopg  # noqa: E402


def ensure_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')


def legacy_check(version: int) -> int:
    """The loop of tandem/tracking/reclassify.py before runs were recorded (commit c649286)."""
    from django.db import transaction

    from tandem.crm.models import Touchpoint
    from tandem.tracking.channels import ChannelInputs, classify, load_rules

    rules = load_rules(version)
    changed = 0
    last_id = 0
    while True:
        chunk = list(
            Touchpoint.objects.filter(pk__gt=last_id, properties__has_key="ci")
            .order_by("pk")
            .values_list("pk", "channel", "department", "properties")[:2000]
        )
        if not chunk:
            return changed
        last_id = chunk[-1][0]
        updates = []
        for pk, channel, department, props in chunk:
            new_channel, new_department = classify(ChannelInputs.from_dict(props["ci"]), rules)
            if (new_channel, new_department) != (channel, department):
                updates.append(Touchpoint(pk=pk, channel=new_channel, department=new_department))
        if updates:
            with transaction.atomic():
                Touchpoint.objects.bulk_update(updates, ["channel", "department"], batch_size=500)
            changed += len(updates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tandem.core.audit import Actor
    from tandem.crm.models import Touchpoint
    from tandem.tracking import services
    from tandem.tracking.channels import default_rule_dicts, forget_cached_rules
    from tandem.tracking.reclassify import run_reclassification

    Touchpoint.objects.all().delete()
    for start in range(0, args.rows, 10_000):
        Touchpoint.objects.bulk_create(
            Touchpoint(
                anonymous_id=f"a{i}",
                channel="direct",
                department="marketing",
                kind="page_view",
                properties={
                    "ci": {"source_kind": "website", "utm_source": "partnerx"}
                    if i % 2
                    else {"source_kind": "website", "referrer": "news.example"}
                },
            )
            for i in range(start, min(start + 10_000, args.rows))
        )
    with django.db.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_touchpoint")
    partner = default_rule_dicts()
    partner.insert(0, {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"})
    system = Actor.system()

    def run(rules: list[dict[str, str]]) -> tuple[float, int]:
        services.channel_rules_publish(actor=system, rules=rules)
        forget_cached_rules()
        run = services.reclassify_start(actor=system, background=False)
        began = time.perf_counter()
        done = run_reclassification(run.pk)
        return time.perf_counter() - began, done.changed

    run(default_rule_dicts())  # warm-up: every row classified under the defaults first
    change, check, legacy = [], [], []
    current = default_rule_dicts()
    for _ in range(args.repeat):
        current = partner if current != partner else default_rule_dicts()
        seconds, changed = run(current)
        change.append(seconds)
        assert changed == args.rows // 2, changed
    from tandem.tracking.reclassify import latest_version

    def timed_check() -> float:
        pending = services.reclassify_start(actor=system, background=False)
        began = time.perf_counter()
        assert run_reclassification(pending.pk).changed == 0
        return time.perf_counter() - began

    def timed_legacy() -> float:
        began = time.perf_counter()
        assert legacy_check(latest_version()) == 0
        return time.perf_counter() - began

    for i in range(args.repeat):  # alternate which goes first, for fairness
        if i % 2:
            legacy.append(timed_legacy())
            check.append(timed_check())
        else:
            check.append(timed_check())
            legacy.append(timed_legacy())
    for name, values in (("change", change), ("check", check), ("legacy check", legacy)):
        median = statistics.median(values)
        print(
            f"{name:>12}: median {median:.2f} s ({args.rows / median:,.0f} touchpoints/s) "
            f"over {args.repeat}: {', '.join(f'{v:.2f}' for v in values)}"
        )


if __name__ == "__main__":
    main()
