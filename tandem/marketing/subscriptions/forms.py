"""Forms of the subscription pages: the subscription-type form marketers fill in, and the two
public forms a recipient posts (unsubscribe, preference centre).

The subscription services keep the rules (a key in use is fixed, the wording's version); their
`InvalidInput` is shown on the same form. The public forms accept only what the page offered:
anything else is a 400 with the form, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.marketing.subscriptions.models import SubscriptionType


class SubscriptionTypeForm(forms.Form):
    key = forms.CharField(max_length=50, required=False)
    name = forms.CharField(max_length=100, required=False)
    description = forms.CharField(max_length=300, required=False)
    wording = forms.CharField(max_length=5000, required=False)
    wording_version = forms.CharField(max_length=40, required=False)
    double_opt_in = forms.BooleanField(required=False)
    active = forms.BooleanField(required=False)


class UnsubscribeForm(forms.Form):
    """The unsubscribe page's button, or a mail client's RFC 8058 one-click POST (its body is
    `List-Unsubscribe=One-Click`, a field name Python cannot declare)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["List-Unsubscribe"] = forms.CharField(max_length=20, required=False)

    def one_click(self) -> bool:
        return bool(self.cleaned_data.get("List-Unsubscribe") == "One-Click")


class PreferencesForm(forms.Form):
    """The preference centre: the subscription types offered to this recipient, ticked or not;
    `all=off` (the "Unsubscribe from everything" button) withdraws every one."""

    subscriptions = forms.MultipleChoiceField(required=False)
    all = forms.ChoiceField(choices=[("off", _("Unsubscribe from everything"))], required=False)

    def __init__(self, *args: object, offered: Iterable[SubscriptionType], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["subscriptions"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(t.key, t.display_name) for t in offered]

    def wanted(self) -> set[str]:
        if self.cleaned_data.get("all") == "off":
            return set()
        return set(self.cleaned_data.get("subscriptions") or [])
