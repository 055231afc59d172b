"""Every write of the collateral library: assets, versions, shares with buyers and their views,
ratings and content requests. (Voice of the customer: `voc.py`; joint touches: `joint.py`.)

Invariants:
- each operation is one transaction and writes its audit entry in it (public buyer views are not
  audited: they are touchpoints, the timeline is their record);
- touchpoints go through crm's `touchpoint_record` only: `collateral_shared` when a rep shares
  (actor = the rep) and `collateral_viewed` once per buyer view (actor = the rep who shared, so
  the view is credited to the rep; `content` = the asset's key, so it is credited to the asset);
- an expired or archived asset is never shared (InvalidInput), the check runs in the share's
  transaction on the locked asset;
- a ping adds at most `PING_CAP_SECONDS` to one page of one view, and only to pages the shared
  version has; at most `PINGS_PER_MINUTE` count per view; pings of bot views are not counted.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Organisation, User
from tandem.core.ratelimit import rate_limit_hit
from tandem.crm import services as crm
from tandem.crm.models import Contact, Industry
from tandem.enablement.models import (
    Asset,
    AssetKind,
    AssetVersion,
    ContentRequest,
    Language,
    Persona,
    Rating,
    RatingReason,
    RequestStatus,
    SalesStage,
    Share,
    ShareView,
    ShareViewPage,
)
from tandem.enablement.stemming import stems
from tandem.leads import services as leads
from tandem.tracking.services import bots

PING_CAP_SECONDS = 60
PINGS_PER_MINUTE = 20  # the viewer sends one every 10 s and on page changes
ASSET_FIELDS = (
    "title",
    "description",
    "kind",
    "language",
    "product",
    "industry",
    "stage",
    "persona",
    "owner_id",
    "expires_on",
)


def search_text(asset: Asset) -> str:
    parts = [asset.title, asset.description, asset.product, asset.get_kind_display()]
    return " " + " ".join(dict.fromkeys(stems(" ".join(str(p) for p in parts)))) + " "


def org_today() -> dt.date:
    name = Organisation.current().time_zone or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date()


def library(
    user: User,
    *,
    q: str = "",
    kind: str = "",
    industry: str = "",
    stage: str = "",
    persona: str = "",
    product: str = "",
    archived: bool = False,
) -> QuerySet[Asset]:
    """The assets the user may see, filtered; the one filter of the page and the API."""
    qs = scoped(user, Asset).filter(archived=archived).select_related("owner")
    q, product = q.replace("\x00", ""), product.replace("\x00", "")  # never a NUL to the database
    for field, value in (
        ("kind", kind),
        ("industry", industry),
        ("stage", stage),
        ("persona", persona),
    ):
        if value and "\x00" not in value:
            qs = qs.filter(Q(**{field: value}) | Q(**{field: ""}))
    if product.strip():
        qs = qs.filter(product__icontains=product.strip()[:120])
    for word in stems(q[:200])[:8]:
        qs = qs.filter(search_text__contains=" " + word)
    return qs


# --- assets and versions ------------------------------------------------------------------


CHOICES: dict[str, tuple[list[str], bool]] = {  # field: (allowed values, may be blank)
    "kind": (AssetKind.values, False),
    "language": (Language.values, False),
    "industry": (Industry.values, True),
    "stage": (SalesStage.values, True),
    "persona": (Persona.values, True),
}


def _check(data: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "title" in data and not str(data["title"] or "").strip():
        errors["title"] = [_("An asset needs a title.")]
    for name, (allowed, blank) in CHOICES.items():
        if name in data and data[name] not in allowed and not (blank and data[name] == ""):
            errors[name] = [_("Choose one of: %(v)s.") % {"v": ", ".join(allowed)}]
    return errors


def _check_url(url: str, pages: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not url.startswith(("http://", "https://")) or " " in url or len(url) > 2000:
        errors["url"] = [_("Enter an http:// or https:// address.")]
    if not 1 <= pages <= 500:
        errors["pages"] = [_("A document has 1 to 500 pages.")]
    return errors


@transaction.atomic
def asset_create(*, actor: Actor, url: str, pages: int = 1, key: str = "", **data: Any) -> Asset:
    """A new asset with its first version; the owner defaults to the acting user."""
    unknown = set(data) - set(ASSET_FIELDS)
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    required = {"title": "", "kind": "", "language": ""}
    errors = {**_check({**required, **data}), **_check_url(url, pages)}
    slug = slugify(key or data.get("title", ""))[:100]
    if not slug:
        errors.setdefault("key", [_("An asset needs a key (letters, digits, hyphens).")])
    elif Asset.objects.filter(key=slug).exists():
        errors["key"] = [_("The key %(k)s is already used.") % {"k": slug}]
    if errors:
        raise InvalidInput(errors)
    data.setdefault("owner_id", actor.user.pk if actor.user else None)
    try:
        with transaction.atomic():
            asset = Asset.objects.create(key=slug, **data)
    except IntegrityError:
        raise InvalidInput({"key": [_("The key %(k)s is already used.") % {"k": slug}]}) from None
    asset.search_text = search_text(asset)
    asset.save(update_fields=["search_text"])
    version = AssetVersion.objects.create(
        asset=asset, number=1, url=url, pages=pages, created_by=actor.user
    )
    record_change(actor=actor, action="create", instance=asset, changes=diff({}, snapshot(asset)))
    record_change(
        actor=actor, action="create", instance=version, changes=diff({}, snapshot(version))
    )
    return asset


@transaction.atomic
def asset_update(*, actor: Actor, asset: Asset, **data: Any) -> Asset:
    unknown = set(data) - set(ASSET_FIELDS) - {"archived"}
    if unknown:
        raise InvalidInput({k: [_("Unknown field.")] for k in sorted(unknown)})
    errors = _check(data)
    if errors:
        raise InvalidInput(errors)
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    before = snapshot(locked)
    for name, value in data.items():
        setattr(locked, name, value)
    locked.search_text = search_text(locked)
    locked.save(update_fields=[*data, "search_text"])
    changes = diff(before, snapshot(locked))
    changes.pop("search_text", None)
    if changes:
        record_change(actor=actor, action="update", instance=locked, changes=changes)
    return locked


@transaction.atomic
def version_add(
    *, actor: Actor, asset: Asset, url: str, pages: int = 1, note: str = ""
) -> AssetVersion:
    """The next version of the asset (numbers without gaps: the asset row is locked)."""
    errors = _check_url(url, pages)
    if errors:
        raise InvalidInput(errors)
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    last = locked.versions.aggregate(n=Max("number"))["n"] or 0
    version = AssetVersion.objects.create(
        asset=locked, number=last + 1, url=url, pages=pages, note=note[:300], created_by=actor.user
    )
    record_change(
        actor=actor, action="create", instance=version, changes=diff({}, snapshot(version))
    )
    return version


def current_version(asset: Asset) -> AssetVersion | None:
    return asset.versions.order_by("-number").first()


# --- sharing with a buyer -----------------------------------------------------------------


def _department(user: User) -> str:
    department = user.department
    return str(department) if department in Department.values else Department.SALES


def share_url(share: Share) -> str:
    base = str(getattr(settings, "TANDEM_BASE_URL", "http://localhost:8000")).rstrip("/")
    return base + reverse("enablement:public_view", args=[share.token])


@transaction.atomic
def share_create(
    *, actor: Actor, asset: Asset, contact: Contact, at: dt.datetime | None = None
) -> Share:
    """Share the asset's current version with a contact the actor may see; a tracked link.
    `at`: when (default now; the demo tells its story in the past)."""
    if actor.user is None:
        raise InvalidInput(_("Only a person can share an asset."))
    if not scoped(actor.user, Contact).filter(pk=contact.pk).exists():
        raise InvalidInput({"contact_id": [_("No such contact.")]})
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    if locked.archived:
        raise InvalidInput(_("This asset is archived and cannot be shared."), code="archived")
    if locked.is_expired(org_today()):
        raise InvalidInput(
            _("This asset expired on %(d)s and cannot be shared.") % {"d": locked.expires_on},
            code="expired",
        )
    version = current_version(locked)
    if version is None:  # pragma: no cover - every asset is created with a version
        raise InvalidInput(_("This asset has no file yet."))
    at = at or timezone.now()
    share = Share.objects.create(
        asset=locked, version=version, contact=contact, rep=actor.user, created_at=at
    )
    crm.touchpoint_record(
        channel="sales_enablement",
        kind="collateral_shared",
        department=_department(actor.user),
        contact=contact,
        occurred_at=at,
        content=locked.key,
        actor=actor.user,
        source="enablement",
        properties={"share": share.pk, "asset": locked.pk, "version": version.number},
    )
    record_change(
        actor=actor,
        action="create",
        instance=share,
        changes=diff({}, snapshot(share, ["asset", "version", "contact", "rep"])),
    )
    return share


def view_open(
    *,
    token: str,
    ip: str,
    user_agent: str,
    meta: Mapping[str, Any],
    at: dt.datetime | None = None,
) -> ShareView | None:
    """A buyer opened a shared link: one view, one `collateral_viewed` touchpoint credited to
    the rep and the asset. None when the token is unknown or the opener is over the limit."""
    share = (
        Share.objects.select_related("asset", "version", "contact", "rep")
        .filter(token=token[:40].replace("\x00", ""))
        .first()
    )
    if share is None:
        return None
    limit = int(getattr(settings, "ENABLEMENT_VIEW_RATE_LIMIT", 30))
    if rate_limit_hit(f"enablement:view:{share.pk}:{ip}", limit=limit).limited:
        return None
    reason = bots.bot_reason(
        user_agent=user_agent,
        ip=ip,
        meta={k: str(v) for k, v in meta.items() if k.startswith("HTTP_")},
        kind="click",
    )
    with transaction.atomic():
        at = at or timezone.now()
        view = ShareView.objects.create(share=share, is_bot=bool(reason), opened_at=at)
        properties: dict[str, Any] = {
            "share": share.pk,
            "asset": share.asset_id,
            "version": share.version.number,
            "view": view.pk,
        }
        if reason:
            properties["bot_reason"] = reason
        touch = crm.touchpoint_record(
            channel="sales_enablement",
            kind="collateral_viewed",
            department=_department(share.rep),
            contact=share.contact,
            occurred_at=at,
            content=share.asset.key,
            actor=share.rep,
            source="enablement",
            is_bot=bool(reason),
            properties=properties,
        )
        view.touchpoint_id = touch.pk
        view.save(update_fields=["touchpoint_id"])
    return view


def view_ping(*, visit: str, page: int, seconds: int) -> bool:
    """Add seconds spent on a page of an open view; False if nothing was counted."""
    view = (
        ShareView.objects.select_related("share__version")
        .filter(visit=visit[:40], is_bot=False)
        .first()
    )
    if view is None or not 1 <= page <= view.share.version.pages or seconds <= 0:
        return False
    if rate_limit_hit(f"enablement:ping:{view.pk}", limit=PINGS_PER_MINUTE).limited:
        return False
    seconds = min(int(seconds), PING_CAP_SECONDS)
    with transaction.atomic():
        row, created = ShareViewPage.objects.get_or_create(
            view=view, page=page, defaults={"seconds": seconds}
        )
        if not created:
            ShareViewPage.objects.filter(pk=row.pk).update(seconds=F("seconds") + seconds)
        ShareView.objects.filter(pk=view.pk).update(seconds=F("seconds") + seconds)
    return True


# --- ratings ----------------------------------------------------------------------------


@transaction.atomic
def rating_record(
    *,
    actor: Actor,
    asset: Asset,
    stars: int,
    reasons: list[str],
    comment: str = "",
    at: dt.datetime | None = None,
) -> Rating:
    """A rep's rating of an asset with the reasons; each rating is kept (trends read them)."""
    errors: dict[str, list[str]] = {}
    if actor.user is None:
        raise InvalidInput(_("Only a person can rate an asset."))
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        errors["stars"] = [_("Give 1 to 5 stars.")]
    bad = [r for r in reasons if r not in RatingReason.values]
    if bad:
        errors["reasons"] = [_("Unknown reason: %(r)s.") % {"r": ", ".join(bad[:3])}]
    if errors:
        raise InvalidInput(errors)
    rating = Rating.objects.create(
        asset=asset,
        rater=actor.user,
        stars=stars,
        reasons=sorted(set(reasons)),
        comment=comment[:500],
        created_at=at or timezone.now(),
    )
    record_change(actor=actor, action="create", instance=rating, changes=diff({}, snapshot(rating)))
    return rating


