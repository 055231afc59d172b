"""Every write to social posts: plan, publish (through the network's adapter), record a manual
publication, import statistics.

Invariants:
- create/update/manual publication write an audit entry in the same transaction;
- a post always has a tracked link when it has a link (created through tracking's service in the
  same transaction), and the link changes when the destination or campaign changes;
- publishing claims the post with a conditional UPDATE (scheduled -> publishing); only the
  claimer calls the adapter, outside any transaction, then stores the result; an adapter without
  credentials is never called: the post becomes `manual`; a network that answers 429 puts the
  post back to `scheduled` at now + Retry-After (at most a day), with the reason in `error`;
- a statistics import updates each matched post's numbers (one row per post) and reports every
  unmatched or invalid row; an unreadable file stores nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.csv_rows import RowReport, read_rows
from tandem.marketing.social.adapters import adapter_for
from tandem.marketing.social.base import PostToPublish
from tandem.marketing.social.models import Network, SocialPost, SocialPostStats
from tandem.marketing.tracked_links import link_create, link_url
from tandem.marketing.validation import clean_text, visible_ref

POST_FIELDS = {"network", "text", "link_url", "campaign_id", "scheduled_at"}
RETRY_AFTER_MAX = 24 * 3600  # a Retry-After longer than a day is capped at a day
LIMITS = {
    "telegram": 4000,
    "vk": 5000,
    "ok": 5000,
    "facebook": 5000,
    "linkedin": 3000,
    "youtube": 5000,
}


def _clean(data: dict[str, Any], current: SocialPost | None, actor: Actor) -> dict[str, Any]:
    unknown = set(data) - POST_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    network = data.get("network", current.network if current else "") or ""
    if "network" in data or current is None:
        if not isinstance(network, str) or network not in Network.values:
            errors["network"] = [_("Choose a network.")]
        out["network"] = network
    if "text" in data or current is None:
        limit = LIMITS.get(network, 5000) if isinstance(network, str) else 5000
        try:
            out["text"] = clean_text(
                data.get("text"), field="text", limit=limit, required=_("A post needs text.")
            )
        except InvalidInput as exc:
            errors.update(exc.errors)
    if "link_url" in data:
        try:
            url = clean_text(data["link_url"], field="link_url", limit=2000)
            if url and (not url.startswith(("http://", "https://")) or " " in url):
                errors["link_url"] = [_("Enter an http:// or https:// address.")]
            out["link_url"] = url
        except InvalidInput as exc:
            errors.update(exc.errors)
    if "campaign_id" in data:
        try:
            out["campaign_id"] = visible_ref(
                actor,
                Campaign,
                data["campaign_id"],
                field="campaign_id",
                missing=_("No such campaign."),
            )
        except InvalidInput as exc:
            errors.update(exc.errors)
    if "scheduled_at" in data:
        value = data["scheduled_at"]
        if value in (None, ""):
            out["scheduled_at"] = None
        else:
            try:
                when = (
                    value
                    if isinstance(value, dt.datetime)
                    else dt.datetime.fromisoformat(str(value).strip()[:40])
                )
                out["scheduled_at"] = timezone.make_aware(when) if timezone.is_naive(when) else when
            except ValueError:
                errors["scheduled_at"] = [_("Not a date and time.")]
    if errors:
        raise InvalidInput(errors)
    return out


def _link(actor: Actor, post: SocialPost) -> None:
    if not post.link_url:
        post.tracked_link = None
        return
    code = (
        Campaign.objects.filter(pk=post.campaign_id).values_list("utm_code", flat=True).first()
        if post.campaign_id
        else None
    )
    post.tracked_link = link_create(
        actor=actor,
        destination=post.link_url,
        utm_source=post.network,
        utm_medium="social",
        utm_campaign=code or "",
        utm_content=post.key,
    )


def _status_for(post: SocialPost) -> str:
    return SocialPost.Status.SCHEDULED if post.scheduled_at else SocialPost.Status.DRAFT


@transaction.atomic
def post_create(*, actor: Actor, **data: Any) -> SocialPost:
    cleaned = _clean(data, None, actor)
    post = SocialPost.objects.create(created_by=actor.user, **cleaned)
    _link(actor, post)
    post.status = _status_for(post)
    post.save(update_fields=["tracked_link", "status"])
    record_change(actor=actor, action="create", instance=post, changes=diff({}, snapshot(post)))
    return post


EDITABLE = (SocialPost.Status.DRAFT, SocialPost.Status.SCHEDULED, SocialPost.Status.MANUAL)


@transaction.atomic
def post_update(*, actor: Actor, post: SocialPost, **data: Any) -> SocialPost:
    cleaned = _clean(data, post, actor)
    locked = SocialPost.objects.select_for_update().get(pk=post.pk)
    if locked.status not in EDITABLE:
        raise InvalidInput(_("A published post cannot change here; edit it on the network."))
    before = snapshot(locked)
    for key, value in cleaned.items():
        setattr(locked, key, value)
    fields = [*cleaned, "status"]
    if before["link_url"] != locked.link_url or before["campaign"] != locked.campaign_id:
        _link(actor, locked)
        fields.append("tracked_link")
    locked.status = _status_for(locked)
    locked.save(update_fields=fields)
    changes = diff(before, snapshot(locked))
    if changes:
        record_change(actor=actor, action="update", instance=locked, changes=changes)
    return locked


def post_publish(*, post_id: int, now: dt.datetime | None = None) -> str:
    """Publish one scheduled post through its network's adapter; returns the new status."""
    now = now or timezone.now()
    claimed = SocialPost.objects.filter(pk=post_id, status=SocialPost.Status.SCHEDULED).update(
        status=SocialPost.Status.PUBLISHING
    )
    if not claimed:
        return SocialPost.objects.values_list("status", flat=True).get(pk=post_id)
    post = SocialPost.objects.select_related("tracked_link").get(pk=post_id)
    adapter = adapter_for(post.network)
    if not adapter.configured():
        SocialPost.objects.filter(pk=post_id).update(status=SocialPost.Status.MANUAL, error="")
        return SocialPost.Status.MANUAL
    payload = PostToPublish(
        id=post.pk,
        network=post.network,
        text=post.text,
        link=link_url(post.tracked_link) if post.tracked_link else "",
    )
    try:
        result = adapter.publish(payload)
    except Exception as exc:  # an adapter bug must not leave the post claimed forever
        SocialPost.objects.filter(pk=post_id).update(
            status=SocialPost.Status.FAILED, error=str(exc)[:500]
        )
        raise
    if result.status == "retry":  # rate-limited (429): back in the queue after Retry-After
        wait = min(max(result.retry_after, 1), RETRY_AFTER_MAX)
        SocialPost.objects.filter(pk=post_id).update(
            status=SocialPost.Status.SCHEDULED,
            scheduled_at=now + dt.timedelta(seconds=wait),
            error=result.error[:500],
        )
        return SocialPost.Status.SCHEDULED
    status = {
        "published": SocialPost.Status.PUBLISHED,
        "manual": SocialPost.Status.MANUAL,
        "failed": SocialPost.Status.FAILED,
    }[result.status]
    SocialPost.objects.filter(pk=post_id).update(
        status=status,
        external_id=result.external_id[:200],
        external_url=result.url[:2000],
        error=result.error[:500],
        published_at=now if status == SocialPost.Status.PUBLISHED else None,
    )
    return status


