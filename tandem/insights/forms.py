"""Forms of the insights pages: the cockpit's period and team, and a goal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Team
from tandem.crm.models import Industry
from tandem.insights.models import GoalKind, GoalPeriod
from tandem.insights.periods import Window, quarter_window, today_in, window
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
    model = forms.ChoiceField(
        label=_("Attribution model"),
        choices=[(m, m) for m in MODELS],
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
    target = forms.DecimalField(
        label=_("Target"), min_value=0, max_digits=16, decimal_places=2, localize=False
    )
