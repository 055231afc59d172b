"""Public email endpoints (no login; a recipient's 128-bit token or a signature authorises).

/e/o/<token> open pixel · /e/c/<signed> click redirect (only to the signed destination) ·
/e/u/<token> unsubscribe page, POST = unsubscribe (RFC 8058 one-click, no cookies needed) ·
/e/p/<token> preference centre · /e/confirm/<signed> double opt-in confirmation.
GET never changes consent (scanners prefetch links); unsubscribing takes one POST.
/e/content/d/<signed> content download (records `content_downloaded`, redirects only to the
asset's stored http(s) URL) · /e/content/v/<signed> content view beacon (a 1x1 GIF; GET for an
<img>, POST for navigator.sendBeacon; records `content_viewed`). A forged value is a 404.
"""

from __future__ import annotations

import base64
import logging
import secrets

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tandem.core.client_address import client_address
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.content import services as content
from tandem.marketing.content.models import ContentAsset
from tandem.marketing.email import engagement, message
from tandem.marketing.models import EmailRecipient, SubscriptionType
from tandem.marketing.subscriptions.forms import PreferencesForm, UnsubscribeForm
from tandem.marketing.validation import form_errors

log = logging.getLogger("tandem.marketing")
ANON_COOKIE = "tdm_aid"  # the same visitor cookie as tracking's link redirect
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _client(request: HttpRequest) -> dict[str, str]:
    return {
        "ip": client_address(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
    }


def _recipient(token: str) -> EmailRecipient:
    recipient = engagement.recipient_for(token)
    if recipient is None:
        raise Http404
    return recipient


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    engagement.record_open(token=token, meta=request.META, **_client(request))
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, signed: str) -> HttpResponse:
    target = message.click_target(signed)
    if target is None:
        raise Http404
    token, url = target
    engagement.record_click(token=token, url=url, meta=request.META, **_client(request))
    return HttpResponseRedirect(url)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    recipient = _recipient(token)
    subscription = recipient.send.subscription_type
    if request.method == "POST":
        form = UnsubscribeForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                "marketing/unsubscribe.html",
                {"done": False, "subscription": subscription, "token": token},
                status=400,
            )
        contact = Contact.objects.filter(pk=recipient.contact_id).first()
        one_click = form.one_click()
        if contact is not None:
            consent.unsubscribe(
                contact=contact,
                subscriptions=[subscription],
                source="one_click" if one_click else "unsubscribe_link",
                **_client(request),
            )
        if one_click:
            return HttpResponse(_("Unsubscribed."), content_type="text/plain; charset=utf-8")
        return render(
            request,
            "marketing/unsubscribe.html",
            {"done": True, "subscription": subscription, "token": token},
        )
    return render(
        request,
        "marketing/unsubscribe.html",
        {"done": False, "subscription": subscription, "token": token},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    recipient = _recipient(token)
    contact = Contact.objects.filter(pk=recipient.contact_id).first()
    if contact is None:
        raise Http404
    # archived types are offered only to people still subscribed to them (so they can leave)
    types = [
        t
        for t in SubscriptionType.objects.all()
        if t.active or consent.is_subscribed(contact_id=contact.pk, purpose=t.key)
    ]
    saved = False
    errors: dict[str, list[str]] = {}
    form = PreferencesForm(request.POST if request.method == "POST" else None, offered=types)
    if request.method == "POST" and not form.is_valid():
        errors = form_errors(form)
    elif request.method == "POST":
        wanted = form.wanted()
        current = consent.subscriptions_of(contact.pk)
        for subscription in types:
            if subscription.key in wanted and not current.get(subscription.key):
                consent.subscribe(
                    contact=contact,
                    subscription=subscription,
                    source="preference_centre",
                    proven=True,
                    **_client(request),
                )
            elif subscription.key not in wanted and current.get(subscription.key):
                consent.unsubscribe(
                    contact=contact,
                    subscriptions=[subscription],
                    source="preference_centre",
                    **_client(request),
                )
        saved = True
    current = consent.subscriptions_of(contact.pk)
    rows = [{"type": t, "on": current.get(t.key, False)} for t in types]
    return render(
        request,
        "marketing/preferences.html",
        {"rows": rows, "saved": saved, "errors": errors, "email": recipient.email, "token": token},
        status=400 if errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, signed: str) -> HttpResponse:
    """The double opt-in link opens a page with a button; only the button (POST) confirms, so
    an email scanner that follows links subscribes nobody."""
    if request.method == "POST":
        ok = consent.confirm(signed=signed, **_client(request))
        state = "confirmed" if ok else "invalid"
    else:
        found = consent.confirm_check(signed=signed)
        state = {"pending": "pending", "already": "confirmed"}.get(found, "invalid")
    return render(
        request,
        "marketing/confirmed.html",
        {"state": state},
        status=400 if state == "invalid" else 200,
    )


def _anonymous_id(request: HttpRequest) -> str:
    return request.COOKIES.get(ANON_COOKIE, "")[:200] or secrets.token_urlsafe(16)


def _public_hit(request: HttpRequest, token: str, action: str) -> content.PublicHit | None:
    try:
        return content.public_engagement(
            token=token,
            action=action,
            anonymous_id=_anonymous_id(request),
            meta=request.META,
            **_client(request),
        )
    except DatabaseError:
        log.exception("content %s not recorded", action)  # the visitor still gets the file
        found = content.public_read(token, action)
        asset = ContentAsset.objects.filter(pk=found[0]).first() if found else None
        return content.PublicHit(asset, None, "error") if asset else None


@never_cache
@require_GET
def content_download(request: HttpRequest, token: str) -> HttpResponse:
    hit = _public_hit(request, token, "download")
    target = content.safe_target(hit.asset) if hit is not None else ""
    if not target:
        raise Http404
    response = HttpResponseRedirect(target)
    if hit is not None and hit.touchpoint is not None and hit.touchpoint.anonymous_id:
        response.set_cookie(
            ANON_COOKIE,
            hit.touchpoint.anonymous_id,
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "OPTIONS"])
def content_view(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
    else:
        hit = _public_hit(request, token, "view")
        if hit is None:
            raise Http404
        if hit.reason == "rate_limited":
            response = HttpResponse(status=429)
            response["Retry-After"] = "60"
        else:
            response = HttpResponse(PIXEL, content_type="image/gif")
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response
