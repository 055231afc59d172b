"""Leads' pages on the settings hub (`tandem.core.settings_pages`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.core.settings_pages import SettingsPage, settings_page_register


def register_settings_pages() -> None:
    settings_page_register(
        SettingsPage(
            url_name="leads:routing",
            label=_("Lead routing and hand-off agreement"),
            description=_("Territories, rep capacity, the hand-off SLA and MQL targets"),
            capability="manage_lead_routing",
        )
    )
