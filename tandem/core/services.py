"""Writes of the core app: sign-in lockout, organisation settings, holidays, people and teams,
a user's language.

Invariants:
- an account is locked while it has `LOGIN_LOCKOUT_ATTEMPTS` failed sign-ins within the last
  `LOGIN_LOCKOUT_MINUTES`; a locked account is refused even with the right password, and a
  successful sign-in clears its failures;
- organisation settings and holidays change only here, each with an audit entry in the same
  transaction; business hours are, per weekday, ordered ranges "HH:MM"-"HH:MM" that do not overlap;
- people and teams are created only here (`user_create`, `team_ensure`: the `createuser` command,
  the demo), each with an audit entry in the same transaction; a username is unique regardless
  of case, and a stored password has passed Django's password validators.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Holiday, LoginAttempt, Organisation, Role, Team, User

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LANGUAGE_CODES = {"en", "ru"}


# --- sign-in lockout ------------------------------------------------------------------------


def _window_start() -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def login_is_locked(*, username: str) -> bool:
    recent = LoginAttempt.objects.filter(username=username.lower()[:150], at__gte=_window_start())
    return recent.count() >= settings.LOGIN_LOCKOUT_ATTEMPTS


@transaction.atomic
def login_failure_record(*, username: str, ip: str | None) -> None:
    LoginAttempt.objects.create(username=username.lower()[:150], ip=ip or None)


@transaction.atomic
def login_success_clear(*, username: str) -> None:
    LoginAttempt.objects.filter(username=username.lower()[:150]).delete()


# --- organisation ---------------------------------------------------------------------------


def _parse_time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_("%(value)s is not a time HH:MM") % {"value": value.strip()}) from None


def clean_business_hours(hours: Any) -> dict[str, list[list[str]]]:
    """Validated hours: every weekday present, ranges start < end, sorted, not overlapping."""
    if not isinstance(hours, dict):
        raise InvalidInput({"business_hours": [_("must map weekdays to time ranges")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        parsed: list[tuple[dt.time, dt.time]] = []
        try:
            for pair in ranges:
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise ValueError(_("each range needs a start and an end"))
                start, end = _parse_time(str(pair[0])), _parse_time(str(pair[1]))
                if start >= end:
                    raise ValueError(_("a range must end after it starts"))
                parsed.append((start, end))
            parsed.sort()
            for (_s1, e1), (s2, _e2) in itertools.pairwise(parsed):
                if s2 < e1:
                    raise ValueError(_("ranges overlap"))
        except ValueError as exc:
            errors[f"hours_{day}"] = [str(exc)]
            continue
        cleaned[day] = [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in parsed]
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        errors["business_hours"] = [
            _("unknown weekday: %(days)s") % {"days": ", ".join(sorted(map(str, unknown)))}
        ]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _clean_organisation(data: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "name",
        "currency",
        "time_zone",
        "language",
        "fiscal_year_start_month",
        "business_hours",
    }
    errors: dict[str, list[str]] = {k: [_("unknown field")] for k in set(data) - allowed}
    out = dict(data)
    if "name" in out:
        out["name"] = str(out["name"]).strip()
        if not out["name"] or len(out["name"]) > 200:
            errors["name"] = [_("a name of 1 to 200 characters is required")]
    if "currency" in out:
        out["currency"] = str(out["currency"]).strip().upper()
        if (
            len(out["currency"]) != 3
            or not out["currency"].isalpha()
            or not out["currency"].isascii()
        ):
            errors["currency"] = [_("a three-letter ISO 4217 code, such as EUR")]
    if "time_zone" in out:
        try:
            zoneinfo.ZoneInfo(str(out["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = [_("unknown time zone")]
    if "language" in out and out["language"] not in LANGUAGE_CODES:
        errors["language"] = [_("unknown language")]
    if "fiscal_year_start_month" in out:
        month = out["fiscal_year_start_month"]
        if not isinstance(month, int) or isinstance(month, bool) or not 1 <= month <= 12:
            errors["fiscal_year_start_month"] = [_("a month from 1 to 12")]
    if "business_hours" in out:
        try:
            out["business_hours"] = clean_business_hours(out["business_hours"])
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return out


@transaction.atomic
def organisation_update(*, actor: Actor, **data: Any) -> Organisation:
    """Change the organisation's settings; unknown fields and bad values change nothing."""
    cleaned = _clean_organisation(data)
    Organisation.current()
    org = Organisation.objects.select_for_update().get(pk=1)
    before = snapshot(org)
    for key, value in cleaned.items():
        setattr(org, key, value)
    org.save(update_fields=[*cleaned.keys(), "updated_at"])
    changes = diff(before, snapshot(org))
    changes.pop("updated_at", None)
    if changes:
        record_change(actor=actor, action="update", instance=org, changes=changes)
    transaction.on_commit(lambda: cache.delete("tandem:organisation_currency"))
    return org