# --- content requests ---------------------------------------------------------------------

# Which status may follow which (delivered needs the asset).
REQUEST_MOVES: dict[str, set[str]] = {
    RequestStatus.NEW: {RequestStatus.TRIAGED, RequestStatus.DECLINED},
    RequestStatus.TRIAGED: {RequestStatus.PLANNED, RequestStatus.DECLINED},
    RequestStatus.PLANNED: {RequestStatus.DELIVERED, RequestStatus.DECLINED},
    RequestStatus.DELIVERED: set(),
    RequestStatus.DECLINED: set(),
}


@transaction.atomic
def request_create(
    *,
    actor: Actor,
    title: str,
    detail: str = "",
    kind: str = "",
    industry: str = "",
    at: dt.datetime | None = None,
) -> ContentRequest:
    if actor.user is None:
        raise InvalidInput(_("Only a person can ask for content."))
    errors = _check({"kind": kind or "other", "industry": industry})
    if not title.strip():
        errors["title"] = [_("Say what is needed.")]
    if errors:
        raise InvalidInput(errors)
    req = ContentRequest.objects.create(
        title=title.strip()[:200],
        detail=detail[:2000],
        kind=kind,
        industry=industry,
        requester=actor.user,
        created_at=at or timezone.now(),
    )
    record_change(actor=actor, action="create", instance=req, changes=diff({}, snapshot(req)))
    return req


