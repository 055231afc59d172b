"""Writes of the core app: the record of failed sign-ins, organisation settings, holidays, people
and teams, a user's language. (Lockout: `core.lockout`; two-factor: `core.two_factor`.)

Invariants:
- organisation settings and holidays change only here, each with an audit entry in the same
  transaction; business hours are, per weekday, ordered ranges "HH:MM"-"HH:MM" that do not overlap;
- people and teams are created and changed only here (`user_create`, `user_invite`,
  `user_change`, `user_deactivate`, `user_profile_update`, `user_password_set`, `team_ensure`,
  `team_create`, `team_update`: the people pages and API, the `createuser` command, the demo),
  each with an audit entry in the same transaction; a username is unique regardless of case, and
  a stored password has passed Django's password validators;
- there is always at least one active admin: the last one can be neither demoted nor deactivated,
  and nobody deactivates themselves;
- a deactivated user owns nothing: `user_deactivate` hands every registered kind of owned record
  (`core.owned_records`) to a successor in the same transaction, or refuses;
- a time zone stored on the organisation or a user is a name `zoneinfo` knows (a user's may be
  empty: the organisation's applies).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import zoneinfo
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Holiday, LoginAttempt, Organisation, Role, Team, User
from tandem.core.tasks import enqueue_on_commit, invitation_send

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LANGUAGE_CODES = {"en", "ru"}


# --- failed sign-ins ------------------------------------------------------------------------


@transaction.atomic
def login_failure_record(*, username: str, ip: str | None) -> None:
    """Keep a failed sign-in for the record (Django admin, pruned hourly). Lockout itself is
    django-axes' (`core.lockout`), which counts on its own."""
    LoginAttempt.objects.create(username=username.lower()[:150], ip=ip or None)


# --- organisation ---------------------------------------------------------------------------

ORGANISATION_TIME_ZONE_KEY = "tandem:organisation_time_zone"


def zone_is_known(name: str) -> bool:
    """Whether `name` is an IANA time zone that zoneinfo can load ("Europe/Moscow")."""
    if not name or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


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
        "require_admin_two_factor",
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
    if "time_zone" in out and not zone_is_known(str(out["time_zone"])):
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
    if "require_admin_two_factor" in out and not isinstance(out["require_admin_two_factor"], bool):
        errors["require_admin_two_factor"] = [_("yes or no")]
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
    transaction.on_commit(
        lambda: cache.delete_many(["tandem:organisation_currency", ORGANISATION_TIME_ZONE_KEY])
    )
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


# --- managing people and teams (the people pages and API) -----------------------------------


class Keep(enum.Enum):
    """A value left as it is (`user_change(team_id=KEEP)`), unlike None, which clears it."""

    KEEP = "keep"


KEEP = Keep.KEEP
TEAM_DEPARTMENT_VALUES = frozenset({Department.MARKETING, Department.SALES, Department.FIELD})


def _team_or_error(team_id: int | None, errors: dict[str, list[str]]) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        errors["team"] = [_("no such team")]
    return team


def _other_active_admins(user: User) -> bool:
    return User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists()


def _user_changes(before: dict[str, Any], user: User) -> dict[str, list[Any]]:
    changes = diff(before, snapshot(user))
    changes.pop("password", None)
    changes.pop("last_login", None)
    return changes


