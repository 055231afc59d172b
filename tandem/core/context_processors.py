"""Navigation by role, grouped by workspace: each user sees the workspaces that hold something
for their work (at most eight), each opening onto its pages; a workspace with one page for this
user is a plain link.

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
from django.utils.translation import pgettext_lazy

from tandem.core.access import can
from tandem.core.models import User

# The workspaces, in the order the bar shows them.
NAV_GROUPS: list[tuple[str, Any]] = [
    ("home", pgettext_lazy("workspace", "Home")),
    ("customers", pgettext_lazy("workspace", "Customers")),
    ("marketing", pgettext_lazy("workspace", "Marketing")),
    ("sales", pgettext_lazy("workspace", "Sales")),
    ("field", pgettext_lazy("workspace", "Field")),
    ("insights", pgettext_lazy("workspace", "Insights")),
    ("settings", pgettext_lazy("workspace", "Settings")),
]

# (workspace, url name, label, the capability that shows it: see core.access.CAPABILITIES)
NAV_ITEMS: list[tuple[str, str, Any, str]] = [
    ("home", "insights:home", _("Home"), "view_records"),
    ("customers", "crm:contact_list", _("Contacts"), "view_records"),
    ("customers", "crm:account_list", _("Accounts"), "view_records"),
    ("customers", "crm:duplicates", _("Duplicates"), "view_records"),
    ("customers", "imports:list", _("Imports"), "import_records"),
    ("marketing", "marketing:campaign_list", _("Campaigns"), "use_marketing"),
    ("marketing", "marketing:segment_list", _("Segments"), "use_marketing"),
    ("marketing", "marketing:template_list", _("Email"), "use_marketing"),
    ("marketing", "marketing:subscription_list", _("Subscriptions"), "use_marketing"),
    ("marketing", "marketing:event_list", _("Events"), "use_marketing"),
    ("marketing", "marketing:social_calendar", _("Social"), "use_marketing"),
    ("marketing", "automation:flows", _("Automation"), "view_automation"),
    ("marketing", "marketing:content_list", _("Content"), "read_content"),
    ("marketing", "enablement:value", _("Content value"), "manage_collateral"),
    ("marketing", "enablement:request_list", _("Content requests"), "manage_collateral"),
    ("marketing", "enablement:voice", _("Voice of the customer"), "manage_collateral"),
    ("sales", "leads:handoff_list", _("Hand-offs"), "use_handoffs"),
    ("sales", "sales:board", _("Pipeline"), "use_pipeline"),
    ("sales", "sales:forecast", _("Forecast"), "use_pipeline"),
    ("sales", "sales:tasks", _("My tasks"), "use_tasks"),
    ("sales", "enablement:library", _("Sales library"), "share_collateral"),
    ("sales", "enablement:joint_list", _("Joint touches"), "share_collateral"),
    ("field", "field:today", _("Today's visits"), "visit_accounts"),
    ("field", "field:calendar", _("Visit calendar"), "visit_accounts"),
    ("field", "field:routes", _("Day route"), "visit_accounts"),
    ("field", "field:overview", _("Field overview"), "view_field_overview"),
    ("field", "programmes:overview", _("Programmes"), "view_programmes"),
    ("field", "programmes:trainings", _("Trainings"), "view_programmes"),
    ("field", "programmes:trials", _("Field trials"), "view_programmes"),
    ("field", "programmes:loyalty", _("Loyalty"), "view_programmes"),
    ("field", "programmes:compliance", _("Medical compliance"), "manage_compliance"),
    ("insights", "insights:cockpit", _("Cockpit"), "view_records"),
    ("insights", "insights:process", _("Process"), "view_records"),
    ("insights", "attribution:page", _("Attribution"), "view_attribution"),
    ("insights", "leads:lead_quality", _("Lead quality"), "view_lead_quality"),
    ("insights", "leads:dispute_list", _("Disputes"), "use_handoffs"),
    ("insights", "insights:goals", _("Goals"), "manage_goals"),
    ("insights", "enablement:health", _("Marketing–sales loop"), "view_loop_health"),  # noqa: RUF001
    ("settings", "core:settings", _("Organisation"), "manage_settings"),
    ("settings", "core:people", _("Users and teams"), "manage_users"),
    ("settings", "leads:scoring_list", _("Lead scoring"), "manage_scoring"),
    ("settings", "tracking:setup", _("Tracking"), "manage_tracking"),
    ("settings", "tracking:channel_rules", _("Channel rules"), "manage_settings"),
    ("settings", "core:task_health", _("Background work"), "manage_background_work"),
    ("settings", "core:audit_log", _("Audit log"), "view_audit"),
    ("settings", "core:tokens", _("API tokens"), "use_api_tokens"),
]


class NavEntry(NamedTuple):
    group: str
    url: str
    label: str
    who: str


@cache
def _nav_entries(language: str, urlconf: str, script_prefix: str) -> tuple[NavEntry, ...]:
    """NAV_ITEMS with their URLs reversed and labels translated into `language`; items whose
    URL does not exist are left out. Keyed by everything the result depends on."""
    entries = []
    with translation.override(language):
        for group, name, label, who in NAV_ITEMS:
            try:
                url = reverse(name, urlconf=urlconf)
            except NoReverseMatch:
                continue
            entries.append(NavEntry(group, url, str(label), who))
    return tuple(entries)


@cache
def _group_labels(language: str) -> dict[str, str]:
    with translation.override(language):
        return {key: str(label) for key, label in NAV_GROUPS}


def navigation(request: HttpRequest) -> dict[str, Any]:
    """`nav_groups`: the workspaces this user sees, in order, each with its label, its items
    (url, label, active) and whether the current page is one of them."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"nav_groups": []}
    language = translation.get_language()
    entries = _nav_entries(language, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    labels = _group_labels(language)
    path = request.path
    items: dict[str, list[dict[str, Any]]] = {key: [] for key, _label in NAV_GROUPS}
    for group, url, label, who in entries:
        if can(user, who):
            active = path.startswith(url) and (url != "/" or path == "/")
            items[group].append({"url": url, "label": label, "active": active})
    return {
        "nav_groups": [
            {
                "key": key,
                "label": labels[key],
                "items": members,
                "active": any(item["active"] for item in members),
            }
            for key, members in items.items()
            if members
        ]
    }
