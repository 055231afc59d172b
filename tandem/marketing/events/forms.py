"""Forms of the event pages: an event's fields and limits, the attendance import, the public
registration form, and an event's lead rule.

The event services keep the rules (a slug in use, an end after the start, reminders in range, a
campaign the user may see); their `InvalidInput` is shown on the same form. The public
registration form answers bad input with itself and 400, never a 500.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import LifecycleStage
from tandem.marketing.events.models import EventKind, RegistrationStatus
from tandem.marketing.events.rules import MAX_MINUTES, RULE_STAGES
from tandem.marketing.validation import MAX_ID

HONEYPOT = "website_url"


class EventForm(forms.Form):
    kind = forms.ChoiceField(choices=EventKind.choices)
    title = forms.CharField(max_length=200, required=False)
    slug = forms.CharField(max_length=100, required=False)
    description = forms.CharField(max_length=5000, required=False)
    starts_at = forms.DateTimeField()
    ends_at = forms.DateTimeField()
    location = forms.CharField(max_length=300, required=False)
    join_url = forms.CharField(max_length=1000, required=False)
    organizer_name = forms.CharField(max_length=100, required=False)
    organizer_email = forms.CharField(max_length=254, required=False)
    campaign_id = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    # hours before the start, "24, 1": read by the service, which states the range
    reminder_hours = forms.CharField(max_length=100, required=False)


class AttendanceImportForm(forms.Form):
    close = forms.BooleanField(required=False)


class RegistrationForm(forms.Form):
    """The public registration page. A filled honeypot field marks a bot: nothing is stored."""

    name = forms.CharField(max_length=200, required=False)
    email = forms.CharField(max_length=254, required=False)
    company = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields[HONEYPOT] = forms.CharField(max_length=1000, required=False)

    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT))


class LeadRuleForm(forms.Form):
    """An event's (or an event kind's) lead rule; the rule service states which registrations
    qualify and which stages a rule may set."""

    statuses = forms.MultipleChoiceField(choices=RegistrationStatus.choices, required=False)
    min_minutes = forms.IntegerField(min_value=0, max_value=MAX_MINUTES, required=False)
    min_score = forms.FloatField(min_value=0, max_value=1e9, required=False)
    scoring_model_id = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    stage = forms.ChoiceField(
        choices=[
            ("", _("Leave the stage")),
            *[(s, LifecycleStage(s).label) for s in RULE_STAGES if s],
        ],
        required=False,
    )
    lead_source = forms.CharField(max_length=60, required=False)
    handoff = forms.BooleanField(required=False)
    auto = forms.BooleanField(required=False)


class LeadRuleRunForm(forms.Form):
    """The rule page's "run now" button (action=run); any other POST saves the rule."""

    action = forms.ChoiceField(choices=[("run", _("Run now")), ("save", _("Save"))], required=False)

    def run(self) -> bool:
        return self.is_valid() and self.cleaned_data.get("action") == "run"
