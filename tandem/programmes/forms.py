"""The forms of the programmes pages: each states its fields, limits and errors once."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.programmes.models import (
    CapPeriod,
    EarnSource,
    Nature,
    PlotArm,
    RecipientKind,
    RewardKind,
    RuleEffect,
    SessionMode,
)

DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
COUNTRY = forms.RegexField(
    regex=r"^[A-Za-z]{2}$",
    label=_("country (ISO code)"),
    max_length=2,
    error_messages={"invalid": _("Enter a two-letter country code (ISO 3166).")},
)


def _blank(choices: object) -> list[tuple[str, object]]:
    return [("", "—"), *choices]  # type: ignore[misc]


class CurriculumForm(forms.Form):
    product = forms.IntegerField(label=_("product"), widget=forms.Select)
    name = forms.CharField(label=_("name"), max_length=200)
    modules = forms.CharField(
        label=_("modules (one a line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    pass_mark = forms.IntegerField(label=_("pass mark (%)"), min_value=0, max_value=100, initial=70)
    valid_months = forms.IntegerField(
        label=_("certificate valid for (months)"), min_value=1, max_value=120, initial=24
    )

    def __init__(self, *args: object, products: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["product"].widget.choices = products


class SessionForm(forms.Form):
    curriculum = forms.IntegerField(label=_("curriculum"), widget=forms.Select)
    mode = forms.ChoiceField(label=_("mode"), choices=SessionMode.choices)
    starts_at = forms.DateTimeField(label=_("starts"), widget=DATETIME)
    ends_at = forms.DateTimeField(label=_("ends"), widget=DATETIME)
    location = forms.CharField(label=_("place or link"), max_length=300, required=False)
    host_account = forms.IntegerField(
        label=_("host account id (on site)"), required=False, min_value=1
    )
    capacity = forms.IntegerField(label=_("capacity"), min_value=1, max_value=10000, initial=20)

    def __init__(self, *args: object, curricula: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["curriculum"].widget.choices = curricula


class AttendeeForm(forms.Form):
    contact = forms.IntegerField(label=_("contact id"), min_value=1)


class AssessmentForm(forms.Form):
    score = forms.IntegerField(label=_("assessment (%)"), min_value=0, max_value=100)


class TrialForm(forms.Form):
    account = forms.IntegerField(label=_("farm (account id)"), min_value=1)
    product = forms.IntegerField(label=_("product"), widget=forms.Select)
    crop = forms.CharField(label=_("crop"), max_length=100)
    season = forms.IntegerField(label=_("season (year)"), min_value=1990, max_value=2100)
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: object, products: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["product"].widget.choices = products


class PlotForm(forms.Form):
    arm = forms.ChoiceField(label=_("arm"), choices=PlotArm.choices)
    area_ha = forms.DecimalField(
        label=_("area (ha)"), min_value=0.001, max_digits=10, decimal_places=3
    )
    sown_on = forms.DateField(label=_("sown"), widget=DATE)
    harvested_on = forms.DateField(label=_("harvested"), required=False, widget=DATE)
    yield_t = forms.DecimalField(
        label=_("yield (t)"), required=False, min_value=0, max_digits=12, decimal_places=3
    )


class HarvestForm(forms.Form):
    harvested_on = forms.DateField(label=_("harvested"), widget=DATE)
    yield_t = forms.DecimalField(label=_("yield (t)"), min_value=0, max_digits=12, decimal_places=3)


class ProgrammeForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", label=_("currency"), max_length=3, initial="EUR"
    )
    points_valid_months = forms.IntegerField(
        label=_("points expire after (months)"), min_value=1, max_value=120, initial=24
    )
    tier_window_months = forms.IntegerField(
        label=_("tiers count points of the last (months)"), min_value=1, max_value=60, initial=12
    )


class EarningRuleForm(forms.Form):
    source = forms.ChoiceField(label=_("earns for"), choices=EarnSource.choices)
    points = forms.IntegerField(
        label=_("points (per event, or per currency unit of a purchase)"),
        min_value=1,
        max_value=1_000_000,
    )
    cap_points = forms.IntegerField(label=_("cap (points per period)"), required=False, min_value=1)
    cap_period = forms.ChoiceField(
        label=_("cap period"), choices=CapPeriod.choices, initial=CapPeriod.YEAR
    )


class TierForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    threshold = forms.IntegerField(label=_("points earned to reach"), min_value=0)
    valid_months = forms.IntegerField(
        label=_("kept for (months) once reached"), min_value=1, max_value=60, initial=12
    )


class RewardForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    kind = forms.ChoiceField(label=_("kind"), choices=RewardKind.choices)
    nature = forms.ChoiceField(label=_("nature of the benefit"), choices=Nature.choices)
    points_cost = forms.IntegerField(label=_("points (per traveller for a trip)"), min_value=1)
    unit_cost = forms.DecimalField(
        label=_("cost to us (per traveller)"),
        min_value=0,
        max_digits=12,
        decimal_places=2,
        initial=0,
    )
    destination = forms.CharField(label=_("destination"), max_length=200, required=False)
    starts_on = forms.DateField(label=_("from"), required=False, widget=DATE)
    ends_on = forms.DateField(label=_("until"), required=False, widget=DATE)
    capacity = forms.IntegerField(label=_("places (travellers)"), required=False, min_value=1)


class EnrolForm(forms.Form):
    account = forms.IntegerField(label=_("account id"), min_value=1)
    country = COUNTRY


class RedeemForm(forms.Form):
    reward = forms.IntegerField(label=_("reward"), widget=forms.Select)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, max_value=1000, initial=1)
    travellers = forms.CharField(
        label=_("travellers (contact ids, comma-separated)"), required=False, max_length=500
    )

    def __init__(self, *args: object, rewards: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["reward"].widget.choices = rewards

    def clean_travellers(self) -> list[int]:
        raw = self.cleaned_data.get("travellers") or ""
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError as exc:
            raise forms.ValidationError(_("Enter contact ids separated by commas.")) from exc


class ReferralForm(forms.Form):
    account = forms.IntegerField(label=_("referred account (id)"), min_value=1)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=300)


class RuleForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    country = COUNTRY
    effect = forms.ChoiceField(label=_("effect"), choices=RuleEffect.choices)
    nature = forms.ChoiceField(
        label=_("nature (blank: every kind)"), choices=_blank(Nature.choices), required=False
    )
    recipient_kind = forms.ChoiceField(
        label=_("recipient (blank: both)"), choices=_blank(RecipientKind.choices), required=False
    )
    reference = forms.CharField(label=_("legal reference"), max_length=300, required=False)


class TransferForm(forms.Form):
    account = forms.IntegerField(label=_("organisation (account id)"), min_value=1)
    contact = forms.IntegerField(
        label=_("professional (contact id; blank: the organisation)"), required=False, min_value=1
    )
    country = COUNTRY
    nature = forms.ChoiceField(label=_("nature"), choices=Nature.choices)
    value = forms.DecimalField(label=_("value"), min_value=0, max_digits=12, decimal_places=2)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", label=_("currency"), max_length=3)
    occurred_on = forms.DateField(label=_("date"), widget=DATE)
    description = forms.CharField(label=_("description"), max_length=300, required=False)