def _request_url(req: ContentRequest) -> str:
    return reverse("enablement:request_detail", args=[req.pk])


@transaction.atomic
def request_move(
    *,
    actor: Actor,
    request: ContentRequest,
    status: str,
    assignee: User | None = None,
    due_on: dt.date | None = None,
    asset: Asset | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> ContentRequest:
    """Triage, plan, deliver (linking the new asset) or decline; the requester is notified."""
    locked = ContentRequest.objects.select_for_update().get(pk=request.pk)
    if status not in REQUEST_MOVES.get(locked.status, set()):
        raise InvalidInput(
            {
                "status": [
                    _("A request that is %(s)s cannot become %(t)s.")
                    % {"s": locked.get_status_display(), "t": status}
                ]
            },
            code="conflict",
        )
    if status == RequestStatus.DELIVERED and asset is None:
        raise InvalidInput({"asset_id": [_("Link the asset that answers the request.")]})
    before = snapshot(locked)
    locked.status = status
    if assignee is not None:
        locked.assignee = assignee
    if due_on is not None:
        locked.due_on = due_on
    if asset is not None:
        locked.asset = asset
    if note:
        locked.note = note[:500]
    if status == RequestStatus.DELIVERED:
        locked.delivered_at = at or timezone.now()
    locked.save()
    record_change(
        actor=actor, action="update", instance=locked, changes=diff(before, snapshot(locked))
    )
    title = locked.title
    label = locked.get_status_display
    leads.notify(
        user=locked.requester,
        kind="content_request",
        text=lambda: _("Your content request “%(t)s” is now %(s)s.") % {"t": title, "s": label()},
        url=_request_url(locked),
    )
    return locked


# The voice of the customer and joint touches live in their own modules; other apps (the demo)
# reach them through this public module.
from tandem.enablement import joint as joint  # noqa: E402
from tandem.enablement import voc as voc  # noqa: E402
