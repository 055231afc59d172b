"""Forms of the lead routing settings: territories, rep capacity, the hand-off policy and MQL
targets. People are picked by name, never typed as ids; the services check the rules again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.core.forms import PersonChoiceField
from tandem.core.models import Role, User
from tandem.core.pickers import MAX_ID
from tandem.crm.models import Industry


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    """Several people, picked by name (their username only when they have none). An id no
    database column holds is an invalid choice, not a query (SQLite cannot bind it)."""

    def _check_values(self, value: Any) -> Any:
        for raw in value:
            text = str(raw).strip()
            digits = text.removeprefix("-")
            if digits.isascii() and digits.isdigit() and not -MAX_ID <= int(text) <= MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": text[:40]},
                )
        return super()._check_values(value)  # type: ignore[misc]  # Django API, not in the stubs

    def label_from_instance(self, obj: Any) -> str:
        full = f"{obj.first_name} {obj.last_name}".strip()
        return full or str(obj.username)


class TerritoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    region = forms.CharField(
        label=_("Region"),
        max_length=100,
        required=False,
        help_text=_("The accounts' region; blank: any region."),
    )
    industry = forms.ChoiceField(
        label=_("Industry"),
        required=False,
        choices=[("", _("Any industry")), *Industry.choices],
    )
    head = PersonChoiceField(
        label=_("Head of the territory"),
        queryset=User.objects.none(),
        required=False,
        empty_label="—",
    )
    members = PeopleChoiceField(
        label=_("Reps who share its leads"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = _people()
        self.fields["head"].queryset = people  # type: ignore[attr-defined]
        self.fields["members"].queryset = people  # type: ignore[attr-defined]


class RepCapacityForm(forms.Form):
    rep = PersonChoiceField(label=_("Rep"), queryset=User.objects.none())
    weight = forms.IntegerField(
        label=_("Round-robin weight"),
        min_value=0,
        max_value=100,
        initial=1,
        help_text=_("A rep with weight 2 gets twice the leads of one with 1; 0: none."),
    )
    capacity = forms.IntegerField(
        label=_("Open hand-offs at most"), min_value=0, max_value=10000, initial=20
    )
    is_available = forms.BooleanField(label=_("Takes leads now"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = _people().filter(role=Role.SALES_REP)  # type: ignore[attr-defined]


class HandoffPolicyForm(forms.Form):
    accept_within_hours = forms.FloatField(
        label=_("Sales accepts or rejects within (business hours)"),
        min_value=0.1,
        max_value=720,
    )
    first_contact_within_hours = forms.FloatField(
        label=_("Sales first contacts the lead within (business hours of accepting)"),
        min_value=0.1,
        max_value=720,
    )
    max_escalations = forms.IntegerField(
        label=_("Re-routes before the head decides"), min_value=0, max_value=20
    )


class MqlTargetForm(forms.Form):
    month = forms.DateField(
        label=_("Month"),
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        error_messages={"invalid": _("A month such as 2026-03.")},
    )
    target = forms.IntegerField(label=_("MQLs marketing delivers"), min_value=0, max_value=1000000)

    def clean_month(self) -> dt.date:
        month: dt.date = self.cleaned_data["month"]
        return month.replace(day=1)