@transaction.atomic
def holiday_add(*, actor: Actor, date: dt.date, name: str) -> Holiday:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": [_("a name of 1 to 200 characters is required")]})
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(date=date, name=name)
    except IntegrityError:
        raise InvalidInput({"date": [_("this date is already a holiday")]}) from None
    record_change(
        actor=actor, action="create", instance=holiday, changes=diff({}, snapshot(holiday))
    )
    return holiday


@transaction.atomic
def holiday_remove(*, actor: Actor, holiday_id: int) -> None:
    holiday = Holiday.objects.select_for_update().filter(pk=holiday_id).first()
    if holiday is None:
        raise InvalidInput({"holiday": [_("no such holiday")]}, code="not_found")
    record_change(
        actor=actor, action="delete", instance=holiday, changes=diff(snapshot(holiday), {})
    )
    holiday.delete()


# --- people and teams -----------------------------------------------------------------------


@transaction.atomic
def team_ensure(*, actor: Actor, name: str, department: str, region: str = "") -> Team:
    """The team called `name`, created if missing (idempotent)."""
    if department not in {Department.MARKETING, Department.SALES, Department.FIELD}:
        raise InvalidInput({"department": [f"{department!r} is not a team department"]})
    team = Team.objects.filter(name=name).first()
    if team is not None:
        return team
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, department=department, region=region)
    except IntegrityError:  # created meanwhile by someone else
        return Team.objects.get(name=name)
    record_change(actor=actor, action="create", instance=team, changes=diff({}, snapshot(team)))
    return team


def _taken(username: str) -> str:
    return _("a user named %(username)s already exists") % {"username": repr(username)}


@transaction.atomic
def user_create(
    *,
    actor: Actor,
    username: str,
    role: str,
    password: str | None,
    email: str = "",
    team_name: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a person with a role (and team). `password=None` makes an unusable password."""
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not username or len(username) > 150:
        errors["username"] = [_("a username of 1 to 150 characters is required")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_taken(username)]
    if role not in Role.values:
        message = _("%(role)s is not a role; choose one of %(roles)s")
        errors["role"] = [message % {"role": repr(role), "roles": ", ".join(Role.values)}]
    team: Team | None = None
    if team_name:
        team = Team.objects.filter(name__iexact=team_name.strip()).first()
        if team is None:
            names = ", ".join(Team.objects.values_list("name", flat=True)) or _("none yet")
            message = _("no team named %(team)s (teams: %(names)s)")
            errors["team"] = [message % {"team": repr(team_name), "names": names}]
    if email:
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            message = _("%(email)s is not a valid email address")
            errors["email"] = [message % {"email": repr(email)}]
    if password is not None and "username" not in errors:
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                role=role,
                team=team,
                first_name=first_name,
                last_name=last_name,
            )
    except IntegrityError:
        raise InvalidInput({"username": [_taken(username)]}) from None
    changes = diff({}, snapshot(user))
    changes.pop("password", None)
    record_change(actor=actor, action="create", instance=user, changes=changes)
    return user


@transaction.atomic
def user_language_set(*, user: User, language: str) -> None:
    if language not in LANGUAGE_CODES:
        raise InvalidInput({"language": [_("unknown language")]})
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
