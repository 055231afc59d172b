"""Background work for social posts: publish the due ones (ids, idempotent: each post is
claimed with a conditional UPDATE before its adapter runs), every few minutes; pull the recent
posts' numbers from the networks' APIs (idempotent: one statistics row per post), hourly."""

from __future__ import annotations

from django_tasks import task

from tandem.marketing.social import services
from tandem.marketing.social.stats_pull import stats_pull


@task()
def social_publish_due() -> dict[str, int]:
    return services.posts_publish_due()


@task()
def social_stats_pull() -> dict[str, int | str]:
    return stats_pull()
