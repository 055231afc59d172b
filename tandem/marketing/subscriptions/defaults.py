"""The subscription types a fresh install starts with (created by migration 0007, and by the demo).

Names and descriptions are English msgids: pages show them through gettext
(`SubscriptionType.display_name`), so a Russian user reads «Рассылка» for "Newsletter".
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

DEFAULTS: list[dict[str, Any]] = [
    {
        "key": "newsletter",
        "name": gettext_noop("Newsletter"),
        "description": gettext_noop("Articles, guides and company news, about twice a month."),
        "wording": gettext_noop("Send me the newsletter. I can unsubscribe at any time."),
    },
    {
        "key": "product_news",
        "name": gettext_noop("Product news"),
        "description": gettext_noop("New features, releases and changes to the product."),
        "wording": gettext_noop("Tell me about product news. I can unsubscribe at any time."),
    },
    {
        "key": "events",
        "name": gettext_noop("Events and webinars"),
        "description": gettext_noop("Invitations to webinars, conferences and meetups."),
        "wording": gettext_noop("Invite me to events and webinars. I can unsubscribe at any time."),
    },
]


def ensure_defaults(model: Any) -> int:
    """Create the missing default types (by key; edited or archived ones are left as they are).

    `model` is `SubscriptionType` or the historical model of a migration; returns how many were
    created. Idempotent: the migration and the demo loader both call it."""
    created = 0
    for row in DEFAULTS:
        _obj, made = model.objects.get_or_create(
            key=row["key"],
            defaults={
                "name": row["name"],
                "description": row["description"],
                "wording": row["wording"],
                "wording_version": "1",
                "double_opt_in": True,
            },
        )
        created += int(made)
    return created
