"""The field pages' forms: a visit, its report (the industry's fields as text, one parser for
the page and for reports filed offline), check-in/out, a deal from a visit, an attachment,
tiers and plans.

Invariants:
- `ReportForm` turns the text the rep typed into the report the services validate
  (`reports.clean_report`); lists are one item per line or comma-separated; line items are
  ``a; b; number``. The offline app sends the same fields, so both paths parse alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.core.models import User
from tandem.field.models import VisitTier

LIST_HELP = _("one per line or separated by commas")


def _items(text: str) -> list[str]:
    return [p.strip() for line in text.splitlines() for p in line.split(",") if p.strip()]


def _rows(text: str, names: tuple[str, str, str]) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 3 or not parts[2].isdigit():
            raise forms.ValidationError(
                _("line %(n)s: write “%(a)s; %(b)s; %(c)s” with a whole number last"),
                params={"n": number, "a": names[0], "b": names[1], "c": names[2]},
            )
        rows.append({names[0]: parts[0], names[1]: parts[1], names[2]: int(parts[2])})
    return rows


class ReportForm(forms.Form):
    """Notes, the industry's fields and follow-ups ("title; YYYY-MM-DD" per line)."""

    base_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    notes = forms.CharField(
        label=_("Notes"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=10_000,
    )
    follow_ups = forms.CharField(
        label=_("Follow-up tasks"),
        help_text=_("one per line: what; due date (YYYY-MM-DD)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    FIELDS: dict[str, list[str]] = {
        "agriculture": ["crops", "area_ha", "growth_stage", "products_trialled"],
        "medical": ["department", "specialists", "samples"],
        "electronics": ["design_ins", "distributor_stock"],
    }

    def __init__(self, industry: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.industry = industry

        def text(label: Any, help_text: Any = "", max_length: int = 2000) -> forms.CharField:
            return forms.CharField(
                label=label, help_text=help_text, max_length=max_length, required=False
            )

        def area(label: Any, help_text: Any) -> forms.CharField:
            return forms.CharField(
                label=label,
                help_text=help_text,
                required=False,
                max_length=10_000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

        extra: dict[str, forms.Field] = {
            "crops": text(_("Crops"), LIST_HELP),
            "area_ha": forms.DecimalField(
                label=_("Area (ha)"), min_value=0, max_digits=12, decimal_places=2, required=False
            ),
            "growth_stage": text(_("Growth stage"), max_length=100),
            "products_trialled": text(_("Products trialled"), LIST_HELP),
            "department": text(_("Department"), max_length=200),
            "specialists": text(_("Specialists met"), LIST_HELP),
            "samples": area(_("Samples left"), _("one per line: product; lot; quantity")),
            "design_ins": area(
                _("Design-in opportunities"), _("one per line: product; project; annual volume")
            ),
            "distributor_stock": area(
                _("Distributor stock"), _("one per line: distributor; product; quantity")
            ),
        }
        for name in self.FIELDS.get(industry, []):
            self.fields[name] = extra[name]

    def clean_follow_ups(self) -> list[tuple[str, dt.date]]:
        tasks = []
        for number, line in enumerate(self.cleaned_data["follow_ups"].splitlines(), start=1):
            if not line.strip():
                continue
            title, _sep, due = line.rpartition(";")
            try:
                day = dt.date.fromisoformat(due.strip())
            except ValueError:
                raise forms.ValidationError(
                    _("line %(n)s: write “what; YYYY-MM-DD”"), params={"n": number}
                ) from None
            if not title.strip():
                raise forms.ValidationError(
                    _("line %(n)s: what is to be done?"), params={"n": number}
                )
            tasks.append((title.strip()[:300], day))
        return tasks

    def report(self) -> dict[str, Any]:
        """The report for `services.visit_report_save` (after `is_valid()`)."""
        data = self.cleaned_data
        if self.industry == "agriculture":
            return {
                "crops": _items(data["crops"]),
                "area_ha": str(data["area_ha"]) if data["area_ha"] is not None else None,
                "growth_stage": data["growth_stage"],
                "products_trialled": _items(data["products_trialled"]),
            }
        if self.industry == "medical":
            return {
                "department": data["department"],
                "specialists": _items(data["specialists"]),
                "samples": data["samples"],
            }
        if self.industry == "electronics":
            return {
                "design_ins": data["design_ins"],
                "distributor_stock": data["distributor_stock"],
            }
        return {}

    def clean_samples(self) -> list[dict[str, Any]]:
        return _rows(self.cleaned_data["samples"], ("product", "lot", "quantity"))

    def clean_design_ins(self) -> list[dict[str, Any]]:
        return _rows(self.cleaned_data["design_ins"], ("product", "project", "annual_volume"))

    def clean_distributor_stock(self) -> list[dict[str, Any]]:
        return _rows(
            self.cleaned_data["distributor_stock"],
            ("distributor", "product", "quantity"),
        )

    @staticmethod
    def initial_from(report: dict[str, Any]) -> dict[str, Any]:
        """The form's text for a stored report."""
        initial: dict[str, Any] = {}
        for key in ("crops", "products_trialled", "specialists"):
            if report.get(key):
                initial[key] = ", ".join(report[key])
        for key in ("area_ha", "growth_stage", "department"):
            if report.get(key) is not None:
                initial[key] = report[key]
        for key, names in (
            ("samples", ("product", "lot", "quantity")),
            ("design_ins", ("product", "project", "annual_volume")),
            ("distributor_stock", ("distributor", "product", "quantity")),
        ):
            if report.get(key):
                initial[key] = "\n".join("; ".join(str(r[n]) for n in names) for r in report[key])
        return initial


class VisitForm(forms.Form):
    account = forms.IntegerField(widget=forms.HiddenInput, required=False)
    account_name = forms.CharField(label=_("Account"), max_length=200)
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}))
    end = forms.TimeField(label=_("To"), widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("the visit ends before it starts"))
        return data


class PlaceForm(forms.Form):
    """Check-in or check-out: where (filled by the browser when it may) and nothing else."""

    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)


