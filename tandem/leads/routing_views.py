"""The lead routing settings page: the hand-off policy (SLA), marketing's MQL targets,
territories and each rep's capacity and round-robin weight. Thin: a form parses,
`tandem.leads.handoff_rules` decides and audits. Every page needs `manage_lead_routing` (403)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tandem.core.access import can, request_user
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Role, User
from tandem.leads import handoff_rules
from tandem.leads.models import HandoffPolicy, MqlTarget, RepCapacity, Territory
from tandem.leads.routing_forms import (
    HandoffPolicyForm,
    MqlTargetForm,
    RepCapacityForm,
    TerritoryForm,
)

CAPABILITY = "manage_lead_routing"


def _actor(request: HttpRequest) -> Actor:
    user = request_user(request)
    if not can(user, CAPABILITY):
        raise PermissionDenied
    return Actor(user=user)


def _policy_initial() -> dict[str, Any]:
    policy = HandoffPolicy.current()
    return {
        "accept_within_hours": policy.accept_within_hours,
        "first_contact_within_hours": policy.first_contact_within_hours,
        "max_escalations": policy.max_escalations,
    }


def _page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    capacities = {row.user_id: row for row in RepCapacity.objects.all()}
    reps = [
        {"user": rep, "capacity": capacities.get(rep.pk)}
        for rep in User.objects.filter(is_active=True, role=Role.SALES_REP).order_by(
            "first_name", "last_name", "username"
        )
    ]
    return render(
        request,
        "leads/routing.html",
        {
            "policy_form": forms_.get("policy_form")
            or HandoffPolicyForm(initial=_policy_initial()),
            "target_form": forms_.get("target_form") or MqlTargetForm(),
            "territory_form": forms_.get("territory_form") or TerritoryForm(),
            "capacity_form": forms_.get("capacity_form") or RepCapacityForm(),
            "targets": MqlTarget.objects.order_by("-month")[:24],
            "territories": Territory.objects.select_related("head").prefetch_related("members"),
            "reps": reps,
        },
        status=status,
    )


@login_required
def routing(request: HttpRequest) -> HttpResponse:
    _actor(request)
    return _page(request)


@login_required
@require_POST
def policy_set(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = HandoffPolicyForm(request.POST)
    if form.is_valid():
        try:
            handoff_rules.handoff_policy_set(actor=actor, **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Hand-off policy saved: new hand-offs follow it."))
            return redirect("leads:routing")
    return _page(request, status=400, policy_form=form)


@login_required
@require_POST
def mql_target_set(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = MqlTargetForm(request.POST)
    if form.is_valid():
        try:
            handoff_rules.mql_target_set(actor=actor, **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("MQL target saved."))
            return redirect("leads:routing")
    return _page(request, status=400, target_form=form)


@login_required
@require_POST
def mql_target_remove(request: HttpRequest, year: int, month: int) -> HttpResponse:
    actor = _actor(request)
    try:
        first = dt.date(year, month, 1)
    except ValueError:
        raise Http404 from None
    if handoff_rules.mql_target_remove(actor=actor, month=first):
        messages.success(request, _("MQL target removed."))
    return redirect("leads:routing")


def _territory_data(form: TerritoryForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "region": data["region"],
        "industry": data["industry"],
        "head_id": data["head"].pk if data["head"] else None,
        "member_ids": [user.pk for user in data["members"]],
    }


@login_required
@require_POST
def territory_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = TerritoryForm(request.POST)
    if form.is_valid():
        try:
            handoff_rules.territory_create(actor=actor, **_territory_data(form))
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {"head_id": "head", "member_ids": "members"})
        else:
            messages.success(request, _("Territory created."))
            return redirect("leads:routing")
    return _page(request, status=400, territory_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def territory_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    territory = get_object_or_404(Territory, pk=pk)
    initial = {
        "name": territory.name,
        "region": territory.region,
        "industry": territory.industry,
        "head": territory.head_id,
        "members": list(territory.members.values_list("pk", flat=True)),
    }
    form = TerritoryForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                handoff_rules.territory_update(
                    actor=actor, territory_id=territory.pk, **_territory_data(form)
                )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {"head_id": "head", "member_ids": "members"})
            else:
                messages.success(request, _("Territory saved."))
                return redirect("leads:routing")
        status = 400
    return render(
        request,
        "leads/territory_edit.html",
        {"territory": territory, "form": form},
        status=status,
    )


@login_required
@require_POST
def territory_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    territory = get_object_or_404(Territory, pk=pk)
    handoff_rules.territory_delete(actor=actor, territory_id=territory.pk)
    messages.success(request, _("Territory removed."))
    return redirect("leads:routing")


@login_required
@require_POST
def capacity_set(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = RepCapacityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            handoff_rules.rep_capacity_set(
                actor=actor,
                user_id=data["rep"].pk,
                weight=data["weight"],
                capacity=data["capacity"],
                is_available=data["is_available"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {"user_id": "rep"})
        else:
            messages.success(request, _("Capacity saved."))
            return redirect("leads:routing")
    return _page(request, status=400, capacity_form=form)
