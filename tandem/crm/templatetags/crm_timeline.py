"""What a timeline row (`crm/_touchpoint.html`) says besides its kind: for a stage change, the
stage it left and the stage it went to ("Lead → Marketing qualified lead").

Invariants: lifecycle stages are shown by their translated labels (`LifecycleStage`), deal stages
by their names as stored (`from`/`to` in the properties); a row whose properties lack a stage
shows nothing rather than failing.
"""

from __future__ import annotations

from typing import Any

from django import template

from tandem.crm.models import LifecycleStage

register = template.Library()


def _stage_label(value: Any) -> str:
    key = str(value or "")
    if key in LifecycleStage.values:
        return str(LifecycleStage(key).label)
    return key


@register.filter
def stage_change(touchpoint: Any) -> str:
    """ "From → To" for a lifecycle or deal stage change; "" for any other row."""
    properties = touchpoint.properties if isinstance(touchpoint.properties, dict) else {}
    before, after = properties.get("from"), properties.get("to")
    if touchpoint.kind == "lifecycle_stage_changed":
        before, after = _stage_label(before), _stage_label(after)
    elif touchpoint.kind != "deal_stage_changed":
        return ""
    if not after:
        return ""
    return f"{before} → {after}" if before else f"→ {after}"
