"""iCalendar invitations for one attendee (RFC 5545 objects, RFC 5546 iTIP methods).

    invitation(event, registration, method="REQUEST") -> bytes   # a VCALENDAR

Invariants:
- the VEVENT's UID is the event's `uid` for every version, so calendar clients update the entry
  they already have instead of adding a new one;
- SEQUENCE is the event's `sequence`: it only grows, so an update (higher SEQUENCE) supersedes
  the earlier REQUEST and a CANCEL removes the entry;
- REQUEST carries STATUS:CONFIRMED and the ATTENDEE with PARTSTAT=NEEDS-ACTION and RSVP=FALSE
  (iTIP replies are not read back, so no answer is asked for);
  CANCEL carries STATUS:CANCELLED; both carry ORGANIZER and DTSTAMP (now, UTC).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from tandem.marketing.events.models import MarketingEvent, Registration

METHODS = ("REQUEST", "CANCEL")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def invitation(event: MarketingEvent, registration: Registration, method: str) -> bytes:
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    cal = Calendar()
    cal.add("prodid", "-//Tandem//Events//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", _utc(timezone.now()))
    vevent.add("dtstart", _utc(event.starts_at))
    vevent.add("dtend", _utc(event.ends_at))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    location = event.location or event.join_url
    if location:
        vevent.add("location", location)
    if event.join_url:
        vevent.add("url", event.join_url)
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{event.organizer_email}")
    organizer.params["cn"] = vText(event.organizer_name)
    vevent.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{registration.email}")
    if registration.name:
        attendee.params["cn"] = vText(registration.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["cutype"] = vText("INDIVIDUAL")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("FALSE")
    vevent.add("attendee", attendee)
    cal.add_component(vevent)
    return cal.to_ical()
