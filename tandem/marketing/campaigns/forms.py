"""Forms of the campaign pages: the fields each POST carries and their limits.

The campaign services keep the rules that need the database or other fields (a code in use, an
owner in marketing, an end before the start, an amount's range); their `InvalidInput` is shown on
the same form (`core.forms.apply_invalid_input`), so a page answers bad input with its form and
400, never a 500.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.marketing.campaigns.models import CampaignChannel
from tandem.marketing.validation import MAX_ID

MAX_UPLOAD = 10 * 1024 * 1024


class CampaignForm(forms.Form):
    name = forms.CharField(
        max_length=200, error_messages={"required": _("A campaign needs a name.")}
    )
    goal = forms.CharField(max_length=500, required=False)
    channels = forms.MultipleChoiceField(choices=CampaignChannel.choices, required=False)
    # Amounts are read by the service ("1 000,50" too), which states their range.
    budget = forms.CharField(max_length=40, required=False)
    starts_on = forms.DateField(required=False)
    ends_on = forms.DateField(required=False)
    owner_id = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    utm_code = forms.CharField(max_length=100, required=False)

    def values(self) -> dict[str, Any]:
        """What the page shows in its fields: the typed values, cleaned where they are valid."""
        out: dict[str, Any] = {name: self[name].value() for name in self.fields}
        cleaned = getattr(self, "cleaned_data", {})
        if cleaned.get("owner_id") is not None:
            out["owner_id"] = cleaned["owner_id"]
        return out


class CostForm(forms.Form):
    channel = forms.ChoiceField(choices=CampaignChannel.choices)
    amount = forms.CharField(
        max_length=40, error_messages={"required": _("A cost needs an amount.")}
    )
    incurred_on = forms.DateField(error_messages={"required": _("A cost needs a date.")})
    note = forms.CharField(max_length=300, required=False)


class CsvUploadForm(forms.Form):
    file = forms.FileField(error_messages={"required": _("Choose a CSV file.")})

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload

    def content(self) -> bytes:
        data: bytes = self.cleaned_data["file"].read(MAX_UPLOAD + 1)
        return data
