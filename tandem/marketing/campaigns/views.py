"""Campaign pages: list, plan form, and the campaign page (report, cost lines, CSV import).

Thin: parse input, call a service, render. Reps get 404 (reads through `scoped`, fails closed).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.marketing.campaigns import services
from tandem.marketing.campaigns.models import Campaign, CampaignChannel, CampaignCost
from tandem.marketing.campaigns.report import campaign_report
from tandem.marketing.scopes import marketer

MAX_UPLOAD = 10 * 1024 * 1024


def upload(request: HttpRequest, name: str = "file") -> bytes:
    f = request.FILES.get(name)
    if f is None:
        raise InvalidInput({name: [_("Choose a CSV file.")]})
    if f.size is not None and f.size > MAX_UPLOAD:
        raise InvalidInput({name: [_("The file is larger than 10 MB.")]})
    return f.read(MAX_UPLOAD + 1)


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    marketer(request)
    campaigns = scoped(request.user, Campaign).select_related("owner")[:500]
    return render(request, "marketing/campaigns/list.html", {"campaigns": campaigns})


def _form_data(request: HttpRequest) -> dict[str, Any]:
    return {
        "name": request.POST.get("name", ""),
        "goal": request.POST.get("goal", ""),
        "channels": request.POST.getlist("channels"),
        "budget": request.POST.get("budget", ""),
        "starts_on": request.POST.get("starts_on", ""),
        "ends_on": request.POST.get("ends_on", ""),
        "owner_id": request.POST.get("owner_id", "") or None,
        "utm_code": request.POST.get("utm_code", ""),
    }


@login_required
def campaign_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = marketer(request)
    campaign = get_scoped(user, Campaign, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {
        "name": campaign.name if campaign else "",
        "goal": campaign.goal if campaign else "",
        "channels": campaign.channels if campaign else [],
        "budget": campaign.budget if campaign else "0",
        "starts_on": campaign.starts_on.isoformat() if campaign and campaign.starts_on else "",
        "ends_on": campaign.ends_on.isoformat() if campaign and campaign.ends_on else "",
        "owner_id": campaign.owner_id if campaign else user.pk,
        "utm_code": campaign.utm_code if campaign else "",
    }
    if request.method == "POST":
        data = _form_data(request)
        try:
            if campaign is None:
                campaign = services.campaign_create(actor=Actor(user=user), **data)
            else:
                campaign = services.campaign_update(
                    actor=Actor(user=user), campaign=campaign, **data
                )
            messages.success(request, _("Campaign saved."))
            return redirect("marketing:campaign_detail", pk=campaign.pk)
        except InvalidInput as exc:
            errors = exc.errors
    owners = services.campaign_owners().order_by("username")
    return render(
        request,
        "marketing/campaigns/edit.html",
        {
            "campaign": campaign,
            "data": data,
            "errors": errors,
            "channels": CampaignChannel.choices,
            "owners": owners,
        },
        status=400 if errors else 200,
    )


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    campaign = get_scoped(user, Campaign, pk)
    return _detail(request, campaign, {}, None)


def _detail(
    request: HttpRequest, campaign: Campaign, errors: dict[str, list[str]], report: Any
) -> HttpResponse:
    return render(
        request,
        "marketing/campaigns/detail.html",
        {
            "campaign": campaign,
            "report": campaign_report(request.user, campaign),  # type: ignore[arg-type]
            "costs": campaign.costs.select_related("created_by")[:500],
            "channels": CampaignChannel.choices,
            "errors": errors,
            "import_report": report,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def cost_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    campaign = get_scoped(user, Campaign, pk, "change")
    try:
        services.cost_add(
            actor=Actor(user=user),
            campaign=campaign,
            channel=request.POST.get("channel", ""),
            amount=request.POST.get("amount", ""),
            incurred_on=request.POST.get("incurred_on", ""),
            note=request.POST.get("note", ""),
        )
    except InvalidInput as exc:
        return _detail(request, campaign, exc.errors, None)
    messages.success(request, _("Cost added."))
    return redirect("marketing:campaign_detail", pk=campaign.pk)


def _cost(user: User, pk: int, cost_pk: int) -> tuple[Campaign, CampaignCost]:
    campaign = get_scoped(user, Campaign, pk, "change")
    cost = get_scoped(user, CampaignCost, cost_pk, "change")
    if cost.campaign_id != campaign.pk:
        raise Http404
    return campaign, cost


@login_required
@require_POST
def cost_edit(request: HttpRequest, pk: int, cost_pk: int) -> HttpResponse:
    user = marketer(request)
    campaign, cost = _cost(user, pk, cost_pk)
    try:
        services.cost_update(
            actor=Actor(user=user),
            cost=cost,
            channel=request.POST.get("channel", ""),
            amount=request.POST.get("amount", ""),
            incurred_on=request.POST.get("incurred_on", ""),
            note=request.POST.get("note", ""),
        )
    except InvalidInput as exc:
        return _detail(request, campaign, exc.errors, None)
    messages.success(request, _("Cost corrected."))
    return redirect("marketing:campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def cost_delete(request: HttpRequest, pk: int, cost_pk: int) -> HttpResponse:
    user = marketer(request)
    campaign, cost = _cost(user, pk, cost_pk)
    services.cost_delete(actor=Actor(user=user), cost=cost)
    messages.success(request, _("Cost deleted."))
    return redirect("marketing:campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def costs_import(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    campaign = get_scoped(user, Campaign, pk, "change")
    try:
        report = services.costs_import(
            actor=Actor(user=user), campaign=campaign, data=upload(request)
        )
    except InvalidInput as exc:
        return _detail(request, campaign, exc.errors, None)
    return _detail(request, campaign, {}, report)
