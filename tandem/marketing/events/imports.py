"""Attendance (webinar platforms' CSV) and badge scans (conferences), no-shows, and the lead rule.

Attendance columns (Zoom-like, case-insensitive, BOM tolerated): "Email" (or "User Email"),
"Join Time", "Leave Time", "Time in Session (minutes)" (or "Duration (Minutes)"), optional
"Name"/"Name (Original Name)". A person who re-joined has several rows: their minutes add up,
the first join and the last leave are kept. Badge scans: "email", "name", "company", "scan time".

Invariants:
- a row with a bad email, time or number is reported (row number, reason) and stores nothing;
- someone not registered becomes a registration (source import/badge) with its touchpoint;
- `attended` goes to True with a conditional UPDATE (from NULL or False), and only that UPDATE
  records the `<kind>_attended` touchpoint: re-importing a file adds nothing;
- closing attendance marks the remaining registrations (attended NULL) as no-shows, each once;
- after the import's transaction, the event's lead rule runs if it is configured to
  (`events.rules`, each registration handled once), so a failing rule never undoes an import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.validation import clean_email
from tandem.marketing.csv_rows import RowReport, read_rows
from tandem.marketing.events import rules
from tandem.marketing.events.models import MarketingEvent, Registration
from tandem.marketing.events.services import _registration, _touch

ATTENDANCE_COLUMNS = {
    "email": ("Email", "User Email", "Attendee Email", "e-mail"),
    "name": ("Name", "Name (Original Name)", "User Name", "Full Name"),
    "join": ("Join Time", "Joined", "Join time (UTC)"),
    "leave": ("Leave Time", "Left", "Leave time (UTC)"),
    "minutes": ("Time in Session (minutes)", "Duration (Minutes)", "Minutes", "Duration"),
}
BADGE_COLUMNS = {
    "email": ("email", "e-mail", "Email Address"),
    "name": ("name", "Full Name"),
    "company": ("company", "Organization", "Organisation"),
    "scanned": ("scan time", "scanned at", "Scan Time (UTC)", "time"),
}
TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)


def parse_time(text: str) -> dt.datetime:
    """A platform's timestamp; naive values are in the site's time zone."""
    text = text.strip()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                value = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware below
                break
            except ValueError:
                continue
        else:
            raise ValueError(_("Not a date and time: %(v)s") % {"v": text[:40]}) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@dataclass
class _Seen:
    email: str
    name: str
    joined: dt.datetime | None
    left: dt.datetime | None
    minutes: int


def _mark_attended(
    event: MarketingEvent, registration: Registration, at: dt.datetime, **values: object
) -> bool:
    updated = (
        Registration.objects.filter(pk=registration.pk)
        .exclude(attended=True)
        .update(attended=True, **values)
    )
    if updated:
        _touch(event, registration, "attended", at)
    else:
        Registration.objects.filter(pk=registration.pk).update(**values)
    return bool(updated)


def _require_started(event: MarketingEvent, *, ended: bool = False) -> None:
    """Attendance exists only for an event that took place: refuse a cancelled event, one that
    has not started (badge scans, attendance) or not ended (closing the no-shows)."""
    now = timezone.now()
    if event.status == MarketingEvent.Status.CANCELLED:
        raise InvalidInput(_("The event was cancelled: it has no attendance."), code="cancelled")
    if ended and event.ends_at > now:
        raise InvalidInput(_("No-shows are known only once the event has ended."), code="not_ended")
    if event.starts_at > now:
        raise InvalidInput(
            _("The event has not started yet: attendance comes after it begins."),
            code="not_started",
        )


def attendance_import(
    *, actor: Actor, event: MarketingEvent, data: bytes, close: bool = True
) -> RowReport:
    """Attendance from a webinar platform's CSV export; then (by default) the no-shows once the
    event has ended."""
    _require_started(event)
    rows = list(read_rows(data, columns=ATTENDANCE_COLUMNS, required=("email",)))
    report = RowReport()
    people: dict[str, _Seen] = {}
    for number, row in rows:
        try:
            email = clean_email(row["email"])
        except ValueError:
            report.fail(number, _("email: not a valid address: %(v)s") % {"v": row["email"][:80]})
            continue
        try:
            joined = parse_time(row["join"]) if row.get("join") else None
            left = parse_time(row["leave"]) if row.get("leave") else None
            minutes_text = (row.get("minutes") or "").replace(",", ".")
            minutes = round(float(minutes_text)) if minutes_text else 0
            if minutes < 0 or minutes > 24 * 60 * 7:
                raise ValueError(_("minutes out of range: %(v)s") % {"v": minutes_text})
        except ValueError as exc:
            report.fail(number, str(exc))
            continue
        if not minutes and joined and left:
            minutes = max(0, round((left - joined).total_seconds() / 60))
        seen = people.get(email)
        if seen is None:
            people[email] = _Seen(email, row.get("name", ""), joined, left, minutes)
        else:
            seen.minutes += minutes
            seen.joined = min(filter(None, [seen.joined, joined]), default=None)
            seen.left = max(filter(None, [seen.left, left]), default=None)
    with transaction.atomic():
        for seen in people.values():
            at = seen.joined or event.starts_at
            registration, _created = _registration(
                event,
                email=seen.email,
                name=seen.name,
                company="",
                source=Registration.Source.IMPORT,
                at=at,
            )
            _mark_attended(
                event,
                registration,
                at,
                joined_at=seen.joined,
                left_at=seen.left,
                minutes=seen.minutes,
            )
            report.imported += 1
        if close and event.ends_at <= timezone.now():
            no_shows_close(event=event)
    rules.rule_apply_after_import(actor=actor, event=event)
    return report


def badge_scans_import(*, actor: Actor, event: MarketingEvent, data: bytes) -> RowReport:
    """A conference's badge scans: each scanned person attended (first scan time kept)."""
    _require_started(event)
    rows = list(read_rows(data, columns=BADGE_COLUMNS, required=("email",)))
    report = RowReport()
    with transaction.atomic():
        for number, row in rows:
            try:
                email = clean_email(row["email"])
            except ValueError:
                report.fail(
                    number, _("email: not a valid address: %(v)s") % {"v": row["email"][:80]}
                )
                continue
            try:
                scanned = parse_time(row["scanned"]) if row.get("scanned") else timezone.now()
            except ValueError as exc:
                report.fail(number, str(exc))
                continue
            registration, _created = _registration(
                event,
                email=email,
                name=row.get("name", ""),
                company=row.get("company", ""),
                source=Registration.Source.BADGE,
                at=scanned,
            )
            first = registration.scanned_at is None or scanned < registration.scanned_at
            _mark_attended(
                event,
                registration,
                scanned,
                scanned_at=scanned if first else registration.scanned_at,
            )
            report.imported += 1
    rules.rule_apply_after_import(actor=actor, event=event)
    return report


@transaction.atomic
def no_shows_close(*, event: MarketingEvent) -> int:
    """Registrations without attendance become no-shows (once each), after the event ended."""
    _require_started(event, ended=True)
    count = 0
    for registration in Registration.objects.filter(
        event=event, attended__isnull=True
    ).select_related("contact"):
        if Registration.objects.filter(pk=registration.pk, attended__isnull=True).update(
            attended=False
        ):
            _touch(event, registration, "no_show", event.ends_at)
            count += 1
    return count


def attendees_to_leads(*, actor: Actor, event: MarketingEvent) -> int:
    """On demand: apply the event's lead rule (its own, its kind's, or by default "attendees
    become leads"); returns how many registrations it handled this time."""
    return rules.rule_apply(actor=actor, event=event).handled
