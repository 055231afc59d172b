"""Forms of the social pages: a post's fields and limits, marking a post published by hand, and
the statistics import.

The social services keep the rules (a campaign the user may see, a link that may not change once
published); their `InvalidInput` is shown on the same form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.marketing.social.models import Network
from tandem.marketing.validation import MAX_ID


class PostForm(forms.Form):
    network = forms.ChoiceField(choices=Network.choices)
    text = forms.CharField(max_length=5000, required=False)
    link_url = forms.CharField(max_length=2000, required=False)
    campaign_id = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    scheduled_at = forms.DateTimeField(required=False)


class MarkPublishedForm(forms.Form):
    url = forms.CharField(max_length=2000, required=False)
    external_id = forms.CharField(max_length=200, required=False)


class StatsImportForm(forms.Form):
    network = forms.ChoiceField(
        choices=Network.choices,
        error_messages={
            "required": _("Choose a network."),
            "invalid_choice": _("Choose a network."),
        },
    )


class ConnectionForm(forms.Form):
    """A network's connection. Blank secrets keep the stored ones; the service checks the rest
    (the account id's shape per network, which secrets a first connection needs)."""

    account_id = forms.CharField(label=_("Account, page or group id"), max_length=200)
    display_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    application_key = forms.CharField(
        label=_("Application key (public)"), max_length=200, required=False
    )
    token = forms.CharField(
        label=_("Access token"),
        max_length=2000,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
    )
    application_secret_key = forms.CharField(
        label=_("Application secret key"),
        max_length=200,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
    )