def posts_publish_due(*, now: dt.datetime | None = None, limit: int = 200) -> dict[str, int]:
    now = now or timezone.now()
    ids = list(
        SocialPost.objects.filter(status=SocialPost.Status.SCHEDULED, scheduled_at__lte=now)
        .order_by("scheduled_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    out: dict[str, int] = {}
    for pk in ids:
        status = post_publish(post_id=pk, now=now)
        out[status] = out.get(status, 0) + 1
    return out


@transaction.atomic
def post_mark_published(
    *, actor: Actor, post: SocialPost, url: str = "", external_id: str = ""
) -> SocialPost:
    """The marketer published it by hand: record where."""
    url = url.strip()
    if url and (not url.startswith(("http://", "https://")) or len(url) > 2000):
        raise InvalidInput({"url": [_("Enter an http:// or https:// address.")]})
    locked = SocialPost.objects.select_for_update().get(pk=post.pk)
    if locked.status == SocialPost.Status.PUBLISHED:
        return locked
    before = snapshot(locked)
    locked.status = SocialPost.Status.PUBLISHED
    locked.published_at = timezone.now()
    locked.external_url = url
    locked.external_id = external_id.strip()[:200] or _id_from_url(locked.network, url)
    locked.error = ""
    locked.save(update_fields=["status", "published_at", "external_url", "external_id", "error"])
    record_change(
        actor=actor, action="update", instance=locked, changes=diff(before, snapshot(locked))
    )
    return locked


def _id_from_url(network: str, url: str) -> str:
    """The post id a network's export uses, read from the post's address where it is in it."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if network == "vk" and "_" in tail:  # https://vk.com/wall-123_7
        return tail.rsplit("_", 1)[-1]
    if network == "youtube" and "v=" in url:
        return url.split("v=", 1)[1].split("&", 1)[0]
    return tail[:200]


# --- statistics imports --------------------------------------------------------------------

# Each network's export headers (case-insensitive; the first alias is the one reported missing).
STATS_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "linkedin": {
        "id": ("Post link", "Post URL", "Update URL", "Post ID"),
        "impressions": ("Impressions",),
        "clicks": ("Clicks",),
        "reactions": ("Reactions", "Likes"),
    },
    "facebook": {
        "id": ("Post ID", "Permalink"),
        "impressions": ("Impressions", "Reach"),
        "clicks": ("Link Clicks", "Total clicks", "Clicks"),
        "reactions": ("Reactions", "Reactions, comments and shares"),
    },
    "youtube": {
        "id": ("Content", "Video", "Video ID"),
        "impressions": ("Impressions",),
        "clicks": ("Views", "Clicks"),
        "reactions": ("Likes", "Reactions"),
    },
    "vk": {
        "id": ("Post ID", "ID записи", "Link", "Ссылка"),
        "impressions": ("Reach", "Охват", "Views", "Просмотры"),
        "clicks": ("Link clicks", "Переходы по ссылке", "Clicks"),
        "reactions": ("Likes", "Лайки", "Reactions"),
    },
    "ok": {
        "id": ("Topic ID", "ID темы", "Link", "Ссылка"),
        "impressions": ("Views", "Просмотры", "Reach", "Охват"),
        "clicks": ("Link clicks", "Переходы по ссылке", "Clicks"),
        "reactions": ("Likes", "Классы", "Reactions"),
    },
    "telegram": {
        "id": ("Message ID", "Post ID", "Link"),
        "impressions": ("Views", "Impressions"),
        "clicks": ("Clicks", "Link clicks"),
        "reactions": ("Reactions",),
    },
}


def _count(text: str) -> int:
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", "")
    if not cleaned:
        return 0
    value = int(cleaned)
    if value < 0:
        raise ValueError
    return value


def stats_import(*, actor: Actor, network: str, data: bytes) -> RowReport:
    """Post statistics from a network's CSV export, matched by post id or post address."""
    if network not in STATS_COLUMNS:
        raise InvalidInput({"network": [_("Choose a network.")]})
    rows = list(read_rows(data, columns=STATS_COLUMNS[network], required=("id", "impressions")))
    report = RowReport()
    posts = SocialPost.objects.filter(network=network).exclude(external_id="")
    by_id = {p.external_id: p.pk for p in posts}
    by_url = {
        p.external_url.rstrip("/"): p.pk
        for p in SocialPost.objects.filter(network=network).exclude(external_url="")
    }
    now = timezone.now()
    with transaction.atomic():
        for number, row in rows:
            ref = row["id"].strip()
            if network == "youtube" and ref.lower() == "total":  # YouTube Studio's sum row
                continue
            post_id = (
                by_id.get(ref)
                or by_url.get(ref.rstrip("/"))
                or by_id.get(_id_from_url(network, ref))
            )
            if post_id is None:
                report.fail(number, _("No published post matches %(v)s.") % {"v": ref[:100]})
                continue
            try:
                values = {k: _count(row.get(k, "")) for k in ("impressions", "clicks", "reactions")}
            except ValueError:
                report.fail(number, _("Impressions, clicks and reactions must be whole numbers."))
                continue
            SocialPostStats.objects.update_or_create(
                post_id=post_id, defaults={**values, "imported_at": now}
            )
            report.imported += 1
    return report
