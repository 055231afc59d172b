"""The forms of the automation pages. A step's form is built from its kind's settings model
(graph.CONFIGS), so the page and the graph validation state the fields once."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel

from tandem.automation import graph as g
from tandem.automation.library import TEMPLATES
from tandem.automation.models import Reentry


class NewFlowForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    template = forms.ChoiceField(
        label=_("Start from"), choices=[(k, label) for k, (label, _f) in TEMPLATES.items()]
    )


class FlowSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=5000, widget=forms.Textarea({"rows": 2})
    )
    reentry = forms.ChoiceField(label=_("Re-entry"), choices=Reentry.choices)
    holdout_percent = forms.IntegerField(
        label=_("Holdout: the share of contacts, in per cent, who get nothing (to measure lift)"),
        min_value=0,
        max_value=50,
    )


class GraphForm(forms.Form):
    graph = forms.CharField(
        label=_("The flow as JSON (steps, arrows, trigger, goal)"),
        widget=forms.Textarea({"rows": 14, "class": "mono"}),
        max_length=200_000,
    )

    def clean_graph(self) -> Any:
        try:
            return json.loads(self.cleaned_data["graph"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(why)s") % {"why": exc.msg}) from None


class AddStepForm(forms.Form):
    after = forms.ChoiceField(label=_("After step"))
    kind = forms.ChoiceField(label=_("Kind"), choices=list(g.STEP_LABELS.items()))

    def __init__(self, *args: Any, node_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        after = self.fields["after"]
        assert isinstance(after, forms.ChoiceField)
        after.choices = [(n, n) for n in node_ids]


class TestEnrolForm(forms.Form):
    email = forms.EmailField(label=_("Contact's email"), max_length=254)


class PolicyForm(forms.Form):
    emails_per_window = forms.IntegerField(
        label=_("At most this many flow emails"), min_value=1, max_value=100
    )
    window_days = forms.IntegerField(
        label=_("per contact in this many days"), min_value=1, max_value=90
    )
    quiet_start = forms.IntegerField(
        label=_("Quiet hours from (hour, contact's time)"), min_value=0, max_value=23
    )
    quiet_end = forms.IntegerField(label=_("Quiet hours until (hour)"), min_value=0, max_value=23)


def _field_for(name: str, annotation: Any, required: bool) -> forms.Field:
    label = name.replace("_", " ").capitalize()
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _field_for(name, args[0], False)
    if origin is typing.Literal:
        return forms.ChoiceField(label=label, choices=[(a, a) for a in typing.get_args(annotation)])
    if annotation is bool:
        return forms.BooleanField(label=label, required=False)
    if annotation is int:
        return forms.IntegerField(label=label, required=required)
    if annotation is float:
        return forms.FloatField(label=label, required=required)
    if origin is dict or annotation is dict:
        return forms.JSONField(label=label, required=required)
    widget = forms.Textarea({"rows": 4}) if name == "body" else None
    return forms.CharField(label=label, required=required, widget=widget, strip=True)


def step_form(kind: str, data: Any = None, initial: dict[str, Any] | None = None) -> forms.Form:
    """A form for the settings of one step of `kind`."""
    model: type[BaseModel] = g.CONFIGS[kind]
    fields = {
        name: _field_for(name, info.annotation, info.is_required())
        for name, info in model.model_fields.items()
    }
    form_class = type(f"{kind.title()}StepForm", (forms.Form,), fields)
    return typing.cast(forms.Form, form_class(data=data, initial=initial))


def step_config(form: forms.Form) -> dict[str, Any]:
    """The step's settings as stored: fields left empty (or an unticked box) are not stored."""
    return {k: v for k, v in form.cleaned_data.items() if v is not None and v not in ("", False)}
