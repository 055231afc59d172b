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
from tandem.core.forms import apply_invalid_input
from tandem.core.models import User
from tandem.marketing.campaigns import services
from tandem.marketing.campaigns.forms import CampaignForm, CostForm, CsvUploadForm
from tandem.marketing.campaigns.models import Campaign, CampaignChannel, CampaignCost
from tandem.marketing.campaigns.report import campaign_report
from tandem.marketing.scopes import marketer
from tandem.marketing.validation import form_errors


def upload(request: HttpRequest) -> bytes:
    """The CSV file of an import form (field `file`), checked by `CsvUploadForm`: InvalidInput
    when it is missing or over 10 MB."""
    form = CsvUploadForm(files=request.FILES)
    if not form.is_valid():
        raise InvalidInput(form_errors(form))
    return form.content()


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    marketer(request)
    campaigns = scoped(request.user, Campaign).select_related("owner")[:500]
    return render(request, "marketing/campaigns/list.html", {"campaigns": campaigns})


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
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                if campaign is None:
                    campaign = services.campaign_create(
                        actor=Actor.of(request), **form.cleaned_data
                    )
                else:
                    campaign = services.campaign_update(
                        actor=Actor.of(request), campaign=campaign, **form.cleaned_data
                    )
                messages.success(request, _("Campaign saved."))
                return redirect("marketing:campaign_detail", pk=campaign.pk)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        data = form.values()
        errors = form_errors(form)
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
    form = CostForm(request.POST)
    if not form.is_valid():
        return _detail(request, campaign, form_errors(form), None)
    try:
        services.cost_add(actor=Actor.of(request), campaign=campaign, **form.cleaned_data)
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
    form = CostForm(request.POST)
    if not form.is_valid():
        return _detail(request, campaign, form_errors(form), None)
    try:
        services.cost_update(actor=Actor.of(request), cost=cost, **form.cleaned_data)
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
