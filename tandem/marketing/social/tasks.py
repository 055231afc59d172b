"""Background work for social posts: publish the due ones (ids, idempotent: each post is
claimed with a conditional UPDATE before its adapter runs). Run it every few minutes."""

from __future__ import annotations

from django_tasks import task

from tandem.marketing.social import services


@task()
def social_publish_due() -> dict[str, int]:
    return services.posts_publish_due()
