"""Insights pages: each role's home page (the head's is the cockpit), the cockpit itself, and the
goals page. Views are thin: parse with a form, read through `selectors`, write through
`services`, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tandem.automation import selectors as automation
from tandem.core.access import can, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import User
from tandem.core.paging import capped_count
from tandem.crm.models import Account, Contact, Industry, Touchpoint
from tandem.enablement import selectors as enablement
from tandem.insights import home_views, selectors, services
from tandem.insights.channels import known as known_channels
from tandem.insights.field_card import field_card
from tandem.insights.forms import CockpitForm, GoalForm
from tandem.insights.models import Goal
from tandem.insights.periods import today_in, zone_of
from tandem.programmes import selectors as programmes


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The head's home is the cockpit; everyone else's shows the shared goals and their work."""
    user = request_user(request)
    if can(user, "cockpit_home"):
        return cockpit(request)
    if user.role in home_views.TEMPLATES:
        return home_views.role_home(request)
    zone = zone_of(user)
    contacts, contacts_more = capped_count(scoped(user, Contact))
    accounts, accounts_more = capped_count(scoped(user, Account))
    recent = list(
        scoped(user, Touchpoint)
        .filter(is_bot=False)
        .select_related("contact", "actor")
        .order_by("-id")[:10]
    )
    return render(
        request,
        "insights/role_home.html",
        {
            "goals": selectors.goals_now(user, today_in(zone), zone),
            "complete": user.sees_everything,
            "contacts_count": contacts,
            "contacts_more": contacts_more,
            "accounts_count": accounts,
            "accounts_more": accounts_more,
            "recent": recent,
        },
    )


def _links(summary: selectors.Summary) -> dict[str, Any]:
    """Where each number opens the records behind it (the existing list pages' filters)."""
    deals = reverse("sales:deal_list")
    contacts = reverse("crm:contact_list")
    attribution = {
        "start": summary.window.first.isoformat(),
        "end": summary.window.last.isoformat(),
        "conversion": "deal_won",
        "model": summary.model,
    }
    if summary.team_id is not None:
        attribution["team"] = str(summary.team_id)
    if summary.industry:
        attribution["industry"] = summary.industry
    steps: dict[str, str] = {
        stage: f"{contacts}?lifecycle_stage={stage}" for stage in selectors.CONTACT_STEPS
    }
    steps["opportunity"] = f"{deals}?status=open"
    steps["won"] = f"{deals}?status=won"
    return {
        "won": f"{deals}?status=won",
        "open": f"{deals}?status=open",
        "handoffs": reverse("leads:handoff_list") + "?show=all",
        "open_handoffs": reverse("leads:handoff_list"),
        "disputes": reverse("leads:dispute_list"),
        "lead_quality": reverse("leads:lead_quality"),
        "attribution": reverse("attribution:page") + "?" + urlencode(attribution),
        "goals": reverse("insights:goals"),
        "steps": steps,
    }


def _chart(summary: selectors.Summary) -> dict[str, Any]:
    return {
        "labels": {
            "entered": _("Entered"),
            "converted": _("Converted to the next step"),
            "share": _("Share of credit"),
            "interval": _("Interval"),
        },
        "funnel": [
            {"label": s.label, "entered": s.entered, "converted": s.converted_to_next}
            for s in summary.funnel
        ],
        "credit": [
            {"name": name, "share": c.share, "low": c.low, "high": c.high}
            for name, c in summary.credit_split.items()
        ],
    }


@login_required
def cockpit(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    zone = zone_of(user)
    form = CockpitForm(request.GET or None, zone=zone)
    if not form.is_bound:
        form = CockpitForm({"period": "this_quarter", "model": selectors.DEFAULT_MODEL}, zone=zone)
    context: dict[str, Any] = {
        "form": form,
        "zone": zone.key,
        "can_manage_goals": False,
        "channel_choices": known_channels(),
    }
    if not form.is_valid() or form.window is None:
        return render(request, "insights/cockpit.html", context, status=400)
    team = form.cleaned_data.get("team")
    summary = selectors.summary(
        user,
        window=form.window,
        team_id=team.pk if team else None,
        industry=form.cleaned_data.get("industry") or "",
        model=form.cleaned_data["model"],
        channel=form.cleaned_data.get("channel") or "",
        credit_background=True,
    )
    context.update(
        query=request.GET.urlencode(),
        can_export=can(user, "export"),
        can_board_report=can(user, "board_report"),
        board_month=f"{summary.window.last:%Y-%m}",
    )
    context.update(
        summary=summary,
        team=team,
        links=_links(summary),
        chart=_chart(summary),
        can_manage_goals=can(user, "manage_goals"),
        goals=selectors.goals_now(user, today_in(zone), zone),
        industry_label=dict(Industry.choices).get(summary.industry, ""),
    )
    if not can(user, "view_lead_quality"):
        context["links"]["lead_quality"] = ""
    if can(user, "view_loop_health"):
        context["loop"] = enablement.loop_summary(user)
    if can(user, "view_programmes"):
        context["programmes"] = programmes.cockpit_summary(user)
    if can(user, "view_automation"):
        context["automation_lift"] = automation.cockpit_lift()
    if can(user, "view_field_overview"):
        context["field_card"] = field_card(user, summary.window)
    return render(request, "insights/cockpit.html", context)


def _goals_page(request: HttpRequest, user: User, form: GoalForm, status: int = 200) -> Any:
    zone = zone_of(user)
    goals = scoped(user, Goal).select_related("team", "user", "set_by")
    return render(
        request,
        "insights/goals.html",
        {
            "form": form,
            "goals": goals[:200],
            "progress": selectors.goals_now(user, today_in(zone), zone),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def goals(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not can(user, "manage_goals"):
        raise PermissionDenied
    if request.method == "GET":
        return _goals_page(request, user, GoalForm())
    form = GoalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.goal_set(
                actor=Actor.of(request),
                kind=data["kind"],
                period=data["period"],
                day=data["day"],
                team_id=data["team"].pk if data["team"] else None,
                target=data["target"],
                user_id=data["user"].pk if data["user"] else None,
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Goal saved."))
            return redirect("insights:goals")
    return _goals_page(request, user, form, status=400)


@login_required
@require_POST
def goal_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if not can(request_user(request), "manage_goals"):
        raise PermissionDenied
    try:
        services.goal_remove(actor=Actor.of(request), goal_id=pk)
    except InvalidInput:
        messages.error(request, _("That goal no longer exists."))
    else:
        messages.success(request, _("Goal removed."))
    return redirect("insights:goals")
