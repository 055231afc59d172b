"""Forms of the insights pages: the cockpit's period and team, and a goal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.core.access import roles_with
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.labels import ATTRIBUTION_MODEL_LABELS
from tandem.core.models import Team, User
from tandem.crm.models import Industry
from tandem.insights.channels import is_channel
from tandem.insights.models import GoalKind, GoalPeriod
from tandem.insights.periods import (
    EARLIEST,
    LATEST,
    Window,
    quarter_window,
    today_in,
    window,
)
from tandem.insights.selectors import DEFAULT_MODEL, MODELS

PERIOD_CHOICES = [
    ("this_quarter", _("This quarter")),
    ("last_quarter", _("Last quarter")),
    ("custom", _("From … to …")),
]


class CockpitForm(forms.Form):
    """The period (this quarter, last quarter or from-to), a team, an industry and an
    attribution model.
    `window_in(zone)` gives the window once the form is valid."""

    period = forms.ChoiceField(
        label=_("Period"), choices=PERIOD_CHOICES, required=False, initial="this_quarter"
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label=_("Everyone (joint)"),
    )
    industry = forms.ChoiceField(
        label=_("Industry"),
        choices=[("", _("Any industry")), *Industry.choices],
        required=False,
    )
    channel = forms.CharField(
        label=_("Channel (first touch)"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"list": "channel-choices", "size": 14}),
    )
    model = forms.ChoiceField(
        label=_("Attribution model"),
        choices=[(m, ATTRIBUTION_MODEL_LABELS.get(m, m)) for m in MODELS],
        required=False,
        initial=DEFAULT_MODEL,
    )

    def __init__(self, *args: Any, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.window: Window | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = today_in(self.zone)
        period = data.get("period") or "this_quarter"
        if period == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None and "start" not in self.errors:
                self.add_error("start", _("Choose the first day."))
            if end is None and "end" not in self.errors:
                self.add_error("end", _("Choose the last day."))
            if start is not None and end is not None:
                try:
                    self.window = window(start, end, self.zone)
                except InvalidInput as exc:
                    apply_invalid_input(self, exc, {"from": "start", "to": "end"})
        else:
            self.window = quarter_window(today, self.zone, -1 if period == "last_quarter" else 0)
        data["model"] = data.get("model") or DEFAULT_MODEL
        channel = (data.get("channel") or "").strip().lower()
        if channel and not is_channel(channel):
            self.add_error("channel", _("A channel is a name such as email or organic_search."))
        data["channel"] = channel
        return data


class GoalForm(forms.Form):
    kind = forms.ChoiceField(label=_("Goal"), choices=GoalKind.choices)
    period = forms.ChoiceField(
        label=_("Period"), choices=GoalPeriod.choices, initial=GoalPeriod.QUARTER
    )
    day = forms.DateField(
        label=_("Any day of the period"),
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=dt.date.today,
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label=_("Joint goal (everyone)"),
    )
    user = forms.ModelChoiceField(
        label=_("Rep (quota)"),
        queryset=User.objects.filter(is_active=True, role__in=roles_with("carry_quota")).order_by(
            "first_name", "last_name", "username"
        ),
        required=False,
        empty_label=_("No rep: a team or joint goal"),
        help_text=_("A rep's quota is a revenue goal; its progress is the rep's won revenue."),
    )
    target = forms.DecimalField(
        label=_("Target"), min_value=0, max_digits=16, decimal_places=2, localize=False
    )


class ProcessForm(CockpitForm):
    """The process page's filters: the cockpit's period, team, industry and channel, a rep,
    and the breakdown."""

    rep = forms.ModelChoiceField(
        label=_("Rep"),
        queryset=User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        ),
        required=False,
        empty_label=_("Every rep"),
    )
    by = forms.ChoiceField(
        label=_("Break down by"),
        choices=[
            ("rep", _("Rep")),
            ("team", _("Team")),
            ("channel", _("Channel")),
            ("industry", _("Industry")),
        ],
        required=False,
        initial="rep",
    )

    def __init__(self, *args: Any, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, zone=zone, **kwargs)
        del self.fields["model"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["by"] = data.get("by") or "rep"
        return data


class BoardReportForm(forms.Form):
    """The month of the board report, YYYY-MM."""

    month = forms.RegexField(
        label=_("Month"),
        regex=r"^\d{4}-\d{2}$",
        error_messages={"invalid": _("Give the month as YYYY-MM.")},
    )

    def clean_month(self) -> dt.date:
        text = self.cleaned_data["month"]
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise forms.ValidationError(_("Give the month as YYYY-MM."))
        first = dt.date(max(year, 1), month, 1)
        if not EARLIEST <= first <= LATEST:
            raise forms.ValidationError(
                _("must be between %(a)s and %(b)s") % {"a": EARLIEST, "b": LATEST}
            )
        return first
