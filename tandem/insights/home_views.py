"""Each role's home page (the head's is the cockpit, see `views.home`): the numbers come from
`tandem.insights.homes`, the same the API's `GET /api/v1/insights/home` gives; every number
links to the list or record behind it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tandem.core.access import can, request_user, scoped
from tandem.core.models import Role
from tandem.core.paging import capped_count
from tandem.crm.models import Account, Contact
from tandem.insights import homes
from tandem.insights.selectors import GoalProgress

TEMPLATES: dict[str, str] = {
    Role.MARKETER: "insights/home_marketer.html",
    Role.SALES_REP: "insights/home_sales_rep.html",
    Role.FIELD_REP: "insights/home_field_rep.html",
    Role.ADMIN: "insights/home_admin.html",
}


def _goal_label(p: GoalProgress, viewer_id: int) -> str:
    goal = p.goal
    if goal.user_id is not None:
        return _("Your quota") if goal.user_id == viewer_id else str(goal.user)
    owner = str(goal.team) if goal.team_id else _("Joint")
    return f"{goal.get_kind_display()} · {owner}"


def charts(home: homes.Home) -> dict[str, Any]:
    """The charts' data (drawn by insights/home.js with ECharts): the same numbers as the
    tables beside them and as the API."""
    out: list[dict[str, Any]] = [
        {
            "id": "chart-goals",
            "percent": True,
            "categories": [_goal_label(p, home.user.pk) for p in home.goals],
            "series": [
                {
                    "name": _("Achieved of target"),
                    "data": [
                        {
                            "value": p.share,
                            "goal": p.goal.pk,
                            "actual": float(p.actual),
                            "target": float(p.goal.target),
                        }
                        for p in home.goals
                    ],
                }
            ],
        }
    ]
    if isinstance(home, homes.MarketerHome):
        reasons = home.reasons
        out.append(
            {
                "id": "chart-reasons",
                "categories": [label for _code, label, _n in reasons],
                "series": [
                    {
                        "name": _("Rejected"),
                        "data": [{"value": n, "reason": code} for code, _l, n in reasons],
                    }
                ],
            }
        )
    if isinstance(home, homes.RepHome):
        out.append(
            {
                "id": "chart-stages",
                "categories": [s.name for s in home.stages],
                "series": [
                    {
                        "name": _("Open deals"),
                        "data": [{"value": s.deals, "stage": s.stage_id} for s in home.stages],
                    }
                ],
            }
        )
    if isinstance(home, homes.AdminHome):
        labels = dict(Role.choices)
        roles = sorted(home.roles.items())
        out.append(
            {
                "id": "chart-roles",
                "categories": [str(labels.get(role, role)) for role, _n in roles],
                "series": [
                    {
                        "name": _("Active users"),
                        "data": [{"value": n, "role": role} for role, n in roles],
                    }
                ],
            }
        )
    return {"charts": out}


def role_home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    home = homes.home_for(user)
    contacts, contacts_more = capped_count(scoped(user, Contact))
    accounts, accounts_more = capped_count(scoped(user, Account))
    return render(
        request,
        TEMPLATES[user.role],
        {
            "home": home,
            "goals": home.goals,
            "complete": user.sees_everything,
            "chart": charts(home),
            "can_lead_quality": can(user, "view_lead_quality"),
            "contacts_count": contacts,
            "contacts_more": contacts_more,
            "accounts_count": accounts,
            "accounts_more": accounts_more,
        },
    )
