"""Template filters of the insights pages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    """A share (0.1234) as a localised percentage ("12 %"); "—" when there is none."""
    if value is None:
        return "—"
    return f"{floatformat(100 * float(value), digits)} %"
