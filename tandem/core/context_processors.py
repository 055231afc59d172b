"""Navigation by role: each user sees the sections that exist for their work.

The items' URLs and labels are the same for every request in one language, so they are worked
out once per process (`_nav_entries`); who sees which item is decided on every request, from
the user as they are now.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation
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


class NavEntry(NamedTuple):
    url: str
    label: str
    who: str | set[str]


@cache
def _nav_entries(language: str, urlconf: str, script_prefix: str) -> tuple[NavEntry, ...]:
    """NAV_ITEMS with their URLs reversed and labels translated into `language`; items whose
    URL does not exist are left out. Keyed by everything the result depends on."""
    entries = []
    with translation.override(language):
        for name, label, who in NAV_ITEMS:
            try:
                url = reverse(name, urlconf=urlconf)
            except NoReverseMatch:
                continue
            entries.append(NavEntry(url, str(label), who))
    return tuple(entries)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"nav_items": []}
    entries = _nav_entries(
        translation.get_language(),
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
    )
    path = request.path
    return {
        "nav_items": [
            {
                "url": url,
                "label": label,
                "active": path.startswith(url) and (url != "/" or path == "/"),
            }
            for url, label, who in entries
            if (can(user, who) if isinstance(who, str) else user.role in who)
        ]
    }
