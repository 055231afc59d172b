"""Forms of the scoring pages: a score group, a rule (built from the segment condition catalogue)
and the buttons that start or switch things. Each states its fields, limits and errors once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.labels import KIND_LABELS
from tandem.leads.models import RuleKind

TAG = "tag"
BOOLEAN_WORDS = {"yes": True, "true": True, "да": True, "no": False, "false": False, "нет": False}


def touchpoint_kind_choices() -> list[tuple[str, str]]:
    """The known touchpoint kinds in words of the active language, by label; a label shared by
    several kinds (a kind and its alias) names the kind too, so every choice reads differently."""
    labels = {kind: str(label) for kind, label in KIND_LABELS.items()}
    counts = Counter(labels.values())
    choices = [
        (kind, label if counts[label] == 1 else f"{label} ({kind})")
        for kind, label in labels.items()
    ]
    return sorted(choices, key=lambda choice: (choice[1].casefold(), choice[0]))


class ScoringModelForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    product_line = forms.CharField(
        label=gettext_lazy("Product line"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Blank: the default group."),
    )
    mql_threshold = forms.FloatField(
        label=gettext_lazy("MQL threshold"), min_value=-100000, max_value=100000, initial=50
    )
    half_life_days = forms.FloatField(
        label=gettext_lazy("Engagement half-life (days)"),
        min_value=0.01,
        max_value=3650,
        initial=30,
    )


class RuleForm(forms.Form):
    """A fit rule: a condition of the segment catalogue (field, operator, value); an engagement
    rule: points for each touchpoint of a kind (optionally on one channel), decaying with age."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=RuleKind.choices, initial=RuleKind.FIT
    )
    field = forms.ChoiceField(label=gettext_lazy("Field"), required=False)
    operator = forms.ChoiceField(label=gettext_lazy("Operator"), required=False)
    value = forms.CharField(
        label=gettext_lazy("Value"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Several values: separate them with commas."),
    )
    touchpoint_kind = forms.ChoiceField(
        label=gettext_lazy("Touchpoint kind (engagement only)"), required=False
    )
    channel = forms.CharField(
        label=gettext_lazy("Channel (engagement only)"), max_length=40, required=False
    )
    points = forms.FloatField(label=gettext_lazy("Points"), min_value=-1000, max_value=1000)

    def __init__(self, *args: Any, catalogue: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue
        self.by_key = {f["key"]: f for f in catalogue["fields"]}
        groups: dict[str, list[tuple[str, str]]] = {}
        for entry in catalogue["fields"]:
            groups.setdefault(entry["group"], []).append((entry["key"], entry["label"]))
        names = {
            "contact": _("Contact"),
            "account": _("Account"),
            "custom": _("Custom attributes"),
        }
        choices: list[Any] = [("", "—")]
        choices += [(names.get(g, g), items) for g, items in groups.items()]
        choices.append((TAG, catalogue["tag"]["label"]))
        field_choice = self.fields["field"]
        assert isinstance(field_choice, forms.ChoiceField)
        field_choice.choices = choices
        operator_choice = self.fields["operator"]
        assert isinstance(operator_choice, forms.ChoiceField)
        operator_choice.choices = [("", "—"), *catalogue["ops"].items()]
        touchpoint_choice = self.fields["touchpoint_kind"]
        assert isinstance(touchpoint_choice, forms.ChoiceField)
        touchpoint_choice.choices = [("", "—"), *touchpoint_kind_choices()]

    def _value(self, entry: dict[str, Any] | None, op: str, raw: str) -> Any:
        if op in ("is_empty", "is_not_empty"):
            return None
        if op in ("in", "not_in"):
            return [v.strip() for v in raw.split(",") if v.strip()]
        kind = entry["kind"] if entry else "text"
        if kind == "number":
            try:
                return float(raw.replace(",", "."))
            except ValueError:
                raise forms.ValidationError({"value": _("Enter a number.")}) from None
        if kind == "boolean":
            if raw.lower() not in BOOLEAN_WORDS:
                raise forms.ValidationError({"value": _("Enter yes or no.")})
            return BOOLEAN_WORDS[raw.lower()]
        if op in ("within_last_days", "more_than_days_ago"):
            if not raw.isdigit():
                raise forms.ValidationError({"value": _("Enter a number of days.")})
            return int(raw)
        return raw

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = (data.get("value") or "").strip()
        if data.get("kind") == RuleKind.ENGAGEMENT:
            # the select on the page; `value` still names a kind for clients that post it
            chosen = data.get("touchpoint_kind") or raw
            if not chosen:
                self.add_error("touchpoint_kind", _("Which touchpoint kind earns the points?"))
            data["value"] = chosen
            return data
        field, op = data.get("field") or "", data.get("operator") or ""
        if not field:
            self.add_error("field", _("Choose a field."))
        if not op:
            self.add_error("operator", _("Choose an operator."))
        if not field or not op:
            return data
        if field == TAG:
            if op not in self.catalogue["tag"]["ops"]:
                self.add_error("operator", _("A tag is had or not had."))
                return data
            data["condition"] = {"type": "tag", "op": op, "value": raw}
            return data
        entry = self.by_key.get(field)
        if entry is not None and op not in entry["ops"]:
            self.add_error("operator", _("This operator does not apply to this field."))
            return data
        if not raw and op not in ("is_empty", "is_not_empty"):
            self.add_error("value", _("Enter a value."))
            return data
        data["condition"] = {
            "type": "field",
            "field": field,
            "op": op,
            "value": self._value(entry, op, raw),
        }
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["kind"] == RuleKind.ENGAGEMENT:
            return {
                "kind": RuleKind.ENGAGEMENT,
                "field": "touchpoint.kind",
                "value": data["value"].strip(),
                "channel": data.get("channel") or "",
                "points": data["points"],
            }
        return {
            "kind": RuleKind.FIT,
            "field": "condition",
            "value": "",
            "condition": data["condition"],
            "points": data["points"],
        }


# service error keys -> form fields
RULE_FIELD_ALIASES = {"condition": "value", "definition": "value"}


class ActivateForm(forms.Form):
    active = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


class TrainForm(forms.Form):
    """No fields: the button; a form all the same, so the POST is checked as every other."""


class SwitchOnForm(forms.Form):
    predictive_model = forms.IntegerField(min_value=1)
