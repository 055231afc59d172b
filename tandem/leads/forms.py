"""Forms for the pages that change hand-offs and disputes: the fields each POST takes, their
limits and their error messages. The services check the same rules again (the API calls them
without a form); a form's job is to answer bad input on the page instead of a server error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from tandem.core.models import Department, Role, User
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.lifecycle import allowed_targets
from tandem.leads.models import DisputeOutcome, DisputeSubject, RejectionOutcome, RejectionReason
from tandem.leads.services import FIRST_CONTACT_CHANNELS

NOTE_MAX = 1000
MESSAGE_MAX = 5000
SUMMARY_MAX = 500

CHANNEL_CHOICES = [
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("meeting", _("Meeting")),
    ("linkedin", "LinkedIn"),
    ("messenger", _("Messenger")),
    ("visit", _("Visit")),
]
assert {value for value, _label in CHANNEL_CHOICES} == FIRST_CONTACT_CHANNELS


def active_reps() -> QuerySet[User]:
    return User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("username")


class HandoffByHandForm(forms.Form):
    """ "Hand off to sales" on a contact's page: an optional note for the rep (prefixed, as it
    shares the page with the activity form)."""

    prefix = "handoff"

    note = forms.CharField(
        label=_("Note for sales"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class HandoffRejectForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=RejectionReason.choices,
        error_messages={
            "required": _("Choose a reason from the list."),
            "invalid_choice": _("Choose a reason from the list."),
        },
    )
    note = forms.CharField(label=_("Details"), max_length=NOTE_MAX, required=False)
    outcome = forms.ChoiceField(
        label=_("Return the lead as"),
        choices=RejectionOutcome.choices,
        required=False,
        error_messages={"invalid_choice": _("Choose what happens to the lead.")},
    )

    def clean_outcome(self) -> str:
        return self.cleaned_data.get("outcome") or RejectionOutcome.RECYCLE


class HandoffContactedForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("First contact by"),
        choices=CHANNEL_CHOICES,
        error_messages={
            "required": _("Choose how you contacted the lead."),
            "invalid_choice": _("Choose how you contacted the lead."),
        },
    )
    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX, required=False)


class HandoffAssignForm(forms.Form):
    rep = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=User.objects.none(),
        error_messages={
            "required": _("Choose a rep."),
            "invalid_choice": _("Choose an active sales rep."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["rep"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = active_reps()


class HandoffAcceptForm(forms.Form):
    """Accepting takes no input; the form keeps every action on the same path."""


TARGET_FIELDS = ("handoff", "contact", "account", "deal")
SHARE_FIELDS = {f"share_{d}": d for d in Department.values}


class DisputeOpenForm(forms.Form):
    """A dispute about one record: exactly one of the hidden record fields, a subject the
    record allows (`disputes.subjects_for`; the service refuses others), a summary and a first
    message."""

    subject = forms.ChoiceField(
        label=_("About"),
        choices=DisputeSubject.choices,
        error_messages={
            "required": _("Choose what the dispute is about."),
            "invalid_choice": _("Choose what the dispute is about."),
        },
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=SUMMARY_MAX,
        error_messages={"required": _("A summary of 1 to 500 characters is required.")},
    )
    body = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    handoff = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    contact = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    account = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    deal = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, subjects: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if subjects:
            field = self.fields["subject"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(s, DisputeSubject(s).label) for s in subjects]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        named = [name for name in TARGET_FIELDS if data.get(name)]
        if len(named) != 1:
            raise forms.ValidationError(
                _("Say which hand-off or contact the dispute is about.")
                if not named
                else _("A dispute is about one record.")
            )
        return data


class DisputeMessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message (mention people with @username)"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write a message.")},
    )


class DisputeDecideForm(forms.Form):
    """The head's decision: an outcome and words, and the effect the subject takes: each
    department's share of the deal in per cent (credit), or who owns the record (ownership).
    `cleaned_data["shares"]` holds the shares as fractions (None when none was given)."""

    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=DisputeOutcome.choices,
        error_messages={
            "required": _("Choose an outcome."),
            "invalid_choice": _("Choose an outcome."),
        },
    )
    decision = forms.CharField(
        label=_("Decision"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write the decision.")},
    )
    share_marketing = forms.DecimalField(
        label=_("Marketing's share (per cent)"), required=False, min_value=0, max_value=100
    )
    share_sales = forms.DecimalField(
        label=_("Sales' share (per cent)"), required=False, min_value=0, max_value=100
    )
    share_field = forms.DecimalField(
        label=_("Field's share (per cent)"), required=False, min_value=0, max_value=100
    )
    share_self_service = forms.DecimalField(
        label=_("Self-service's share (per cent)"), required=False, min_value=0, max_value=100
    )
    new_owner = forms.ModelChoiceField(
        label=_("New owner"),
        queryset=User.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("Choose one of the sides of the dispute.")},
    )

    def __init__(
        self, *args: Any, subject: str = "", sides: list[User] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["new_owner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(pk__in=[p.pk for p in sides or []]).order_by(
            "username"
        )
        if subject != DisputeSubject.DEAL_CREDIT:
            for name in SHARE_FIELDS:
                del self.fields[name]
        if subject != DisputeSubject.OWNERSHIP:
            del self.fields["new_owner"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = {
            department: data.pop(name)
            for name, department in SHARE_FIELDS.items()
            if data.get(name) is not None
        }
        for name in SHARE_FIELDS:
            data.pop(name, None)
        data["shares"] = (
            {department: float(pct) / 100 for department, pct in given.items()} if given else None
        )
        data.setdefault("new_owner", None)
        return data


class LifecycleMoveForm(forms.Form):
    """A contact's next lifecycle stage (only the moves the lifecycle allows from where it is)
    and why."""

    stage = forms.ChoiceField(
        label=_("New stage"),
        error_messages={
            "required": _("Choose a stage."),
            "invalid_choice": _("The lifecycle does not allow this move."),
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Say why the stage changes.")},
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["stage"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (stage, LifecycleStage(stage).label)
            for stage in allowed_targets(contact.lifecycle_stage)
        ]
