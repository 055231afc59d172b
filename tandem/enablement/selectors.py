"""Reads that span enablement and the record: usage and value per asset, matched win rates,
voice-of-the-customer themes, and the health of the marketing-sales loop.

Invariants:
- an asset is *used* in a deal when it was shared with a contact of the deal's account between
  the deal's creation and its close; *influenced revenue* is the amount of won deals that used
  it, and its *credit* splits each won deal's amount linearly over the assets it used (the
  linear rule of attribution: credits of one deal sum to its amount);
- the matched win rate compares closed deals that used the asset with closed deals that did not,
  in the same stratum — industry, size band (amount) and the furthest open stage reached — the
  comparison rate being the strata's rates weighted by how many using deals each holds; strata
  without a comparison deal are left out of both sides; the interval is the normal one at 95 %
  (Wilson for a single rate);
- everything reads in a bounded number of queries, whatever the number of assets (bench/
  content_value.py holds the figure).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.enablement.models import (
    Asset,
    ContentRequest,
    InsightNote,
    JointStatus,
    JointTouch,
    Rating,
    RequestStatus,
    Share,
    ShareView,
    ShareViewPage,
    SourceKind,
    TagStatus,
    Theme,
    VocTag,
)
from tandem.sales.models import Deal, DealStageVisit, DealStatus, StageKind

Z95 = 1.96
SIZE_BANDS = (Decimal("10000"), Decimal("100000"))


def size_band(amount: Decimal | float) -> int:
    return sum(1 for edge in SIZE_BANDS if Decimal(str(amount)) >= edge)


def wilson(wins: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = wins / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class WinRate:
    used: int = 0
    used_won: int = 0
    compared: int = 0  # comparison deals in the matched strata
    rate: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None
    matched_rate: float | None = None
    lift: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None


@dataclass
class Usage:
    shares: int = 0
    reps: int = 0
    buyers: int = 0
    views: int = 0
    seconds: int = 0
    influenced: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    won_deals: int = 0
    stars: float | None = None
    ratings: int = 0
    win: WinRate = field(default_factory=WinRate)


@dataclass(frozen=True)
class ClosedDeal:
    pk: int
    account_id: int
    won: bool
    amount: Decimal
    stratum: tuple[str, int, int]
    start: dt.datetime
    end: dt.datetime


def closed_deals() -> list[ClosedDeal]:
    """Every closed deal with an account, with its stratum (two queries)."""
    reached = dict(
        DealStageVisit.objects.filter(stage__kind=StageKind.OPEN)
        .values("deal_id")
        .annotate(top=Max("stage__position"))
        .values_list("deal_id", "top")
    )
    out = []
    for pk, account_id, status, amount, industry, created, closed, updated in (
        Deal.objects.filter(status__in=[DealStatus.WON, DealStatus.LOST], account__isnull=False)
        .values_list(
            "pk",
            "account_id",
            "status",
            "amount",
            "account__industry",
            "created_at",
            "closed_at",
            "updated_at",
        )
        .iterator(chunk_size=5000)
    ):
        out.append(
            ClosedDeal(
                pk,
                account_id,
                status == DealStatus.WON,
                amount,
                (industry or "", size_band(amount), reached.get(pk, 0)),
                created,
                closed or updated,
            )
        )
    return out


def deal_assets(deals: list[ClosedDeal]) -> dict[int, set[int]]:
    """{deal id: the assets used in it} (one query over shares)."""
    by_account: dict[int, list[ClosedDeal]] = defaultdict(list)
    for deal in deals:
        by_account[deal.account_id].append(deal)
    used: dict[int, set[int]] = defaultdict(set)
    for asset_id, account_id, at in (
        Share.objects.filter(contact__account_id__isnull=False)
        .values_list("asset_id", "contact__account_id", "created_at")
        .iterator(chunk_size=5000)
    ):
        for deal in by_account.get(account_id, ()):
            if deal.start <= at <= deal.end:
                used[deal.pk].add(asset_id)
    return used


def matched_win_rates(
    deals: list[ClosedDeal], used: dict[int, set[int]], asset_ids: list[int]
) -> dict[int, WinRate]:
    """Per asset, the win rate of deals that used it against matched deals that did not."""
    strata: dict[tuple[str, int, int], list[ClosedDeal]] = defaultdict(list)
    for deal in deals:
        strata[deal.stratum].append(deal)
    totals = {s: (len(ds), sum(d.won for d in ds)) for s, ds in strata.items()}
    users: dict[int, dict[tuple[str, int, int], list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for deal in deals:
        for asset_id in used.get(deal.pk, ()):
            cell = users[asset_id][deal.stratum]
            cell[0] += 1
            cell[1] += int(deal.won)
    out: dict[int, WinRate] = {}
    for asset_id in asset_ids:
        result = WinRate()
        n_u = w_u = n_c_total = 0
        weighted = 0.0
        var_c = 0.0
        cells = users.get(asset_id, {})
        for stratum, (n, wins) in cells.items():
            result.used += n
            result.used_won += wins
            total_n, total_w = totals[stratum]
            n_c, w_c = total_n - n, total_w - wins
            if n_c == 0:
                continue
            p_c = w_c / n_c
            n_u += n
            w_u += wins
            n_c_total += n_c
            weighted += n * p_c
            var_c += n * n * p_c * (1 - p_c) / n_c
        if result.used:
            result.rate = result.used_won / result.used
            result.rate_low, result.rate_high = wilson(result.used_won, result.used)
        if n_u:
            p_u = w_u / n_u
            result.compared = n_c_total
            result.matched_rate = weighted / n_u
            result.lift = p_u - result.matched_rate
            half = Z95 * math.sqrt(p_u * (1 - p_u) / n_u + var_c / (n_u * n_u))
            result.lift_low, result.lift_high = result.lift - half, result.lift + half
        out[asset_id] = result
    return out


def asset_usage(user: User, assets: list[Asset]) -> dict[int, Usage]:
    """Usage and value for the given assets, over the shares the user may see."""
    ids = [a.pk for a in assets]
    out = {pk: Usage() for pk in ids}
    shares = scoped(user, Share).filter(asset_id__in=ids)
    for row in shares.values("asset_id").annotate(
        n=Count("id"),
        reps=Count("rep_id", distinct=True),
        buyers=Count("contact_id", distinct=True),
    ):
        usage = out[row["asset_id"]]
        usage.shares, usage.reps, usage.buyers = row["n"], row["reps"], row["buyers"]
    views = ShareView.objects.filter(share__in=shares, is_bot=False)
    for view_row in views.values("share__asset_id").annotate(n=Count("id"), s=Sum("seconds")):
        usage = out[view_row["share__asset_id"]]
        usage.views, usage.seconds = view_row["n"], view_row["s"] or 0
    for rating_row in (
        Rating.objects.filter(asset_id__in=ids)
        .values("asset_id")
        .annotate(n=Count("id"), total=Sum("stars"))
    ):
        out[rating_row["asset_id"]].ratings = rating_row["n"]
        out[rating_row["asset_id"]].stars = rating_row["total"] / rating_row["n"]
    deals = closed_deals()
    used = deal_assets(deals)
    for deal in deals:
        chosen = used.get(deal.pk, set())
        if not deal.won or not chosen:
            continue
        share = deal.amount / len(chosen)
        for asset_id in chosen & set(out):
            out[asset_id].influenced += deal.amount
            out[asset_id].credit += share
            out[asset_id].won_deals += 1
    for asset_id, win in matched_win_rates(deals, used, ids).items():
        out[asset_id].win = win
    return out


def page_times(asset: Asset, user: User) -> list[dict[str, Any]]:
    """Seconds buyers spent on each page, per version, over the shares the user may see."""
    rows = (
        ShareViewPage.objects.filter(
            view__share__in=scoped(user, Share).filter(asset=asset), view__is_bot=False
        )
        .values("view__share__version__number", "page")
        .annotate(seconds=Sum("seconds"), views=Count("view_id", distinct=True))
        .order_by("-view__share__version__number", "page")
    )
    return [
        {
            "version": r["view__share__version__number"],
            "page": r["page"],
            "seconds": r["seconds"],
            "views": r["views"],
        }
        for r in rows
    ]


# --- voice of the customer ------------------------------------------------------------------


@dataclass
class ThemeRow:
    theme: Theme
    count: int = 0
    recent: int = 0
    baseline: float = 0.0
    at_stake: Decimal = Decimal("0")
    accounts: int = 0
    answered_by: list[Asset] = field(default_factory=list)

    @property
    def rising(self) -> bool:
        return self.recent >= 3 and self.recent >= 2 * self.baseline

    @property
    def answered(self) -> bool:
        return bool(self.answered_by)


def themes_ranked(
    user: User, *, days: int = 90, now: dt.datetime | None = None, by: str = "count"
) -> list[ThemeRow]:
    """Themes by confirmed mentions in the period (or by revenue at stake: open deals of the
    tagged accounts plus the lost deals tagged); `recent` = the last 30 days, `baseline` = the
    mean of the three 30-day windows before them (the rising alert compares the two)."""
    now = now or timezone.now()
    start = now - dt.timedelta(days=days)
    tags = scoped(user, VocTag).filter(status=TagStatus.CONFIRMED)
    rows = {t.pk: ThemeRow(t) for t in Theme.objects.prefetch_related("answers")}
    for row in rows.values():
        row.answered_by = [a for a in row.theme.answers.all() if not a.archived]
    recent_start = now - dt.timedelta(days=30)
    base_start = recent_start - dt.timedelta(days=90)
    for r in (
        tags.filter(said_at__gte=min(start, base_start))
        .values("theme_id")
        .annotate(
            n=Count("id", filter=Q(said_at__gte=start)),
            recent=Count("id", filter=Q(said_at__gte=recent_start)),
            base=Count("id", filter=Q(said_at__gte=base_start, said_at__lt=recent_start)),
            accounts=Count("account_id", distinct=True, filter=Q(said_at__gte=start)),
        )
    ):
        row = rows[r["theme_id"]]
        row.count, row.recent, row.baseline = r["n"], r["recent"], r["base"] / 3
        row.accounts = r["accounts"]
    period = tags.filter(said_at__gte=start)
    pairs = set(period.exclude(account=None).values_list("theme_id", "account_id"))
    open_by_account: dict[int, Decimal] = defaultdict(Decimal)
    for account_id, amount in Deal.objects.filter(
        status=DealStatus.OPEN, account_id__in={a for _t, a in pairs}
    ).values_list("account_id", "amount"):
        open_by_account[account_id] += amount
    for theme_id, account_id in pairs:
        rows[theme_id].at_stake += open_by_account.get(account_id, Decimal("0"))
    lost = dict(
        Deal.objects.filter(
            pk__in=period.filter(source_kind=SourceKind.LOSS).values("source_id")
        ).values_list("pk", "amount")
    )
    for theme_id, deal_id in period.filter(source_kind=SourceKind.LOSS).values_list(
        "theme_id", "source_id"
    ):
        rows[theme_id].at_stake += lost.get(deal_id, Decimal("0"))
    key = (
        (lambda r: (-r.at_stake, -r.count))
        if by == "revenue"
        else (lambda r: (-r.count, -r.at_stake))
    )
    return sorted(rows.values(), key=lambda r: (*key(r), r.theme.name))


# --- the loop's health (the head's page and the cockpit's summary) -------------------------------


def loop_health(user: User, *, days: int = 90, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    start = now - dt.timedelta(days=days)
    assets = scoped(user, Asset).filter(archived=False)
    produced = assets.filter(created_at__gte=start).count()
    live = assets.count()
    used = scoped(user, Share).filter(created_at__gte=start).values("asset_id").distinct().count()
    requests = scoped(user, ContentRequest)
    open_requests = requests.exclude(
        status__in=[RequestStatus.DELIVERED, RequestStatus.DECLINED]
    ).count()
    delivered: list[tuple[dt.datetime, dt.datetime]] = [
        (c, d)
        for c, d in requests.filter(
            status=RequestStatus.DELIVERED, delivered_at__gte=start
        ).values_list("created_at", "delivered_at")
        if d is not None
    ]
    turnaround = (
        sum((d - c).total_seconds() for c, d in delivered) / len(delivered) / 86400
        if delivered
        else None
    )
    months: list[dict[str, Any]] = []
    for i in range(5, -1, -1):
        end = now - dt.timedelta(days=30 * i)
        begin = end - dt.timedelta(days=30)
        agg = Rating.objects.filter(created_at__gte=begin, created_at__lt=end).aggregate(
            n=Count("id"), s=Sum("stars")
        )
        months.append(
            {"end": end, "ratings": agg["n"], "stars": (agg["s"] / agg["n"]) if agg["n"] else None}
        )
    themes = [r for r in themes_ranked(user, days=days, now=now) if r.count][:5]
    joint = list(
        scoped(user, JointTouch)
        .filter(status=JointStatus.DONE, planned_at__gte=start)
        .values("marketer__username", "marketer__first_name", "marketer__last_name")
        .annotate(n=Count("id"))
        .order_by("-n", "marketer__username")
    )
    insights = scoped(user, InsightNote).filter(created_at__gte=start).count()
    return {
        "days": days,
        "produced": produced,
        "live": live,
        "used": used,
        "unused": max(live - used, 0),
        "open_requests": open_requests,
        "delivered": len(delivered),
        "turnaround_days": turnaround,
        "rating_months": months,
        "top_themes": themes,
        "unanswered": sum(1 for r in themes if not r.answered),
        "joint": joint,
        "insights": insights,
    }


def loop_summary(user: User) -> dict[str, Any]:
    """The cockpit's small summary of the loop: content used against produced, the request
    backlog, the top theme and whether it is answered, joint touches (last 90 days)."""
    data = loop_health(user)
    top = data["top_themes"][0] if data["top_themes"] else None
    return {
        "produced": data["produced"],
        "used": data["used"],
        "live": data["live"],
        "open_requests": data["open_requests"],
        "top_theme": top,
        "unanswered": data["unanswered"],
        "joint_touches": sum(j["n"] for j in data["joint"]),
    }
