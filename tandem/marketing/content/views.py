"""Content library pages: every role reads the library and can take a personal tracked link;
marketers, the head and admins add, edit, archive and unarchive assets. Thin: parse, call a
service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.content import services
from tandem.marketing.content.forms import ArchiveForm, AssetForm
from tandem.marketing.content.models import AssetKind, ContentAsset
from tandem.marketing.scopes import marketer
from tandem.marketing.tracked_links import link_url
from tandem.marketing.validation import form_errors


@login_required
def asset_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    search = request.GET.get("q", "")[:100]
    archived = request.GET.get("archived") == "1"
    assets = list(services.library(request_user(request), kind, search, archived)[:500])
    stats = services.engagement_by_asset(request_user(request), [a.key for a in assets])
    return render(
        request,
        "marketing/content/list.html",
        {
            "rows": [(a, stats[a.key]) for a in assets],
            "kinds": AssetKind.choices,
            "kind": kind,
            "q": search,
            "archived": archived,
            "can_change": can(request.user, "use_marketing"),
        },
    )


@login_required
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_scoped(request.user, ContentAsset, pk)
    stats = services.engagement_by_asset(request_user(request), [asset.key])[asset.key]
    return render(
        request,
        "marketing/content/detail.html",
        {
            "asset": asset,
            "stats": stats,
            "link": link_url(asset.tracked_link) if asset.tracked_link else "",
            "share": request.GET.get("share", ""),
            "can_change": can(request.user, "use_marketing"),
            "download": services.download_url(asset),
            "beacon": services.beacon_url(asset),
        },
    )


@login_required
@require_POST
def asset_share(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_scoped(request.user, ContentAsset, pk)
    url = services.share_link(actor=Actor.of(request), asset=asset)
    messages.success(request, _("Your personal link: %(url)s") % {"url": url})
    return redirect("marketing:content_detail", pk=asset.pk)


@login_required
def asset_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = marketer(request)
    asset = get_scoped(user, ContentAsset, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    fields = ("kind", "title", "key", "url", "description", "campaign_id")
    data: dict[str, Any] = {f: getattr(asset, f, "") if asset else "" for f in fields}
    if request.method == "POST":
        form = AssetForm(request.POST)
        data = {f: form[f].value() for f in fields}
        if form.is_valid():
            cleaned = dict(form.cleaned_data)
            data["campaign_id"] = cleaned["campaign_id"]
            if asset is not None:
                cleaned.pop("key")
            try:
                if asset is None:
                    asset = services.asset_create(actor=Actor.of(request), **cleaned)
                else:
                    asset = services.asset_update(actor=Actor.of(request), asset=asset, **cleaned)
                messages.success(request, _("Asset saved."))
                return redirect("marketing:content_detail", pk=asset.pk)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    return render(
        request,
        "marketing/content/edit.html",
        {
            "asset": asset,
            "data": data,
            "errors": errors,
            "kinds": AssetKind.choices,
            "campaigns": scoped(user, Campaign)[:500],
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def asset_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive (archived=1) or bring back (archived=0) an asset: marketers, head, admins."""
    asset = get_scoped(request.user, ContentAsset, pk)
    if not can(request.user, "use_marketing"):
        raise PermissionDenied
    asset = get_scoped(request.user, ContentAsset, pk, "change")
    form = ArchiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose archive or restore."))
        return redirect("marketing:content_detail", pk=asset.pk)
    archived = form.archive()
    services.asset_archive(actor=Actor.of(request), asset=asset, archived=archived)
    messages.success(request, _("Asset archived.") if archived else _("Asset restored."))
    return redirect("marketing:content_detail", pk=asset.pk)
