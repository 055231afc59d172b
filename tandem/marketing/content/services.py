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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.ratelimit import rate_limit_hit
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.content.models import AssetKind, ContentAsset
from tandem.marketing.email.message import base_url
from tandem.marketing.tracked_links import link_create, link_url
from tandem.marketing.validation import clean_text, visible_ref
from tandem.tracking.models import TrackedLink
from tandem.tracking.services import bots  # tracking's bot rules, through its services

ENGAGEMENT_KINDS = {"view": "content_viewed", "download": "content_downloaded"}
ASSET_FIELDS = {"kind", "title", "key", "url", "description", "campaign_id"}


def _clean(data: dict[str, Any], current: ContentAsset | None, actor: Actor) -> dict[str, Any]:
    unknown = set(data) - ASSET_FIELDS
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def take(key: str, fn: Any) -> None:
        try:
            out[key] = fn(data.get(key))
        except InvalidInput as exc:
            errors.update(exc.errors)

    if "kind" in data or current is None:
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in AssetKind.values:
            errors["kind"] = [_("Choose a kind of content.")]
        out["kind"] = kind
    if "title" in data or current is None:
        needs_title = _("An asset needs a title.")
        take("title", lambda v: clean_text(v, field="title", limit=200, required=needs_title))
    if "url" in data or current is None:
        take("url", lambda v: clean_text(v, field="url", limit=2000))
        url = out.get("url", "")
        if "url" not in errors and (not url.startswith(("http://", "https://")) or " " in url):
            errors["url"] = [_("Enter an http:// or https:// address.")]
    if "description" in data:
        take("description", lambda v: clean_text(v, field="description", limit=1000))
    if "campaign_id" in data:
        take(
            "campaign_id",
            lambda v: visible_ref(
                actor, Campaign, v, field="campaign_id", missing=_("No such campaign.")
            ),
        )
    if current is None:
        take("key", lambda v: clean_text(v, field="key", limit=100))
        key = slugify(str(out.get("key") or out.get("title") or ""))[:100]
        out["key"] = key
        if not key and "key" not in errors:
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
    cleaned = _clean(data, None, actor)
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
    cleaned = _clean(data, asset, actor)
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


def library(
    user: User, kind: str = "", search: str = "", archived: bool = False
) -> QuerySet[ContentAsset]:
    qs = scoped(user, ContentAsset).filter(archived=archived).select_related("campaign")
    if kind in AssetKind.values:
        qs = qs.filter(kind=kind)
    if search.strip():
        qs = qs.filter(
            Q(title__icontains=search.strip()) | Q(description__icontains=search.strip())
        )
    return qs


# --- public engagement: signed download links and the view beacon ---------------------------
#
# A public link names the asset (and, when sent to a known contact, the contact) in a value
# signed with the site's secret: nobody can make one for another asset or contact. The download
# redirects only to the asset's stored URL (http/https), never to anything in the request.
# Interactions from crawlers, prefetches and scanners are stored flagged (`is_bot`, with
# tracking's `bot_reason`), as tracking does; past `MARKETING_CONTENT_RATE_LIMIT` a minute from
# one address for one asset and action, nothing more is stored. Archived assets stop counting: their
# download link still reaches the file (links already sent keep working), the beacon still
# answers, but neither records anything.

PUBLIC_SALT = "tandem.marketing.content.public"
PUBLIC_ACTIONS = ("view", "download")


def public_token(asset: ContentAsset, action: str, contact_id: int | None = None) -> str:
    """The signed value of a public link: asset, action and (optionally) the contact."""
    if action not in PUBLIC_ACTIONS:
        raise InvalidInput({"action": [_("Use view or download.")]})
    payload: dict[str, Any] = {"a": asset.pk, "k": action[0]}
    if contact_id is not None:
        payload["c"] = int(contact_id)
    return signing.dumps(payload, salt=PUBLIC_SALT, compress=True)


def public_read(token: str, action: str) -> tuple[int, int | None] | None:
    """(asset id, contact id or None) from a public link's value, or None if it is forged."""
    try:
        data = signing.loads(token[:500], salt=PUBLIC_SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("k") != action[:1]
        or not isinstance(data.get("a"), int)
    ):
        return None
    contact_id = data.get("c")
    return data["a"], contact_id if isinstance(contact_id, int) else None


def download_url(asset: ContentAsset, contact: Contact | None = None) -> str:
    """The public download link (per contact when sent to a known contact)."""
    token = public_token(asset, "download", contact.pk if contact is not None else None)
    return base_url() + reverse("marketing_public:content_download", args=[token])


def beacon_url(asset: ContentAsset, contact: Contact | None = None) -> str:
    """The public view beacon (an <img> or the site snippet requests it when the asset shows)."""
    token = public_token(asset, "view", contact.pk if contact is not None else None)
    return base_url() + reverse("marketing_public:content_view", args=[token])


def safe_target(asset: ContentAsset) -> str:
    """The asset's stored URL if it is a plain http(s) address with a host, else ""."""
    parts = urlsplit(asset.url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in asset.url:
        return ""
    return asset.url


def _rate_limited(asset_id: int, action: str, ip: str) -> bool:
    limit = int(getattr(settings, "MARKETING_CONTENT_RATE_LIMIT", 30))
    return rate_limit_hit(f"marketing:content:{action}:{asset_id}:{ip}", limit=limit).limited


@dataclass(frozen=True)
class PublicHit:
    """What a public link resolved to; `touchpoint` is None when nothing was recorded."""

    asset: ContentAsset
    touchpoint: Touchpoint | None
    reason: str  # "" (recorded), "archived", "rate_limited"


def public_engagement(
    *,
    token: str,
    action: str,
    anonymous_id: str,
    ip: str,
    user_agent: str,
    meta: Mapping[str, Any],
) -> PublicHit | None:
    """Record one public view or download; None if the link is forged or the asset is gone."""
    found = public_read(token, action)
    if found is None:
        return None
    asset_id, contact_id = found
    asset = ContentAsset.objects.select_related("campaign").filter(pk=asset_id).first()
    if asset is None:
        return None
    if asset.archived:
        return PublicHit(asset, None, "archived")
    if _rate_limited(asset.pk, action, ip):
        return PublicHit(asset, None, "rate_limited")
    reason = bots.bot_reason(
        user_agent=user_agent,
        ip=ip,
        meta={k: str(v) for k, v in meta.items() if k.startswith("HTTP_")},
        kind="open" if action == "view" else "click",
    )
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    code = asset.campaign.utm_code if asset.campaign_id and asset.campaign else ""
    properties: dict[str, Any] = {"asset": asset.pk, "asset_kind": asset.kind, "via": "public"}
    if reason:
        properties["bot_reason"] = reason
    touch = crm.touchpoint_record(
        channel=asset.channel,
        kind=ENGAGEMENT_KINDS[action],
        department="marketing",
        contact=contact,
        anonymous_id=anonymous_id[:200],
        campaign=code,
        content=asset.key,
        source="content",
        is_bot=bool(reason),
        properties=properties,
    )
    return PublicHit(asset, touch, "")
