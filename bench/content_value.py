"""Benchmark: usage, influence and matched win rates of every collateral asset
(`enablement.selectors.asset_usage`, what /enablement/value/ and GET /api/v1/enablement/value
compute) on PostgreSQL.

    .venv/bin/python bench/content_value.py [--db tandem_bench] [--generate] [--runs 5]
                                            [--deals 7000] [--assets 40] [--shares 9000]

With a database `--db` holding the large demo (5,000 demo accounts) it measures that; otherwise
(or with `--generate`) it measures a generated dataset in the database `tandem_content_value`
(dropped and created by the script; `--generated-db` names another): `--deals` deals on
5,000 accounts (six in seven closed, with their stage history), `--assets` assets and
`--shares` shares with a buyer view for two in three — about the large demo's shape. The rows
are written with bulk inserts, not the services (the figure is about reading them).

Measured in the same run:
  - set-based: `asset_usage` for every asset at once (bounded number of queries), as the head;
  - baseline: the same numbers asset by asset (each asset's shares, views, ratings and the
    closed deals read again for each): the obvious per-asset loop.
The ratio printed is baseline / set-based. Goal: set-based median < 5 s. Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
GENERATED = "tandem_content_value"
GOAL_SECONDS = 5.0


def _has_large_demo(db: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"{SERVER}/{db}") as conn:
            row = conn.execute(
                "SELECT count(DISTINCT a.account_id) FROM crm_account_tags a"
                " JOIN crm_tag t ON t.id = a.tag_id WHERE t.name = 'demo'"
            ).fetchone()
            return bool(row and row[0] >= 5000)
    except psycopg.Error:
        return False


def _fresh(db: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')


def _setup(db: str) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{db}"
    scratch = Path(tempfile.gettempdir()) / f"tandem-bench-content-value-{db}"
    os.environ.setdefault("TANDEM_VAR_DIR", str(scratch))
    Path(os.environ["TANDEM_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def generate(deals: int, assets: int, shares: int, seed: int = 7) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tandem.core.audit import Actor
    from tandem.core.models import Role, User
    from tandem.crm.models import Account, Contact
    from tandem.enablement.models import Asset, AssetVersion, Share, ShareView
    from tandem.sales import services as sales
    from tandem.sales.models import Deal, DealStageVisit, Stage

    rng = random.Random(seed)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    reps = [
        User.objects.create_user(username=f"rep{i}", role=Role.SALES_REP, password=None)
        for i in range(12)
    ]
    sales.pipeline_create(
        actor=Actor.system(),
        name="Bench",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Propose", "probability": 40},
            {"name": "Negotiate", "probability": 70},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    stages = {s.name: s for s in Stage.objects.all()}
    pipeline = stages["Qualify"].pipeline
    industries = ["agriculture", "medical", "electronics", "other"]
    Account.objects.bulk_create(
        Account(name=f"Account {i}", industry=industries[i % 4], owner=reps[i % 12])
        for i in range(5000)
    )
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    Contact.objects.bulk_create(
        Contact(first_name="Buyer", last_name=str(i), account_id=a, owner=reps[i % 12])
        for i, a in enumerate(account_ids)
    )
    contact_of = dict(Contact.objects.values_list("account_id", "pk"))
    rows = []
    for i in range(deals):
        created = now - dt.timedelta(days=rng.randint(30, 360))
        status = "open" if i % 7 == 0 else ("won" if rng.random() < 0.35 else "lost")
        stage = stages[{"open": "Propose", "won": "Won", "lost": "Lost"}[status]]
        rows.append(
            Deal(
                name=f"Deal {i}",
                pipeline=pipeline,
                stage=stage,
                account_id=account_ids[i % len(account_ids)],
                owner=reps[i % 12],
                amount=Decimal(rng.choice([3000, 8000, 20000, 60000, 150000])),
                currency="EUR",
                status=status,
                created_at=created,
                closed_at=None if status == "open" else created + dt.timedelta(days=40),
            )
        )
    Deal.objects.bulk_create(rows, batch_size=2000)
    visits = []
    for deal_id, created in Deal.objects.values_list("pk", "created_at"):
        reached = ["Qualify", "Propose", "Negotiate"][: rng.randint(1, 3)]
        for n, name in enumerate(reached):
            left = created + dt.timedelta(days=n + 1) if n + 1 < len(reached) else None
            visits.append(
                DealStageVisit(
                    deal_id=deal_id,
                    stage=stages[name],
                    entered_at=created + dt.timedelta(days=n),
                    left_at=left,
                )
            )
    DealStageVisit.objects.bulk_create(visits, batch_size=5000)
    Asset.objects.bulk_create(
        Asset(key=f"asset-{i}", title=f"Asset {i}", kind="case_study", language="en")
        for i in range(assets)
    )
    AssetVersion.objects.bulk_create(
        AssetVersion(asset_id=pk, number=1, url="https://e.example.com/a.pdf", pages=4)
        for pk in Asset.objects.values_list("pk", flat=True)
    )
    versions = dict(AssetVersion.objects.values_list("asset_id", "pk"))
    asset_ids = list(versions)
    deal_rows = list(Deal.objects.values_list("account_id", "created_at", "owner_id", "status"))
    share_rows = []
    for i in range(shares):
        account_id, created, owner_id, status = rng.choice(deal_rows)
        asset_id = asset_ids[(i * 7 + (3 if status == "won" else 0)) % len(asset_ids)]
        share_rows.append(
            Share(
                asset_id=asset_id,
                version_id=versions[asset_id],
                contact_id=contact_of[account_id],
                rep_id=owner_id,
                token=f"t{i}",
                created_at=created + dt.timedelta(days=5),
            )
        )
    Share.objects.bulk_create(share_rows, batch_size=5000)
    ShareView.objects.bulk_create(
        (
            ShareView(share_id=pk, visit=f"v{pk}", seconds=rng.randint(10, 400))
            for pk in Share.objects.values_list("pk", flat=True)
            if pk % 3
        ),
        batch_size=5000,
    )


def baseline(user: object) -> dict[int, tuple[int, Decimal]]:
    """Asset by asset: the obvious loop (shares, views and the closed deals read per asset)."""
    from django.db.models import Sum

    from tandem.enablement import selectors
    from tandem.enablement.models import Asset, Rating, Share, ShareView

    out = {}
    for asset in Asset.objects.order_by("pk"):
        shares = list(
            Share.objects.filter(asset=asset).values_list("contact__account_id", "created_at")
        )
        ShareView.objects.filter(share__asset=asset).aggregate(s=Sum("seconds"))
        Rating.objects.filter(asset=asset).aggregate(s=Sum("stars"))
        deals = selectors.closed_deals()
        by_account: dict[int, list[tuple[dt.datetime]]] = {}
        for account_id, at in shares:
            by_account.setdefault(account_id, []).append((at,))
        used = {
            d.pk: {asset.pk}
            for d in deals
            if any(d.start <= at <= d.end for (at,) in by_account.get(d.account_id, ()))
        }
        win = selectors.matched_win_rates(deals, used, [asset.pk])[asset.pk]
        influenced = sum((d.amount for d in deals if d.won and d.pk in used), Decimal(0))
        out[asset.pk] = (win.used, influenced)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="tandem_bench")
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--generated-db", default=GENERATED, help="where to generate")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--deals", type=int, default=7000)
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--shares", type=int, default=9000)
    args = parser.parse_args()
    if not args.generate and _has_large_demo(args.db):
        print(f"measuring the large demo in {args.db}")
        _setup(args.db)
    else:
        print(
            f"no large demo in {args.db}: generating a dataset in {args.generated_db}", flush=True
        )
        _fresh(args.generated_db)
        _setup(args.generated_db)
        started = time.perf_counter()
        generate(args.deals, args.assets, args.shares)
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)

    from django.db import connection

    from tandem.core.models import Role, User
    from tandem.enablement import selectors
    from tandem.enablement.models import Asset, Share
    from tandem.sales.models import Deal

    head = User.objects.filter(role=Role.HEAD).first() or User.objects.create_user(
        username="bench-head", role=Role.HEAD, password=None
    )
    assets = list(Asset.objects.order_by("pk"))
    closed = Deal.objects.exclude(status="open").count()
    print(f"{len(assets)} assets, {Share.objects.count()} shares, {closed} closed deals")
    set_based, queries = [], []
    result = {}
    for _ in range(args.runs):
        before = len(connection.queries)
        connection.force_debug_cursor = True
        started = time.perf_counter()
        result = selectors.asset_usage(head, assets)
        set_based.append(time.perf_counter() - started)
        queries.append(len(connection.queries) - before)
        connection.force_debug_cursor = False
    base = []
    reference = {}
    for _ in range(max(1, args.runs // 2)):
        started = time.perf_counter()
        reference = baseline(head)
        base.append(time.perf_counter() - started)
    same = all((result[pk].win.used, result[pk].influenced) == reference[pk] for pk in reference)
    fast, slow = statistics.median(set_based), statistics.median(base)
    print(
        f"set-based asset_usage: median {fast:.3f} s over {args.runs} runs ({queries[-1]} queries)"
    )
    print(f"baseline (asset by asset): median {slow:.3f} s")
    print(f"ratio baseline / set-based: {slow / fast:.1f}x; same numbers: {same}")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared)")
    ok = fast < GOAL_SECONDS and same
    print("goal met (< 5 s)" if ok else "goal missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
