"""Marketing's pages on the settings hub (`tandem.core.settings_pages`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.core.settings_pages import SettingsPage, settings_page_register


def register_settings_pages() -> None:
    settings_page_register(
        SettingsPage(
            url_name="marketing:social_connections",
            label=_("Social network connections"),
            description=_(
                "Credentials of VK, Odnoklassniki, Facebook, LinkedIn, YouTube and Telegram "
                "(stored encrypted), connection tests, statistics pulls"
            ),
            capability="manage_social",
        )
    )
