"""The forms of the programmes pages: each states its fields, limits and errors once.

Invariants:
- nobody types an id: accounts and people are picked by name (`core.pickers.SearchPickField`,
  suggestions from crm's pickers), products, curricula and rewards from a list;
- every picker's queryset is the viewer's scope (`core.access.scoped`), set by the form from
  its `user`: a record outside it is refused with a form error, never looked up again;
- a valid form's cleaned data holds the records themselves (`PickingForm`), not their ids.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.core.pickers import SearchPickField
from tandem.crm.models import Account, Contact
from tandem.crm.selectors import account_pick_label, contact_pick_label
from tandem.programmes.models import (
    CapPeriod,
    Curriculum,
    EarnSource,
    LoyaltyProgramme,
    Nature,
    PlotArm,
    RecipientKind,
    Reward,
    RewardKind,
    RuleEffect,
    SessionMode,
)
from tandem.sales.models import Product

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


def account_picker(**kwargs: Any) -> SearchPickField:
    """An account picked by name; the form sets the viewer's scoped accounts."""
    return SearchPickField(
        search_url=reverse_lazy("crm:account_pick"), label_of=account_pick_label, **kwargs
    )


def contact_picker(**kwargs: Any) -> SearchPickField:
    """A person (or several) picked by name; the form sets the viewer's scoped contacts."""
    return SearchPickField(
        search_url=reverse_lazy("crm:contact_pick"), label_of=contact_pick_label, **kwargs
    )


class NamedChoiceField(forms.ModelChoiceField):
    """A record from a short list (products, curricula, rewards), shown by its name."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def _accounts(user: User) -> QuerySet[Account]:
    return scoped(user, Account)


def _contacts(user: User) -> QuerySet[Contact]:
    return scoped(user, Contact).select_related("account")


def _products(user: User) -> QuerySet[Product]:
    return scoped(user, Product).filter(active=True).order_by("name", "id")


class PickingForm(forms.Form):
    """A form with pickers for `user`: each picked id cleans to its record (or records, in the
    order picked), read from the field's scoped queryset that has just accepted it."""

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, field in self.fields.items():
            if not isinstance(field, SearchPickField) or field.queryset is None:
                continue
            value = data.get(name)
            if value is None or value == []:
                continue
            ids = value if isinstance(value, list) else [value]
            found = {obj.pk: obj for obj in field.queryset.filter(pk__in=ids)}
            if len(found) != len(ids):  # gone since the field's check
                self.add_error(name, field.error_messages["invalid_choice"])
                continue
            records = [found[pk] for pk in ids]
            data[name] = records if isinstance(value, list) else records[0]
        return data


class CurriculumForm(PickingForm):
    product = NamedChoiceField(label=_("product"), queryset=Product.objects.none())
    name = forms.CharField(label=_("name"), max_length=200)
    modules = forms.CharField(
        label=_("modules (one a line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    pass_mark = forms.IntegerField(label=_("pass mark (%)"), min_value=0, max_value=100, initial=70)
    valid_months = forms.IntegerField(
        label=_("certificate valid for (months)"), min_value=1, max_value=120, initial=24
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["product"].queryset = _products(user)  # type: ignore[attr-defined]


class SessionForm(PickingForm):
    curriculum = NamedChoiceField(label=_("curriculum"), queryset=Curriculum.objects.none())
    mode = forms.ChoiceField(label=_("mode"), choices=SessionMode.choices)
    starts_at = forms.DateTimeField(label=_("starts"), widget=DATETIME)
    ends_at = forms.DateTimeField(label=_("ends"), widget=DATETIME)
    location = forms.CharField(label=_("place or link"), max_length=300, required=False)
    host_account = account_picker(label=_("host account (on site)"), required=False)
    capacity = forms.IntegerField(label=_("capacity"), min_value=1, max_value=10000, initial=20)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["curriculum"].queryset = (  # type: ignore[attr-defined]
            scoped(user, Curriculum).filter(active=True).order_by("name", "id")
        )
        self.fields["host_account"].queryset = _accounts(user)  # type: ignore[attr-defined]


class AttendeeForm(PickingForm):
    contact = contact_picker(label=_("person"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["contact"].queryset = _contacts(user)  # type: ignore[attr-defined]


class AssessmentForm(forms.Form):
    score = forms.IntegerField(label=_("assessment (%)"), min_value=0, max_value=100)


class TrialForm(PickingForm):
    account = account_picker(label=_("farm"))
    product = NamedChoiceField(label=_("product"), queryset=Product.objects.none())
    crop = forms.CharField(label=_("crop"), max_length=100)
    season = forms.IntegerField(label=_("season (year)"), min_value=1990, max_value=2100)
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["account"].queryset = _accounts(user)  # type: ignore[attr-defined]
        self.fields["product"].queryset = _products(user)  # type: ignore[attr-defined]


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


class EnrolForm(PickingForm):
    account = account_picker(label=_("account"))
    country = COUNTRY

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["account"].queryset = _accounts(user)  # type: ignore[attr-defined]


class RewardChoiceField(forms.ModelChoiceField):
    """A reward of the member's programme, with what it costs in points."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} · {obj.points_cost}"


class RedeemForm(PickingForm):
    """A reward for a member; its travellers are people of the member account."""

    reward = RewardChoiceField(label=_("reward"), queryset=Reward.objects.none())
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, max_value=1000, initial=1)
    travellers = contact_picker(
        label=_("travellers"),
        multiple=True,
        required=False,
        max_choices=1000,
        error_messages={"invalid_choice": _("Travellers are people of the member account.")},
    )

    def __init__(
        self, *args: Any, user: User, programme: LoyaltyProgramme, account_id: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["reward"].queryset = programme.rewards.filter(  # type: ignore[attr-defined]
            active=True
        ).order_by("points_cost", "id")
        self.fields["travellers"].queryset = _contacts(user).filter(  # type: ignore[attr-defined]
            account_id=account_id
        )


class ReferralForm(PickingForm):
    account = account_picker(label=_("referred account"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["account"].queryset = _accounts(user)  # type: ignore[attr-defined]


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


class TransferForm(PickingForm):
    account = account_picker(label=_("organisation"))
    contact = contact_picker(label=_("professional (blank: the organisation)"), required=False)
    country = COUNTRY
    nature = forms.ChoiceField(label=_("nature"), choices=Nature.choices)
    value = forms.DecimalField(label=_("value"), min_value=0, max_digits=12, decimal_places=2)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", label=_("currency"), max_length=3)
    occurred_on = forms.DateField(label=_("date"), widget=DATE)
    description = forms.CharField(label=_("description"), max_length=300, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["account"].queryset = _accounts(user)  # type: ignore[attr-defined]
        self.fields["contact"].queryset = _contacts(user)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        account, contact = data.get("account"), data.get("contact")
        if account is not None and contact is not None and contact.account_id != account.pk:
            self.add_error("contact", _("The person does not belong to this organisation."))
        return data
