"""Sales' pages on the settings hub (`tandem.core.settings_pages`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.core.settings_pages import SettingsPage, settings_page_register


def register_settings_pages() -> None:
    settings_page_register(
        SettingsPage(
            url_name="sales:catalogue",
            label=_("Products and price lists"),
            description=_(
                "What deals, quotes and the online price request sell: prices, tax, dates"
            ),
            capability="manage_catalogue",
        )
    )
    settings_page_register(
        SettingsPage(
            url_name="sales:pipeline_settings",
            label=_("Pipelines"),
            description=_("The stages deals move through, their win probability and forecast"),
            capability="manage_catalogue",
        )
    )
