"""Post statistics pulled from the networks' APIs on a schedule (`social_stats_pull`, hourly).

For each network whose adapter reads numbers (`adapters.stats_sources()`: VK, Odnoklassniki,
Facebook, YouTube) and is configured, the posts published on it in the last `DAYS` days that
carry the network's post id are asked about, newest first, at most `LIMIT` per network.

Invariants:
- idempotent: one `SocialPostStats` row per post (update_or_create); a pull sets the numbers
  the API gives and keeps the others (YouTube gives no impressions: an imported figure stays);
- one network's failure stops only that network: its connection keeps the error and when it
  happened (`stats_error`, shown on the connections page); a later success clears it;
- the networks are called outside any transaction; each network's rows are written in one.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from tandem.marketing.social.adapters import stats_sources
from tandem.marketing.social.base import NetworkError, PostNumbers
from tandem.marketing.social.models import SocialConnection, SocialPost, SocialPostStats

logger = logging.getLogger(__name__)
DAYS = 30
LIMIT = 100


def _store(
    network: str, ids: dict[str, int], numbers: dict[str, PostNumbers], now: dt.datetime
) -> int:
    stored = 0
    with transaction.atomic():
        for external_id, found in numbers.items():
            post_id = ids.get(external_id)
            if post_id is None:
                continue
            values = {
                name: value
                for name in ("impressions", "clicks", "reactions")
                if (value := getattr(found, name)) is not None
            }
            SocialPostStats.objects.update_or_create(
                post_id=post_id, defaults={**values, "imported_at": now}
            )
            stored += 1
        SocialConnection.objects.filter(network=network).update(
            stats_pulled_at=now, stats_error="", stats_error_at=None
        )
    return stored


def stats_pull(*, now: dt.datetime | None = None) -> dict[str, int | str]:
    """Pull every configured network's numbers; per network: posts updated, or the error."""
    now = now or timezone.now()
    out: dict[str, int | str] = {}
    for network, adapter in sorted(stats_sources().items()):
        if not adapter.configured():
            continue
        posts = (
            SocialPost.objects.filter(
                network=network,
                status=SocialPost.Status.PUBLISHED,
                published_at__gte=now - dt.timedelta(days=DAYS),
            )
            .exclude(external_id="")
            .order_by("-published_at", "-pk")
            .values_list("external_id", "pk")[:LIMIT]
        )
        ids = dict(posts)
        if not ids:
            continue
        try:
            numbers = adapter.fetch_stats(list(ids))
        except NetworkError as exc:
            message = str(exc)[:500]
            SocialConnection.objects.filter(network=network).update(
                stats_error=message, stats_error_at=now
            )
            logger.warning("social statistics of %s: %s", network, message)
            out[network] = message
            continue
        out[network] = _store(network, ids, numbers, now)
    return out
