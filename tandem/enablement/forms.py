"""Forms of the enablement pages: they state the fields and their limits; services hold the rules
(expiry, who may answer, which status may follow which) and their InvalidInput is shown on the
same form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Industry
from tandem.enablement.models import (
    AssetKind,
    JointKind,
    Language,
    Persona,
    RatingReason,
    RequestStatus,
    SalesStage,
    SourceKind,
    ThemeKind,
)

MAX_ID = 2**31 - 1


def _blank(choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class AssetForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=AssetKind.choices)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    description = forms.CharField(
        label=_("Description"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    product = forms.CharField(label=_("Product"), max_length=120, required=False)
    industry = forms.ChoiceField(
        label=_("Industry"), choices=_blank(Industry.choices), required=False
    )
    stage = forms.ChoiceField(label=_("Stage"), choices=_blank(SalesStage.choices), required=False)
    persona = forms.ChoiceField(label=_("Persona"), choices=_blank(Persona.choices), required=False)
    expires_on = forms.DateField(
        label=_("Expires on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class AssetNewForm(AssetForm):
    key = forms.SlugField(label=_("Key"), max_length=100, required=False)
    url = forms.URLField(label=_("File address"), max_length=2000, assume_scheme="https")
    pages = forms.IntegerField(label=_("Pages"), min_value=1, max_value=500, initial=1)


class VersionForm(forms.Form):
    url = forms.URLField(label=_("File address"), max_length=2000, assume_scheme="https")
    pages = forms.IntegerField(label=_("Pages"), min_value=1, max_value=500, initial=1)
    note = forms.CharField(label=_("What changed"), max_length=300, required=False)


class ShareForm(forms.Form):
    contact_id = forms.IntegerField(label=_("Contact"), min_value=1, max_value=MAX_ID)


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("Stars"), coerce=int, choices=[(i, "★" * i) for i in range(5, 0, -1)]
    )
    reasons = forms.MultipleChoiceField(
        label=_("Why"),
        choices=RatingReason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)


class RequestForm(forms.Form):
    title = forms.CharField(label=_("What is needed"), max_length=200)
    detail = forms.CharField(
        label=_("Detail"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=_blank(AssetKind.choices), required=False)
    industry = forms.ChoiceField(
        label=_("Industry"), choices=_blank(Industry.choices), required=False
    )


class RequestMoveForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"),
        choices=[c for c in RequestStatus.choices if c[0] != RequestStatus.NEW],
    )
    due_on = forms.DateField(
        label=_("Due on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    asset_id = forms.IntegerField(
        label=_("Delivered asset"), min_value=1, max_value=MAX_ID, required=False
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ThemeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ThemeKind.choices)
    name = forms.CharField(label=_("Name"), max_length=120)
    keywords = forms.CharField(
        label=_("Keywords (English and Russian, comma-separated)"), max_length=1000, required=False
    )


class AnswerForm(forms.Form):
    asset_ids = forms.TypedMultipleChoiceField(
        label=_("Answered by"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, assets: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["asset_ids"].choices = assets  # type: ignore[attr-defined]


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", _("Confirm")), ("reject", _("Reject"))])


class TagForm(forms.Form):
    theme_id = forms.IntegerField(min_value=1, max_value=MAX_ID)
    source_kind = forms.ChoiceField(label=_("Source"), choices=SourceKind.choices)
    source_id = forms.IntegerField(label=_("Source id"), min_value=1, max_value=2**62)


class JointRequestForm(forms.Form):
    account_id = forms.IntegerField(label=_("Account"), min_value=1, max_value=MAX_ID)
    kind = forms.ChoiceField(label=_("Kind"), choices=JointKind.choices)
    planned_at = forms.DateTimeField(
        label=_("When"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=300, required=False)


class JointAnswerForm(forms.Form):
    answer = forms.ChoiceField(
        choices=[("accept", _("Accept")), ("decline", _("Decline")), ("done", _("It happened"))]
    )
    note = forms.CharField(
        label=_("What you learned"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class InsightForm(forms.Form):
    account_id = forms.IntegerField(label=_("Account"), min_value=1, max_value=MAX_ID)
    text = forms.CharField(
        label=_("What you learned"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class PingForm(forms.Form):
    visit = forms.CharField(max_length=40)
    page = forms.IntegerField(min_value=1, max_value=500)
    seconds = forms.IntegerField(min_value=1, max_value=3600)
