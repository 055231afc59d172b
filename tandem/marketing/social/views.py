"""Social pages: the calendar (posts by day of a month, per network), post form and page (record
a manual publication), statistics import. Marketing only. Thin: parse, call a service, render."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.tasks import enqueue_on_commit
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.campaigns.views import upload
from tandem.marketing.scopes import marketer
from tandem.marketing.social import services, tasks
from tandem.marketing.social.adapters import ADAPTERS
from tandem.marketing.social.forms import MarkPublishedForm, PostForm, StatsImportForm
from tandem.marketing.social.models import Network, SocialPost, SocialPostStats
from tandem.marketing.tracked_links import link_url
from tandem.marketing.validation import form_errors


def _month(value: str) -> dt.date:
    """The first day of `YYYY-MM` (years 1900-2999, so the months around it exist too), else
    of this month."""
    try:
        year, month = (int(x) for x in value.split("-", 1))
        if 1900 <= year <= 2999:
            return dt.date(year, month, 1)
    except (ValueError, TypeError):
        pass
    return timezone.localdate().replace(day=1)


@login_required
def post_calendar(request: HttpRequest) -> HttpResponse:
    user = marketer(request)
    first = _month(request.GET.get("month", ""))
    days = calendar.monthrange(first.year, first.month)[1]
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = start + dt.timedelta(days=days)
    network = request.GET.get("network", "")
    posts = scoped(user, SocialPost).filter(scheduled_at__gte=start, scheduled_at__lt=end)
    if network in Network.values:
        posts = posts.filter(network=network)
    by_day: dict[dt.date, list[SocialPost]] = {}
    for post in posts.select_related("campaign").order_by("scheduled_at", "pk")[:2000]:
        assert post.scheduled_at is not None
        by_day.setdefault(timezone.localtime(post.scheduled_at).date(), []).append(post)
    unscheduled = scoped(user, SocialPost).filter(scheduled_at__isnull=True)[:200]
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    return render(
        request,
        "marketing/social/calendar.html",
        {
            "month": first,
            "previous": previous.strftime("%Y-%m"),
            "next": end.date().strftime("%Y-%m"),
            "days": [
                (d, by_day.get(d, [])) for d in (first + dt.timedelta(days=i) for i in range(days))
            ],
            "unscheduled": unscheduled,
            "networks": Network.choices,
            "network": network,
            "configured": {n: a.configured() for n, a in ADAPTERS.items()},
            "manage_social": can(user, "manage_social"),
        },
    )


FIELDS = ("network", "text", "link_url", "campaign_id", "scheduled_at")


@login_required
def post_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = marketer(request)
    post = get_scoped(user, SocialPost, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {f: getattr(post, f, "") if post else "" for f in FIELDS}
    if post and post.scheduled_at:
        data["scheduled_at"] = timezone.localtime(post.scheduled_at).strftime("%Y-%m-%dT%H:%M")
    if request.method == "POST":
        form = PostForm(request.POST)
        data = {f: form[f].value() for f in FIELDS}
        if form.is_valid():
            data["campaign_id"] = form.cleaned_data["campaign_id"]
            try:
                if post is None:
                    post = services.post_create(actor=Actor.of(request), **form.cleaned_data)
                else:
                    post = services.post_update(
                        actor=Actor.of(request), post=post, **form.cleaned_data
                    )
                messages.success(request, _("Post saved."))
                return redirect("marketing:social_detail", pk=post.pk)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    return render(
        request,
        "marketing/social/edit.html",
        {
            "post": post,
            "data": data,
            "errors": errors,
            "networks": Network.choices,
            "campaigns": scoped(user, Campaign)[:500],
        },
        status=400 if errors else 200,
    )


def _detail(request: HttpRequest, post: SocialPost, errors: dict[str, list[str]]) -> HttpResponse:
    stats = SocialPostStats.objects.filter(post=post).first()
    return render(
        request,
        "marketing/social/detail.html",
        {
            "post": post,
            "link": link_url(post.tracked_link) if post.tracked_link else "",
            "stats": stats,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    return _detail(request, get_scoped(user, SocialPost, pk), {})


@login_required
@require_POST
def post_mark_published(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    post = get_scoped(user, SocialPost, pk, "change")
    form = MarkPublishedForm(request.POST)
    if not form.is_valid():
        return _detail(request, post, form_errors(form))
    try:
        services.post_mark_published(actor=Actor.of(request), post=post, **form.cleaned_data)
    except InvalidInput as exc:
        return _detail(request, post, exc.errors)
    messages.success(request, _("Marked as published."))
    return redirect("marketing:social_detail", pk=post.pk)


@login_required
@require_POST
def publish_due(request: HttpRequest) -> HttpResponse:
    marketer(request)
    enqueue_on_commit(tasks.social_publish_due)
    messages.success(request, _("Due posts are being published."))
    return redirect("marketing:social_calendar")


@login_required
def stats_import(request: HttpRequest) -> HttpResponse:
    marketer(request)
    errors: dict[str, list[str]] = {}
    report = None
    network = ""
    if request.method == "POST":
        form = StatsImportForm(request.POST)
        network = str(form["network"].value() or "")
        try:
            if not form.is_valid():
                raise InvalidInput(form_errors(form))
            report = services.stats_import(
                actor=Actor.of(request),
                network=form.cleaned_data["network"],
                data=upload(request),
            )
        except InvalidInput as exc:
            errors = exc.errors
    return render(
        request,
        "marketing/social/stats_import.html",
        {
            "errors": errors,
            "import_report": report,
            "networks": Network.choices,
            "network": network,
        },
        status=400 if errors else 200,
    )
