"""The messages of events: the invitation (confirmation, update, cancellation) and reminders.

An invitation is multipart/mixed: a multipart/alternative with the text and the
`text/calendar; method=…` part (RFC 6047, iMIP: what calendar clients act on), plus the same
calendar as an `invite.ics` attachment for clients that only show attachments. Messages are
handed to Django's email backend as SMTP bytes (CRLF).

Invariants:
- every message is From the configured default sender (`DEFAULT_FROM_EMAIL`, the domain DKIM
  signs for), never the organiser's address (which would fail DMARC for a domain we do not sign
  for); the organiser is in `Reply-To`, so answers reach them;
- Date, Message-ID and the DKIM signature are added by the email backend on the way out
  (`tandem.core.mail.outgoing`, the one home of signing), over Reply-To too;
- invitations do not ask for an RSVP (`RSVP=FALSE`): iTIP replies are not read back.
"""

from __future__ import annotations

import email.policy
import zoneinfo
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import get_connection
from django.utils.translation import gettext as _

from tandem.core.middleware import organisation_time_zone
from tandem.marketing.email.message import RawEmail
from tandem.marketing.events.ics import invitation
from tandem.marketing.events.models import MarketingEvent, Registration


def _when(event: MarketingEvent) -> str:
    """The event's time in the organisation's zone, named (a guest's own zone is not known)."""
    zone = zoneinfo.ZoneInfo(organisation_time_zone())
    starts, ends = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    return f"{starts:%Y-%m-%d %H:%M}-{ends:%H:%M} {zone.key}"


def _sender(event: MarketingEvent) -> str:
    """The default sender, shown with the organiser's name."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((event.organizer_name or name, address))


def _message(*, event: MarketingEvent, to: str, subject: str, text: str) -> MimeMessage:
    msg = MimeMessage(policy=email.policy.SMTP)
    sender = _sender(event)
    msg["From"] = sender
    if event.organizer_email:
        msg["Reply-To"] = Address(
            display_name=event.organizer_name, addr_spec=event.organizer_email
        )
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    return msg


def _wire(msg: MimeMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.SMTP)


def invitation_bytes(event: MarketingEvent, registration: Registration, method: str) -> bytes:
    ics = invitation(event, registration, method).decode("utf-8")
    if method == "CANCEL":
        subject = _("Cancelled: %(title)s") % {"title": event.title}
        text = _("%(title)s on %(when)s is cancelled. We are sorry.") % {
            "title": event.title,
            "when": _when(event),
        }
    else:
        prefix = _("Updated: ") if event.sequence else _("You are registered: ")
        subject = prefix + event.title
        text = _("%(title)s\n%(when)s\n%(where)s\n\nThe invitation is attached.") % {
            "title": event.title,
            "when": _when(event),
            "where": event.join_url or event.location,
        }
    msg = _message(event=event, to=registration.email, subject=subject, text=text)
    msg.add_alternative(ics, subtype="calendar", params={"method": method})
    msg.add_attachment(
        ics.encode("utf-8"),
        maintype="application",
        subtype="ics",
        filename="invite.ics",
    )
    return _wire(msg)


def reminder_bytes(event: MarketingEvent, registration: Registration, hours: int) -> bytes:
    msg = _message(
        event=event,
        to=registration.email,
        subject=_("Reminder: %(title)s") % {"title": event.title},
        text=_("%(title)s starts in about %(hours)s h: %(when)s\n%(where)s")
        % {
            "title": event.title,
            "hours": hours,
            "when": _when(event),
            "where": event.join_url or event.location,
        },
    )
    return _wire(msg)


def deliver(raw: bytes, *, to: str) -> None:
    get_connection().send_messages(
        [RawEmail(raw, envelope_from=settings.DEFAULT_FROM_EMAIL, to=to)]
    )
