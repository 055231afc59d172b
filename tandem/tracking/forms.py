"""Forms of the tracking pages: sources, website forms (with their fields), tracked links and the
channel rules editor.

Each form states the fields, their limits and their errors once; the services check the
business rules again (a private link destination, a reused field name, an unknown channel)
and the views show those errors on the form (`core.forms.apply_invalid_input`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.labels import CHANNEL_LABELS
from tandem.core.models import Department
from tandem.tracking.channels import CHANNELS, pattern_problem
from tandem.tracking.consent import consent_purposes
from tandem.tracking.forms_service import FIELD_TYPES
from tandem.tracking.models import Source

# --- sources ----------------------------------------------------------------------------------


class SourceForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=Source.Kind.choices, initial=Source.Kind.WEBSITE
    )


# --- website forms ----------------------------------------------------------------------------


class SourceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class WebsiteFormForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    source = SourceChoiceField(
        label=gettext_lazy("Placed on (source)"),
        queryset=Source.objects.filter(revoked_at__isnull=True),
        required=False,
        empty_label=gettext_lazy("Not said"),
    )
    consent_purpose = forms.CharField(
        label=gettext_lazy("Consent asked for"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("The subscription people agree to; empty: the form asks none."),
    )
    consent_wording = forms.CharField(
        label=gettext_lazy("Consent wording"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The words next to the consent box, kept with every agreement."),
    )
    consent_version = forms.CharField(
        label=gettext_lazy("Wording version"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("Raised by one when the wording changes and this stays the same."),
    )
    double_opt_in = forms.BooleanField(
        label=gettext_lazy("Confirm by email (double opt-in)"), required=False, initial=True
    )
    campaign = forms.CharField(label=gettext_lazy("Campaign"), max_length=200, required=False)
    success_message = forms.CharField(
        label=gettext_lazy("Message after sending"), max_length=300, required=False
    )
    redirect_url = forms.CharField(
        label=gettext_lazy("Page after sending"),
        max_length=2000,
        required=False,
        help_text=gettext_lazy("An http or https address; empty: the message is shown."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        provider = consent_purposes()
        if provider is not None:
            choices = [("", _("No consent asked")), *provider.choices()]
            current = self.initial.get("consent_purpose")
            if current and current not in dict(choices):
                choices.append((current, current))  # an archived purpose stays selectable
            self.fields["consent_purpose"] = forms.ChoiceField(
                label=self.fields["consent_purpose"].label,
                help_text=self.fields["consent_purpose"].help_text,
                choices=choices,
                required=False,
            )


class FormFieldForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Field name"),
        max_length=50,
        help_text=gettext_lazy("Lower-case letters, digits and _ (first_name, company)."),
    )
    label = forms.CharField(label=gettext_lazy("Label"), max_length=200, required=False)
    type = forms.ChoiceField(
        label=gettext_lazy("Type"),
        choices=[(t, t) for t in sorted(FIELD_TYPES)],
        initial="text",
    )
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)


FormFieldFormSet = forms.formset_factory(
    FormFieldForm, extra=2, can_delete=True, max_num=30, validate_max=True
)


def form_field_rows(formset: Any) -> list[dict[str, Any]]:
    """The fields a valid formset keeps, in order (blank extra rows and deleted ones left out)."""
    return [
        {k: v for k, v in row.items() if k != "DELETE"}
        for row in formset.cleaned_data
        if row and not row.get("DELETE")
    ]


# --- tracked links ----------------------------------------------------------------------------


class TrackedLinkForm(forms.Form):
    destination = forms.CharField(
        label=gettext_lazy("Destination"),
        max_length=2000,
        help_text=gettext_lazy("The http or https address visitors are sent to."),
    )
    utm_source = forms.CharField(label="utm_source", max_length=100, required=False)
    utm_medium = forms.CharField(label="utm_medium", max_length=100, required=False)
    utm_campaign = forms.CharField(label="utm_campaign", max_length=100, required=False)
    utm_content = forms.CharField(label="utm_content", max_length=100, required=False)
    utm_term = forms.CharField(label="utm_term", max_length=100, required=False)


# --- channel rules ----------------------------------------------------------------------------

PATTERN_HELP = gettext_lazy("A regular expression, case-insensitive; empty matches anything.")


def _check_pattern(value: str) -> str:
    problem = pattern_problem(value) if value else ""
    if problem:
        raise forms.ValidationError(problem)
    return value


class ChannelRuleForm(forms.Form):
    """One rule: every condition that is filled in must match; then channel and department."""

    source_kind = forms.CharField(label=gettext_lazy("Source kind"), max_length=100, required=False)
    utm_source = forms.CharField(label="utm_source", max_length=300, required=False)
    utm_medium = forms.CharField(label="utm_medium", max_length=300, required=False)
    utm_campaign = forms.CharField(label="utm_campaign", max_length=300, required=False)
    referrer = forms.CharField(label=gettext_lazy("Referrer host"), max_length=300, required=False)
    event = forms.CharField(label=gettext_lazy("Event"), max_length=300, required=False)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=[(c, CHANNEL_LABELS.get(c, c)) for c in CHANNELS]
    )
    department = forms.ChoiceField(label=gettext_lazy("Department"), choices=Department.choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in (
            "source_kind",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "referrer",
            "event",
        ):
            value = data.get(name)
            if value:
                try:
                    _check_pattern(value)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return data


ChannelRuleFormSet = forms.formset_factory(
    ChannelRuleForm, extra=1, can_delete=True, max_num=500, validate_max=True
)


class RulesActionForm(forms.Form):
    """What the editor's buttons ask for: preview, publish, or move one row up or down."""

    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)
    action = forms.ChoiceField(
        choices=[("preview", "preview"), ("publish", "publish")], required=False
    )
    move = forms.RegexField(regex=r"^(up|down)-\d{1,4}$", required=False)


def rule_rows(formset: Any) -> list[tuple[int, dict[str, str]]]:
    """(form index, rule) of the rules a valid formset keeps, in order."""
    return [
        (index, {k: str(v or "") for k, v in row.items() if k != "DELETE"})
        for index, row in enumerate(formset.cleaned_data)
        if row and not row.get("DELETE")
    ]
