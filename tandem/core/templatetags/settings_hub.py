"""`{% settings_pages as pages %}`: the settings pages other apps registered that the signed-in
user may open (see `tandem.core.settings_pages`)."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.core.settings_pages import settings_pages_for

register = template.Library()


@register.simple_tag(takes_context=True)
def settings_pages(context: Any) -> list[dict[str, str]]:
    request = context.get("request")
    return settings_pages_for(getattr(request, "user", None))
