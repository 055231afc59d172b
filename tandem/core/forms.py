"""Forms of the core pages. They parse and check the shape of input; services hold the rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.core.errors import InvalidInput
from tandem.core.models import TEAM_DEPARTMENTS, ApiTokenScope, AuditEntry, Role, Team, User
from tandem.core.services import WEEKDAYS

WEEKDAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
MONTHS = [
    (1, _("January")),
    (2, _("February")),
    (3, _("March")),
    (4, _("April")),
    (5, _("May")),
    (6, _("June")),
    (7, _("July")),
    (8, _("August")),
    (9, _("September")),
    (10, _("October")),
    (11, _("November")),
    (12, _("December")),
]


def apply_invalid_input(form: forms.Form, exc: InvalidInput, aliases: dict[str, str]) -> None:
    """Show a service's InvalidInput on the form: each message on its field, else on top."""
    for key, messages in exc.errors.items():
        name = aliases.get(key, key)
        if name.startswith("custom."):
            name = "custom_" + name.removeprefix("custom.")
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, str(message))


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def parse_ranges(text: str) -> list[list[str]]:
    """ "09:00-12:00, 13:00-18:00" -> [["09:00", "12:00"], ["13:00", "18:00"]]."""
    ranges: list[list[str]] = []
    for chunk in text.replace(";", ",").split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        parts = [p.strip() for p in chunk.replace("\u2013", "-").split("-")]
        if len(parts) != 2 or not all(parts):
            raise ValidationError(_("write ranges as 09:00-18:00, separated by commas"))
        ranges.append(parts)
    return ranges


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    currency = forms.CharField(
        label=_("Currency"),
        min_length=3,
        max_length=3,
        help_text=_("ISO 4217 code, such as EUR, USD or RUB"),
    )
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, help_text=_("Such as Europe/Berlin or Europe/Moscow")
    )
    language = forms.ChoiceField(
        label=_("Default language"), choices=[("en", _("English")), ("ru", _("Russian"))]
    )
    fiscal_year_start_month = forms.TypedChoiceField(
        label=_("Fiscal year starts in"), choices=MONTHS, coerce=int
    )
    require_admin_two_factor = forms.BooleanField(
        label=_("Require two-factor sign-in for admins"),
        required=False,
        help_text=_(
            "Admins must set up an authenticator app on My profile before they can use Tandem."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=WEEKDAY_LABELS[day],
                required=False,
                max_length=200,
                help_text=_("Empty for closed"),
            )

    @staticmethod
    def initial_for(org: Any) -> dict[str, Any]:
        initial = {
            "name": org.name,
            "currency": org.currency,
            "time_zone": org.time_zone,
            "language": org.language,
            "fiscal_year_start_month": org.fiscal_year_start_month,
            "require_admin_two_factor": org.require_admin_two_factor,
        }
        for day in WEEKDAYS:
            ranges = (org.business_hours or {}).get(day) or []
            initial[f"hours_{day}"] = ", ".join(f"{a}-{b}" for a, b in ranges)
        return initial

    def hour_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{day}"] for day in WEEKDAYS]

    def main_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in (
                "name",
                "currency",
                "time_zone",
                "language",
                "fiscal_year_start_month",
                "require_admin_two_factor",
            )
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hours: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            try:
                hours[day] = parse_ranges(data.get(f"hours_{day}") or "")
            except ValidationError as exc:
                self.add_error(f"hours_{day}", exc)
        data["business_hours"] = hours
        return data


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=_("Name"), max_length=200)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, such as “website import”"),
    )
    scope = forms.ChoiceField(label=_("Access"), choices=ApiTokenScope.choices)
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The token stops working at the end of this day."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = timezone.localdate() + dt.timedelta(days=settings.API_TOKEN_DAYS)
        self.fields["expires_on"].initial = default

    def expires_at(self) -> dt.datetime | None:
        """The end of the chosen day in the user's time zone (None: the default expiry)."""
        if not self.cleaned_data.get("expires_on"):
            return None
        day = self.cleaned_data["expires_on"] + dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time.min, timezone.get_current_timezone())


class AuditFilterForm(forms.Form):
    model = forms.CharField(label=_("Record type"), required=False, max_length=60)
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Any action")), *AuditEntry.Action.choices],
    )
    actor = forms.CharField(label=_("By user"), required=False, max_length=150)
    object_id = forms.CharField(label=_("Record id"), required=False, max_length=64)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


# --- people and teams -------------------------------------------------------------------------


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def time_zone_choices(empty_label: Any) -> list[tuple[str, Any]]:
    return [("", empty_label), *((name, name) for name in _zone_names())]


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class PersonChoiceField(forms.ModelChoiceField):
    """People are picked by name (their username only when they have none)."""

    def label_from_instance(self, obj: Any) -> str:
        full = f"{obj.first_name} {obj.last_name}".strip()
        return full or str(obj.username)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    department = forms.ChoiceField(label=_("Department"), choices=TEAM_DEPARTMENTS)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)


class UserInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALES_REP)
    team = TeamChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )


class UserChangeForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    team = TeamChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )

    @staticmethod
    def initial_for(user: User) -> dict[str, Any]:
        return {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role,
            "team": user.team_id,
        }


class UserDeactivateForm(forms.Form):
    successor = PersonChoiceField(
        label=_("Hand their records to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody (they own nothing)"),
    )

    def __init__(self, *args: Any, leaving: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["successor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            User.objects.filter(is_active=True)
            .exclude(pk=leaving.pk)
            .order_by("first_name", "last_name", "username")
        )


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("The organisation's")), ("en", _("English")), ("ru", _("Russian"))],
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False, choices=[])

    def __init__(self, *args: Any, organisation_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        label = _("The organisation's (%(zone)s)") % {"zone": organisation_zone}
        field.choices = time_zone_choices(label)

    @staticmethod
    def initial_for(user: User) -> dict[str, Any]:
        return {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language": user.language,
            "time_zone": user.time_zone,
        }


# --- sign-in and account security -------------------------------------------------------------


class TwoFactorCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        max_length=8,
        error_messages={"invalid": _("Type the six digits the app shows.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 8,
            }
        ),
    )


class SignInCodeForm(forms.Form):
    """The code step of sign-in: the app's six digits, or one of the recovery codes."""

    code = forms.RegexField(
        label=_("Code from your authenticator app, or a recovery code"),
        regex=r"^\s*(\d{3}\s?\d{3}|[A-Za-z2-7]{5}[\s\-]?[A-Za-z2-7]{5})\s*$",
        max_length=16,
        error_messages={
            "invalid": _(
                "Type the six digits the app shows, or a recovery code such as abcde-fgh23."
            )
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "size": 12}
        ),
    )


class RecoveryCodesForm(forms.Form):
    """New recovery codes, proven with the password or a current code from the app."""

    password = forms.CharField(
        label=_("Your password"),
        required=False,
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.RegexField(
        label=_("or a code from your authenticator app"),
        required=False,
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        max_length=8,
        error_messages={"invalid": _("Type the six digits the app shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not (data.get("password") or data.get("code")):
            raise ValidationError(_("Type your password or a code from your authenticator app."))
        return data


class TwoFactorResetForm(forms.Form):
    """An admin's reset of someone's two-factor sign-in: a deliberate tick, not a stray click."""

    confirm = forms.BooleanField(
        label=_("Their authenticator and recovery codes stop working"),
        required=True,
        error_messages={"required": _("Tick the box to confirm.")},
    )
