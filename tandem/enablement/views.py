"""Enablement pages: the library (every role), an asset (share, rate, versions), the buyer's
viewer (public), content value, requests, the voice of the customer, joint touches and the
loop's health. Thin: parse with a form, call a service, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import Contact, Industry
from tandem.enablement import selectors, services
from tandem.enablement.forms import (
    AssetForm,
    AssetNewForm,
    PingForm,
    RatingForm,
    RequestForm,
    RequestMoveForm,
    ShareForm,
    VersionForm,
)
from tandem.enablement.models import (
    Asset,
    AssetKind,
    ContentRequest,
    Persona,
    RequestStatus,
    SalesStage,
    Share,
)


def _need(request: HttpRequest, capability: str) -> None:
    if not can(request.user, capability):
        raise PermissionDenied


def _filters(request: HttpRequest) -> dict[str, str]:
    return {
        name: request.GET.get(name, "")[:120]
        for name in ("q", "kind", "industry", "stage", "persona", "product")
    }


@login_required
def library(request: HttpRequest) -> HttpResponse:
    _need(request, "read_content")
    user = request_user(request)
    filters = _filters(request)
    assets = list(services.library(user, **filters)[:300])  # type: ignore[arg-type]
    usage = selectors.asset_usage(user, assets)
    today = services.org_today()
    return render(
        request,
        "enablement/library.html",
        {
            "rows": [(a, usage[a.pk], a.is_expired(today)) for a in assets],
            "filters": filters,
            "kinds": AssetKind.choices,
            "industries": Industry.choices,
            "stages": SalesStage.choices,
            "personas": Persona.choices,
            "can_manage": can(user, "manage_collateral"),
        },
    )


def _asset_context(request: HttpRequest, asset: Asset, **extra: Any) -> dict[str, Any]:
    user = request_user(request)
    contacts = scoped(user, Contact).order_by("last_name", "first_name", "pk")[:300]
    return {
        "asset": asset,
        "versions": list(asset.versions.all()),
        "expired": asset.is_expired(services.org_today()),
        "usage": selectors.asset_usage(user, [asset])[asset.pk],
        "pages": selectors.page_times(asset, user),
        "shares": list(
            scoped(user, Share).filter(asset=asset).select_related("contact", "rep")[:50]
        ),
        "ratings": list(asset.ratings.select_related("rater")[:20]),
        "contacts": contacts,
        "can_manage": can(user, "manage_collateral"),
        "can_share": can(user, "share_collateral"),
        "share_form": extra.pop(
            "share_form", ShareForm(initial={"contact_id": request.GET.get("contact")})
        ),
        "rating_form": extra.pop("rating_form", RatingForm()),
        "version_form": extra.pop("version_form", VersionForm()),
        "themes": list(asset.answers_themes.all()),
        "requests": list(asset.requests.all()),
        **extra,
    }


@login_required
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_scoped(request.user, Asset, pk)
    return render(request, "enablement/asset.html", _asset_context(request, asset))


@login_required
def asset_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _need(request, "manage_collateral")
    asset = get_scoped(request.user, Asset, pk, "change") if pk else None
    form_class = AssetForm if asset else AssetNewForm
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if asset:
                    asset = services.asset_update(actor=Actor.of(request), asset=asset, **data)
                else:
                    url, pages, key = data.pop("url"), data.pop("pages"), data.pop("key")
                    asset = services.asset_create(
                        actor=Actor.of(request), url=url, pages=pages, key=key, **data
                    )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Saved."))
                return redirect("enablement:asset_detail", pk=asset.pk)
    else:
        initial = {f: getattr(asset, f) for f in AssetForm.base_fields} if asset else {}
        form = form_class(initial=initial)
    return render(request, "enablement/asset_edit.html", {"form": form, "asset": asset})


@login_required
@require_POST
def asset_version(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "manage_collateral")
    asset = get_scoped(request.user, Asset, pk, "change")
    form = VersionForm(request.POST)
    if form.is_valid():
        try:
            version = services.version_add(
                actor=Actor.of(request), asset=asset, **form.cleaned_data
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Version %(n)s added.") % {"n": version.number})
            return redirect("enablement:asset_detail", pk=asset.pk)
    context = _asset_context(request, asset, version_form=form)
    return render(request, "enablement/asset.html", context, status=400)


@login_required
@require_POST
def asset_share(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "share_collateral")
    asset = get_scoped(request.user, Asset, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        contact = scoped(request.user, Contact).filter(pk=form.cleaned_data["contact_id"]).first()
        if contact is None:
            form.add_error("contact_id", _("No such contact."))
        else:
            try:
                share = services.share_create(actor=Actor.of(request), asset=asset, contact=contact)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                return render(
                    request,
                    "enablement/shared.html",
                    {"share": share, "url": services.share_url(share), "asset": asset},
                )
    context = _asset_context(request, asset, share_form=form)
    return render(request, "enablement/asset.html", context, status=400)


@login_required
@require_POST
def asset_rate(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_scoped(request.user, Asset, pk)
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            services.rating_record(actor=Actor.of(request), asset=asset, **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Thank you for rating."))
            return redirect("enablement:asset_detail", pk=asset.pk)
    context = _asset_context(request, asset, rating_form=form)
    return render(request, "enablement/asset.html", context, status=400)


# --- the buyer's viewer (public, no sign-in) --------------------------------------------------


def _ip(request: HttpRequest) -> str:
    return client_address(request)


def public_view(request: HttpRequest, token: str) -> HttpResponse:
    view = services.view_open(
        token=token,
        ip=_ip(request),
        user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:500],
        meta=request.META,
    )
    if view is None:
        raise Http404
    share = view.share
    response = render(
        request,
        "enablement/viewer.html",
        {
            "share": share,
            "asset": share.asset,
            "version": share.version,
            "visit": view.visit,
            "pages": range(1, share.version.pages + 1),
        },
    )
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    origin = _origin(share.version.url)
    if origin:  # the page may frame the shared file's own origin, nothing else
        response._csp_update = {"frame-src": ["'self'", origin]}  # type: ignore[attr-defined]
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in url:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


@csrf_exempt  # a beacon from the public viewer: no session, the random visit id is the key
@require_POST
def public_ping(request: HttpRequest) -> HttpResponse:
    form = PingForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "invalid", "fields": sorted(form.errors)}, status=400)
    counted = services.view_ping(**form.cleaned_data)
    return JsonResponse({"counted": counted}, status=200 if counted else 404)


# --- content value --------------------------------------------------------------------------


@login_required
def value(request: HttpRequest) -> HttpResponse:
    _need(request, "read_content")
    user = request_user(request)
    assets = list(services.library(user)[:500])
    usage = selectors.asset_usage(user, assets)
    rows = sorted(
        ((a, usage[a.pk]) for a in assets),
        key=lambda r: (-r[1].influenced, -r[1].shares, r[0].title),
    )
    return render(request, "enablement/value.html", {"rows": rows})


# --- content requests -----------------------------------------------------------------------


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    _need(request, "read_content")
    user = request_user(request)
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            req = services.request_create(actor=Actor.of(request), **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Request filed; marketing will triage it."))
            return redirect("enablement:request_detail", pk=req.pk)
    status = request.GET.get("status", "")
    rows = scoped(user, ContentRequest).select_related("requester", "assignee", "asset")
    if status in RequestStatus.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "enablement/requests.html",
        {"form": form, "rows": rows[:200], "status": status},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_scoped(request.user, ContentRequest, pk)
    user = request_user(request)
    form = RequestMoveForm(request.POST or None)
    if request.method == "POST":
        _need(request, "manage_collateral")
        if form.is_valid():
            data = form.cleaned_data
            asset = None
            if data["asset_id"]:
                asset = scoped(user, Asset).filter(pk=data["asset_id"]).first()
                if asset is None:
                    form.add_error("asset_id", _("No such asset."))
            if form.is_valid():
                try:
                    services.request_move(
                        actor=Actor.of(request),
                        request=req,
                        status=data["status"],
                        assignee=user if req.assignee_id is None else None,
                        due_on=data["due_on"],
                        asset=asset,
                        note=data["note"],
                    )
                except InvalidInput as exc:
                    apply_invalid_input(form, exc, {})
                else:
                    messages.success(request, _("Request updated; the requester is notified."))
                    return redirect("enablement:request_detail", pk=req.pk)
    usage = selectors.asset_usage(user, [req.asset])[req.asset.pk] if req.asset else None
    return render(
        request,
        "enablement/request.html",
        {
            "req": req,
            "form": form,
            "usage": usage,
            "can_manage": can(user, "manage_collateral"),
            "assets": scoped(user, Asset).filter(archived=False).order_by("title")[:300],
        },
        status=400 if request.method == "POST" else 200,
    )


# --- the loop's health (the head) ------------------------------------------------------------


@login_required
def health(request: HttpRequest) -> HttpResponse:
    _need(request, "view_loop_health")
    data = selectors.loop_health(request_user(request), now=timezone.now())
    return render(request, "enablement/health.html", {"h": data})
