"""Public pages of the tracking app: tracked-link redirects and embeddable forms.

Thin: parse the request, call a service, render. Public endpoints are CSRF-exempt where other
sites post to them (forms), and answer errors as JSON {"code", "message", "errors"}.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tandem.core.client_address import client_address
from tandem.core.ratelimit import email_rate_limit_hit, rate_limit_hit
from tandem.tracking import forms_service, links
from tandem.tracking.models import Form, TrackedLink

log = logging.getLogger("tandem.tracking")
ANON_COOKIE = "tdm_aid"


def _ip(request: HttpRequest) -> str:
    return client_address(request)


@require_GET
def link_redirect(request: HttpRequest, token: str) -> HttpResponse:
    link = TrackedLink.objects.filter(token=token, disabled_at__isnull=True).first()
    if link is None:
        raise Http404
    anonymous_id = request.COOKIES.get(ANON_COOKIE, "")[:200] or secrets.token_urlsafe(16)
    try:
        links.link_click(
            link=link,
            anonymous_id=anonymous_id,
            ip=_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            meta=request.META,
            recipient=links.read_recipient(request.GET.get("r", "")),
            referrer=request.META.get("HTTP_REFERER", ""),
        )
    except DatabaseError:
        log.exception("click on %s not recorded", token)  # the visitor still gets there
    response = HttpResponseRedirect(links.link_target(link))
    response.set_cookie(
        ANON_COOKIE,
        anonymous_id,
        max_age=365 * 86400,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    response["Referrer-Policy"] = "no-referrer"
    return response


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def _form(key: str) -> Form:
    form = Form.objects.filter(key=key).first()
    if form is None:
        raise Http404
    return form


@require_GET
def form_definition(request: HttpRequest, key: str) -> HttpResponse:
    """The form as JSON, for sites that render it themselves."""
    return _cors(JsonResponse(forms_service.form_definition(_form(key))))


@require_GET
def form_embed(request: HttpRequest, key: str) -> HttpResponse:
    """The HTML snippet of the form (also shown to admins to paste into a site)."""
    form = _form(key)
    response = render(
        request,
        "tracking/form_embed.html",
        {
            "form": form,
            "fields": forms_service.form_fields(form),
            "action": request.build_absolute_uri(f"/f/{form.key}/submit"),
        },
    )
    response["X-Frame-Options"] = "ALLOWALL"
    return _cors(response)


def _payload(request: HttpRequest) -> dict[str, Any]:
    if request.content_type in ("application/json", "text/plain"):
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {"__invalid__": True}
        return data if isinstance(data, dict) else {"__invalid__": True}
    return {k: request.POST.get(k) for k in request.POST}


def _rate_limited(request: HttpRequest, key: str) -> bool:
    limit = int(getattr(settings, "TRACKING_FORM_RATE_LIMIT", 10))
    return rate_limit_hit(f"tracking:form:{key}:{_ip(request)}", limit=limit).limited


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def form_submit(request: HttpRequest, key: str) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    form = _form(key)
    if _rate_limited(request, key):
        response = JsonResponse(
            {"code": "rate_limited", "message": _("Too many submissions; try again in a minute.")},
            status=429,
        )
        response["Retry-After"] = "60"
        return _cors(response)
    data = _payload(request)
    if data.pop("__invalid__", False):
        return _cors(
            JsonResponse(
                {"code": "invalid_json", "message": _("The body is not JSON."), "errors": {}},
                status=400,
            )
        )
    email = str(data.get("email") or "").strip()
    if email:  # a submission may mail its address (double opt-in): limited per address too
        verdict = email_rate_limit_hit(email)
        if verdict.limited:
            response = JsonResponse(
                {
                    "code": "rate_limited",
                    "message": _("Too many submissions for this address; try again later."),
                },
                status=429,
            )
            response["Retry-After"] = str(max(1, int(verdict.retry_after + 0.999)))
            return _cors(response)
    result = forms_service.form_submit(
        form=form,
        data=data,
        ip=_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        anonymous_id=str(data.get("anonymous_id") or request.COOKIES.get(ANON_COOKIE, ""))[:200],
        confirm_base=request.build_absolute_uri("/f/confirm/"),
    )
    if result.errors:
        return _cors(
            JsonResponse(
                {
                    "code": "invalid",
                    "message": _("Please correct the fields."),
                    "errors": result.errors,
                },
                status=400,
            )
        )
    if form.redirect_url and request.content_type not in ("application/json", "text/plain"):
        # a browser's own form post (no script): on to the page the form names (vetted and
        # stored with the form, never taken from the request)
        onward = HttpResponseRedirect(form.redirect_url)
        onward.status_code = 303
        return onward
    return _cors(
        JsonResponse(
            {
                "success": True,
                "message": form.success_message or _("Thank you!"),
                "confirmation_sent": result.confirmation_sent,
                "redirect": form.redirect_url or None,
            }
        )
    )


@require_GET
def form_confirm(request: HttpRequest, signed: str) -> HttpResponse:
    confirmed = forms_service.consent_confirm(
        signed=signed, ip=_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    return render(
        request,
        "tracking/form_confirmed.html",
        {"confirmed": confirmed},
        status=200 if confirmed else 400,
    )
