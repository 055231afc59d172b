"""Forms of the email pages: a template (with an optional test copy) and a send (saved, started,
previewed or test-sent).

The email services keep the rules (a template that renders in the sandbox, an A/B test with
something to compare, a sender address); their `InvalidInput` is shown with the same form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.marketing.email.models import EmailSend
from tandem.marketing.validation import MAX_ID

MAX_HTML = 500_000  # characters of a template's HTML


def _record(message: Any, *, required: bool = True) -> forms.IntegerField:
    """A record's id from a select; every way of getting it wrong says `message`."""
    errors = {"required": message, "invalid": message, "min_value": message, "max_value": message}
    return forms.IntegerField(
        min_value=1, max_value=MAX_ID, required=required, error_messages=errors
    )


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    subject = forms.CharField(max_length=300, required=False)
    html = forms.CharField(max_length=MAX_HTML, required=False, strip=False)
    test_to = forms.EmailField(max_length=254, required=False)


class SendForm(forms.Form):
    """Which button was pressed: `start` (save and start), `preview`, `test`, else save."""

    name = forms.CharField(max_length=200, required=False)
    template = _record(_("Choose a template."))
    template_b = _record(_("Choose a template."), required=False)
    segment = _record(_("Choose a segment."), required=False)
    subscription_type = _record(_("Choose a subscription type."), required=False)
    from_name = forms.CharField(max_length=100, required=False)
    from_email = forms.CharField(max_length=254, required=False)
    subject_b = forms.CharField(max_length=300, required=False)
    ab_test_percent = forms.IntegerField(min_value=0, max_value=100, required=False)
    ab_winner_rule = forms.ChoiceField(choices=EmailSend.WinnerRule.choices, required=False)
    ab_wait_minutes = forms.IntegerField(min_value=1, max_value=60 * 24 * 30, required=False)
    test_to = forms.EmailField(max_length=254, required=False)
    preview = forms.CharField(max_length=20, required=False)
    test = forms.CharField(max_length=20, required=False)
    start = forms.CharField(max_length=20, required=False)
