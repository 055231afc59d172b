"""Every write to content assets, and their engagement (views, clicks, downloads) as touchpoints.

Invariants:
- create/update/archive write an audit entry in the same transaction;
- every asset gets a tracked link (tracking's link service) in the same transaction, so an asset
  never exists without one; a rep sharing an asset gets a personal link (sharer = the rep), so
  the rep's clicks count for the rep's department;
- engagement is append-only touchpoints: kind `content_viewed` / `content_downloaded` (clicks are
  recorded by tracking's link redirect as `link_click`), `content` = the asset key, `campaign` =
  its campaign's UTM code, department marketing; counts are grouped in one query.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.marketing.models_campaigns import Campaign
from tandem.marketing.models_content import AssetKind, ContentAsset
from tandem.marketing.tracked_links import link_create, link_url
from tandem.tracking.models import TrackedLink

ENGAGEMENT_KINDS = {"view": "content_viewed", "download": "content_downloaded"}
ASSET_FIELDS = {"kind", "title", "key", "url", "description", "campaign_id"}


def _clean(data: dict[str, Any], current: ContentAsset | None) -> dict[str, Any]:
    unknown = set(data) - ASSET_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "kind" in data or current is None:
        kind = str(data.get("kind") or "")
        if kind not in AssetKind.values:
            errors["kind"] = [_("Choose a kind of content.")]
        out["kind"] = kind
    if "title" in data or current is None:
        title = str(data.get("title") or "").strip()
        if not title:
            errors["title"] = [_("An asset needs a title.")]
        out["title"] = title[:200]
    if "url" in data or current is None:
        url = str(data.get("url") or "").strip()
        if not url.startswith(("http://", "https://")) or len(url) > 2000 or " " in url:
            errors["url"] = [_("Enter an http:// or https:// address.")]
        out["url"] = url
    if "description" in data:
        out["description"] = str(data["description"] or "").strip()[:1000]
    if "campaign_id" in data:
        value = data["campaign_id"]
        if value in (None, ""):
            out["campaign_id"] = None
        elif not Campaign.objects.filter(pk=value).exists():
            errors["campaign_id"] = [_("No such campaign.")]
        else:
            out["campaign_id"] = int(value)
    if current is None:
        key = slugify(str(data.get("key") or out.get("title") or ""))[:100]
        if not key:
            errors["key"] = [_("An asset needs a key (letters, digits, hyphens).")]
        out["key"] = key
    elif "key" in data and data["key"] != current.key:
        errors["key"] = [_("The key of an asset cannot change (its history is keyed by it).")]
    if errors:
        raise InvalidInput(errors)
    return out


def _link_for(actor: Actor, asset: ContentAsset, sharer: User | None = None) -> TrackedLink:
    code = (
        Campaign.objects.filter(pk=asset.campaign_id).values_list("utm_code", flat=True).first()
        if asset.campaign_id
        else None
    )
    return link_create(
        actor=actor,
        destination=asset.url,
        utm_source=asset.channel,
        utm_medium="content",
        utm_campaign=code or "",
        utm_content=asset.key,
        sharer=sharer,
    )


def asset_create(*, actor: Actor, **data: Any) -> ContentAsset:
    cleaned = _clean(data, None)
    try:
        with transaction.atomic():
            asset = ContentAsset.objects.create(created_by=actor.user, **cleaned)
            asset.tracked_link = _link_for(actor, asset)
            asset.save(update_fields=["tracked_link"])
            record_change(
                actor=actor, action="create", instance=asset, changes=diff({}, snapshot(asset))
            )
    except IntegrityError:
        raise InvalidInput(
            {"key": [_("The key %(k)s is already used.") % {"k": cleaned["key"]}]}
        ) from None
    return asset


@transaction.atomic
def asset_update(*, actor: Actor, asset: ContentAsset, **data: Any) -> ContentAsset:
    cleaned = _clean(data, asset)
    locked = ContentAsset.objects.select_for_update().get(pk=asset.pk)
    before = snapshot(locked)
    for key, value in cleaned.items():
        setattr(locked, key, value)
    fields = list(cleaned)
    if {"url", "campaign_id"} & set(cleaned) and (
        before["url"] != locked.url or before["campaign"] != locked.campaign_id
    ):
        locked.tracked_link = _link_for(actor, locked)
        fields.append("tracked_link")
    locked.save(update_fields=fields)
    changes = diff(before, snapshot(locked))
    if changes:
        record_change(actor=actor, action="update", instance=locked, changes=changes)
    return locked


@transaction.atomic
def asset_archive(*, actor: Actor, asset: ContentAsset, archived: bool = True) -> ContentAsset:
    updated = (
        ContentAsset.objects.filter(pk=asset.pk)
        .exclude(archived=archived)
        .update(archived=archived)
    )
    if updated:
        asset.archived = archived
        record_change(
            actor=actor,
            action="update",
            instance=asset,
            changes={"archived": [not archived, archived]},
        )
    return asset


@transaction.atomic
def share_link(*, actor: Actor, asset: ContentAsset) -> str:
    """A personal tracked link to the asset for the acting user (a rep sharing it)."""
    if actor.user is None:
        raise InvalidInput(_("Only a person can share an asset."))
    found = TrackedLink.objects.filter(
        sharer=actor.user, utm_content=asset.key, destination=asset.url, disabled_at__isnull=True
    ).first()
    link = found or _link_for(actor, asset, sharer=actor.user)
    return link_url(link)


def engagement_record(
    *,
    asset: ContentAsset,
    action: str,
    contact: Contact | None = None,
    anonymous_id: str = "",
    actor: User | None = None,
) -> Touchpoint:
    """One view or download of the asset, appended to the timeline."""
    if action not in ENGAGEMENT_KINDS:
        raise InvalidInput({"action": [_("Use view or download.")]})
    code = asset.campaign.utm_code if asset.campaign_id and asset.campaign else ""
    return crm.touchpoint_record(
        channel=asset.channel,
        kind=ENGAGEMENT_KINDS[action],
        department="marketing",
        contact=contact,
        anonymous_id=anonymous_id,
        campaign=code,
        content=asset.key,
        actor=actor,
        source="content",
        properties={"asset": asset.pk, "asset_kind": asset.kind},
    )


def engagement_by_asset(user: User, keys: list[str]) -> dict[str, dict[str, int]]:
    """{key: {"views", "clicks", "downloads"}} over the touchpoints the user may see (one query)."""
    rows = (
        scoped(user, Touchpoint)
        .filter(content__in=keys, is_bot=False)
        .values("content")
        .annotate(
            views=Count("id", filter=Q(kind="content_viewed")),
            clicks=Count("id", filter=Q(kind="link_click")),
            downloads=Count("id", filter=Q(kind="content_downloaded")),
        )
    )
    out = {key: {"views": 0, "clicks": 0, "downloads": 0} for key in keys}
    for row in rows:
        out[row["content"]] = {k: row[k] for k in ("views", "clicks", "downloads")}
    return out


def library(user: User, kind: str = "", search: str = "") -> QuerySet[ContentAsset]:
    qs = scoped(user, ContentAsset).filter(archived=False).select_related("campaign")
    if kind in AssetKind.values:
        qs = qs.filter(kind=kind)
    if search.strip():
        qs = qs.filter(
            Q(title__icontains=search.strip()) | Q(description__icontains=search.strip())
        )
    return qs