class DealForm(forms.Form):
    name = forms.CharField(label=_("New deal"), max_length=200, required=False)
    amount = forms.DecimalField(
        label=_("Amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    deal = forms.IntegerField(label=_("Or advance deal"), required=False, widget=forms.Select)
    stage = forms.IntegerField(label=_("to stage"), required=False, widget=forms.Select)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("name") and not (data.get("deal") and data.get("stage")):
            raise forms.ValidationError(_("Name a new deal, or choose a deal and a stage."))
        return data


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("Photo or document"), help_text=_("JPEG, PNG, WebP or PDF, up to 10 MB")
    )


class TierForm(forms.Form):
    code = forms.CharField(label=_("Tier"), max_length=10)
    every_days = forms.IntegerField(label=_("Visit every (days)"), min_value=1, max_value=366)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


class PlanForm(forms.Form):
    account_name = forms.CharField(label=_("Account"), max_length=200)
    tier = forms.ModelChoiceField(
        label=_("Tier"), queryset=VisitTier.objects.all(), to_field_name="code"
    )
    rep = forms.ModelChoiceField(label=_("Rep"), queryset=User.objects.none())
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    opens = forms.TimeField(
        label=_("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    closes = forms.TimeField(
        label=_("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from tandem.core.access import roles_with

        reps = User.objects.filter(is_active=True, role__in=roles_with("visit_accounts"))
        self.fields["rep"].queryset = reps.order_by("username")  # type: ignore[attr-defined]


class BaseForm(forms.Form):
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    day_start = forms.TimeField(
        label=_("Day starts"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    day_end = forms.TimeField(label=_("Day ends"), widget=forms.TimeInput(attrs={"type": "time"}))
