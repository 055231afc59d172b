"""Forms of the tracking pages: the channel rules editor.

The rules arrive as a JSON list and are checked here for shape only; the channel rules service
checks each rule's fields and patterns.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class PublishForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)
    rules = forms.CharField(
        label=gettext_lazy("Rules (JSON list, first match wins)"),
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "Each rule: source_kind, utm_source, utm_medium, utm_campaign, referrer, "
            "event (regular expressions, empty matches anything), channel, department."
        ),
    )

    def clean_rules(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.cleaned_data["rules"])
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise forms.ValidationError(_("A list of rules is expected."))
        return value
