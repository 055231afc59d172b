"""Navigation by role: each user sees the sections that exist for their work."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from tandem.core.access import can
from tandem.core.models import User

# (url name, label, who sees it: a set of roles, or a capability string)
NAV_ITEMS: list[tuple[str, Any, str | set[str]]] = [
    ("core:home", _("Home"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("crm:contact_list", _("Contacts"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("crm:account_list", _("Accounts"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("crm:duplicates", _("Duplicates"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("leads:handoff_list", _("Hand-offs"), {"head", "admin", "marketer", "sales_rep"}),
    ("leads:dispute_list", _("Disputes"), {"head", "admin", "marketer", "sales_rep"}),
    ("leads:lead_quality", _("Lead quality"), {"head", "admin", "marketer"}),
    ("sales:board", _("Pipeline"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("sales:forecast", _("Forecast"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("sales:tasks", _("My tasks"), {"head", "admin", "sales_rep", "field_rep"}),
    ("attribution:page", _("Attribution"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
    ("marketing:segment_list", _("Segments"), {"head", "admin", "marketer"}),
    ("marketing:template_list", _("Email"), {"head", "admin", "marketer"}),
    ("marketing:subscription_list", _("Subscriptions"), {"head", "admin", "marketer"}),
    ("marketing:campaign_list", _("Campaigns"), {"head", "admin", "marketer"}),
    ("marketing:event_list", _("Events"), {"head", "admin", "marketer"}),
    ("marketing:social_calendar", _("Social"), {"head", "admin", "marketer"}),
    ("imports:list", _("Imports"), {"head", "admin", "marketer"}),
    (
        "marketing:content_list",
        _("Content"),
        {"head", "admin", "marketer", "sales_rep", "field_rep"},
    ),
    ("core:audit_log", _("Audit log"), "view_audit"),
    ("core:settings", _("Settings"), "manage_settings"),
    ("tracking:channel_rules", _("Channel rules"), "manage_settings"),
    ("core:tokens", _("API tokens"), {"head", "admin", "marketer", "sales_rep", "field_rep"}),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for name, label, who in NAV_ITEMS:
        allowed = can(user, who) if isinstance(who, str) else user.role in who
        if not allowed:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append(
            {
                "url": url,
                "label": label,
                "active": request.path.startswith(url) and (url != "/" or request.path == "/"),
            }
        )
    return {"nav_items": items}
