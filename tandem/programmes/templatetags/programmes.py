"""`{{ user|may:"capability" }}`: whether the user holds a capability (core.access.can)."""

from __future__ import annotations

from django import template

from tandem.core.access import can

register = template.Library()


@register.filter
def may(user: object, capability: str) -> bool:
    return can(user, capability)