@transaction.atomic
def user_invite(
    *,
    actor: Actor,
    email: str,
    role: str,
    team_id: int | None = None,
    first_name: str = "",
    last_name: str = "",
    site_url: str,
) -> User:
    """Create a person without a password and send them, after commit, an email with a link to
    set one (`core.tasks.invitation_send`). Their username is their email address."""
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not email:
        errors["email"] = [_("an email address is required")]
    elif User.objects.filter(email__iexact=email).exists():
        errors["email"] = [_("someone with this email address is already a user")]
    team = _team_or_error(team_id, errors)
    if errors:
        raise InvalidInput(errors)
    try:
        user = user_create(
            actor=actor,
            username=email,
            role=role,
            password=None,
            email=email,
            team_name=team.name if team else None,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
    except InvalidInput as exc:
        # the username is the email address: say so on the field the person typed
        if "username" in exc.errors:
            exc.errors.setdefault("email", []).extend(exc.errors.pop("username"))
        raise
    enqueue_on_commit(invitation_send, user.pk, site_url.rstrip("/"))
    return user


@transaction.atomic
def user_invite_resend(*, actor: Actor, user_id: int, site_url: str) -> User:
    """Email an invited person a fresh set-password link (the old one keeps working until it
    expires or a password is set). Only for active people who have not set a password yet;
    nothing is stored, so there is nothing to audit."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise InvalidInput({"user": [_("no such user")]}, code="not_found")
    if not user.is_active or user.has_usable_password() or not user.email:
        message = _("only an active person who has not set a password yet can be invited again")
        raise InvalidInput({"user": [message]}, code="wrong_state")
    enqueue_on_commit(invitation_send, user.pk, site_url.rstrip("/"))
    return user


@transaction.atomic
def user_change(
    *,
    actor: Actor,
    user_id: int,
    role: str | Keep = KEEP,
    team_id: int | Keep | None = KEEP,
    first_name: str | Keep = KEEP,
    last_name: str | Keep = KEEP,
) -> User:
    """Change a person's role, team or name (KEEP leaves a field as it is)."""
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise InvalidInput({"user": [_("no such user")]}, code="not_found")
    before = snapshot(user)
    errors: dict[str, list[str]] = {}
    if not isinstance(role, Keep):
        if role not in Role.values:
            message = _("%(role)s is not a role; choose one of %(roles)s")
            errors["role"] = [message % {"role": repr(role), "roles": ", ".join(Role.values)}]
        elif user.role == Role.ADMIN and role != Role.ADMIN and not _other_active_admins(user):
            errors["role"] = [_("the last active admin cannot lose the admin role")]
        else:
            user.role = role
    if not isinstance(team_id, Keep):
        team = _team_or_error(team_id, errors)
        user.team = team
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if not isinstance(value, Keep):
            value = value.strip()
            if len(value) > 150:
                errors[field] = [_("at most 150 characters")]
            setattr(user, field, value)
    if errors:
        raise InvalidInput(errors)
    user.save(update_fields=["role", "team", "first_name", "last_name"])
    changes = _user_changes(before, user)
    if changes:
        record_change(actor=actor, action="update", instance=user, changes=changes)
    return user


@transaction.atomic
def user_deactivate(*, actor: Actor, user_id: int, successor_id: int | None) -> dict[str, int]:
    """Switch a person off and hand every record they own (each kind registered in
    `core.owned_records`) to `successor_id`, all or nothing. Returns how many moved, by kind.
    A successor is needed only when the person owns something."""
    from tandem.core.owned_records import owned_counts

    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise InvalidInput({"user": [_("no such user")]}, code="not_found")
    if not user.is_active:
        raise InvalidInput({"user": [_("this user is deactivated already")]}, code="wrong_state")
    if actor.user is not None and actor.user.pk == user.pk:
        raise InvalidInput({"user": [_("you cannot deactivate yourself")]})
    if user.role == Role.ADMIN and not _other_active_admins(user):
        raise InvalidInput({"user": [_("the last active admin cannot be deactivated")]})
    successor: User | None = None
    if successor_id is not None:
        successor = User.objects.filter(pk=successor_id, is_active=True).first()
        if successor is None or successor.pk == user.pk:
            raise InvalidInput({"successor": [_("choose another active user")]})
    counts = owned_counts(user)
    if successor is None and any(n for _kind, n in counts):
        owned = ", ".join(f"{kind.label}: {n}" for kind, n in counts if n)
        message = _("this user still owns records (%(owned)s): choose who takes them over")
        raise InvalidInput({"successor": [message % {"owned": owned}]})
    before = snapshot(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    moved: dict[str, int] = {}
    if successor is not None:
        for kind, count in counts:
            if count:
                moved[kind.key] = kind.reassign(actor=actor, source=user, target=successor)
    changes: dict[str, Any] = _user_changes(before, user)
    if successor is not None:
        changes["records_reassigned_to"] = [None, successor.pk]
        changes["records_moved"] = [None, moved]
    record_change(actor=actor, action="update", instance=user, changes=changes)
    return moved


@transaction.atomic
def user_password_set(*, actor: Actor, user: User, password: str) -> None:
    """Store a new password (the set-password link of an invitation, a reset); audited without
    the password."""
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    record_change(actor=actor, action="update", instance=user, changes={"password": ["***", "***"]})


@transaction.atomic
def user_profile_update(
    *, user: User, first_name: str, last_name: str, language: str, time_zone: str
) -> User:
    """A person's own name, language and time zone (empty zone: the organisation's)."""
    errors: dict[str, list[str]] = {}
    if language not in LANGUAGE_CODES and language != "":
        errors["language"] = [_("unknown language")]
    if time_zone and not zone_is_known(time_zone):
        errors["time_zone"] = [_("unknown time zone")]
    first_name, last_name = first_name.strip(), last_name.strip()
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > 150:
            errors[field] = [_("at most 150 characters")]
    if errors:
        raise InvalidInput(errors)
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = snapshot(locked)
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "language": language,
        "time_zone": time_zone,
    }
    for field, value in values.items():
        setattr(locked, field, value)
        setattr(user, field, value)
    locked.save(update_fields=list(values))
    changes = _user_changes(before, locked)
    if changes:
        record_change(actor=Actor(user=user), action="update", instance=locked, changes=changes)
    return user


def _clean_team(
    name: str, department: str, region: str, exclude_pk: int | None
) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    name, region = name.strip(), region.strip()
    if not name or len(name) > 200:
        errors["name"] = [_("a name of 1 to 200 characters is required")]
    elif Team.objects.filter(name__iexact=name).exclude(pk=exclude_pk or 0).exists():
        errors["name"] = [_("a team named %(name)s already exists") % {"name": repr(name)}]
    if department not in TEAM_DEPARTMENT_VALUES:
        errors["department"] = [
            _("%(department)s is not a team department") % {"department": repr(department)}
        ]
    if len(region) > 100:
        errors["region"] = [_("at most 100 characters")]
    if errors:
        raise InvalidInput(errors)
    return name, department, region


@transaction.atomic
def team_create(*, actor: Actor, name: str, department: str, region: str = "") -> Team:
    """A new team; its name is unique regardless of case."""
    name, department, region = _clean_team(name, department, region, None)
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, department=department, region=region)
    except IntegrityError:
        message = _("a team named %(name)s already exists") % {"name": repr(name)}
        raise InvalidInput({"name": [message]}) from None
    record_change(actor=actor, action="create", instance=team, changes=diff({}, snapshot(team)))
    return team


@transaction.atomic
def team_update(
    *, actor: Actor, team_id: int, name: str, department: str, region: str = ""
) -> Team:
    """Rename a team, or change its department or region."""
    team = Team.objects.select_for_update().filter(pk=team_id).first()
    if team is None:
        raise InvalidInput({"team": [_("no such team")]}, code="not_found")
    name, department, region = _clean_team(name, department, region, team.pk)
    before = snapshot(team)
    team.name, team.department, team.region = name, department, region
    try:
        with transaction.atomic():
            team.save(update_fields=["name", "department", "region"])
    except IntegrityError:
        message = _("a team named %(name)s already exists") % {"name": repr(name)}
        raise InvalidInput({"name": [message]}) from None
    changes = diff(before, snapshot(team))
    if changes:
        record_change(actor=actor, action="update", instance=team, changes=changes)
    return team
