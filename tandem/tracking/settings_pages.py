"""Tracking's pages on the settings hub (`tandem.core.settings_pages`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.core.settings_pages import SettingsPage, settings_page_register


def register_settings_pages() -> None:
    settings_page_register(
        SettingsPage(
            url_name="tracking:setup",
            label=_("Tracking"),
            description=_("Sources and write keys, website forms, tracked links."),
            capability="manage_tracking",
        )
    )
    settings_page_register(
        SettingsPage(
            url_name="tracking:channel_rules",
            label=_("Channel rules"),
            description=_("Which channel and department each touchpoint counts for."),
            capability="manage_settings",
        )
    )
