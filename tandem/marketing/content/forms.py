"""Forms of the content library pages: an asset's fields and limits, and archiving.

The content services keep the rules (a key in use, a campaign the user may see, a URL that may
not change once the tracked link exists); their `InvalidInput` is shown on the same form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.marketing.content.models import AssetKind
from tandem.marketing.validation import MAX_ID


class AssetForm(forms.Form):
    kind = forms.ChoiceField(choices=AssetKind.choices)
    title = forms.CharField(max_length=200, required=False)
    key = forms.CharField(max_length=100, required=False)
    url = forms.CharField(max_length=2000, required=False)
    description = forms.CharField(max_length=1000, required=False)
    campaign_id = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class ArchiveForm(forms.Form):
    """archived=1 archives the asset (the default), archived=0 brings it back."""

    archived = forms.ChoiceField(choices=[("1", _("Archive")), ("0", _("Restore"))], required=False)

    def archive(self) -> bool:
        return bool(self.cleaned_data.get("archived") != "0")
