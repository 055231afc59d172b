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

# (url name, label, the capability that shows it: see core.access.CAPABILITIES)
NAV_ITEMS: list[tuple[str, Any, str]] = [
    ("insights:home", _("Home"), "view_records"),
    ("crm:contact_list", _("Contacts"), "view_records"),
    ("crm:account_list", _("Accounts"), "view_records"),
    ("crm:duplicates", _("Duplicates"), "view_records"),
    ("leads:handoff_list", _("Hand-offs"), "use_handoffs"),
    ("leads:dispute_list", _("Disputes"), "use_handoffs"),
    ("leads:lead_quality", _("Lead quality"), "view_lead_quality"),
    ("leads:scoring_list", _("Lead scoring"), "manage_scoring"),
    ("sales:board", _("Pipeline"), "use_pipeline"),
    ("sales:forecast", _("Forecast"), "use_pipeline"),
    ("sales:tasks", _("My tasks"), "use_tasks"),
    ("attribution:page", _("Attribution"), "view_attribution"),
    ("marketing:segment_list", _("Segments"), "use_marketing"),
    ("marketing:template_list", _("Email"), "use_marketing"),
    ("marketing:subscription_list", _("Subscriptions"), "use_marketing"),
    ("marketing:campaign_list", _("Campaigns"), "use_marketing"),
    ("marketing:event_list", _("Events"), "use_marketing"),
    ("marketing:social_calendar", _("Social"), "use_marketing"),
    ("imports:list", _("Imports"), "import_records"),
    ("marketing:content_list", _("Content"), "read_content"),
    ("insights:cockpit", _("Cockpit"), "view_records"),
    ("insights:goals", _("Goals"), "manage_goals"),
    ("core:task_health", _("Background work"), "manage_background_work"),
    ("core:audit_log", _("Audit log"), "view_audit"),
    ("core:settings", _("Settings"), "manage_settings"),
    ("core:people", _("Users and teams"), "manage_users"),
    ("tracking:setup", _("Tracking"), "manage_tracking"),
    ("tracking:channel_rules", _("Channel rules"), "manage_settings"),
    ("core:tokens", _("API tokens"), "use_api_tokens"),
]


class NavEntry(NamedTuple):
    url: str
    label: str
    who: str


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
            if can(user, who)
        ]
    }
