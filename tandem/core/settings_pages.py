"""The settings hub: pages of other apps that the organisation settings page links to.

Core imports no domain app, so each app registers its settings pages in its `AppConfig.ready()`:

    settings_page_register(SettingsPage(url_name="sales:catalogue",
                                        label=_("Products and price lists"),
                                        description=_("..."), capability="manage_catalogue"))

Invariants: a page is listed only for a user holding its capability (`core.access.can`); a page
whose URL does not resolve is left out; registering the same URL name again replaces the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from tandem.core.access import can


@dataclass(frozen=True)
class SettingsPage:
    url_name: str
    label: Any  # a lazy translation
    description: Any
    capability: str


_pages: dict[str, SettingsPage] = {}


def settings_page_register(page: SettingsPage) -> None:
    _pages[page.url_name] = page


def settings_pages_for(user: object) -> list[dict[str, str]]:
    """The registered pages this user may open, by label: url, label and description."""
    found = []
    for page in _pages.values():
        if not can(user, page.capability):
            continue
        try:
            url = reverse(page.url_name)
        except NoReverseMatch:
            continue
        found.append({"url": url, "label": str(page.label), "description": str(page.description)})
    return sorted(found, key=lambda entry: entry["label"])
