"""The messages of events: the invitation (confirmation, update, cancellation) and reminders.

An invitation is multipart/mixed: a multipart/alternative with the text and the
`text/calendar; method=…` part (RFC 6047, iMIP: what calendar clients act on), plus the same
calendar as an `invite.ics` attachment for clients that only show attachments. Messages are
handed to Django's email backend as SMTP bytes (CRLF).
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.core.mail import get_connection
from django.utils.translation import gettext as _

from tandem.marketing.email.message import RawEmail
from tandem.marketing.events.ics import invitation
from tandem.marketing.models_events import MarketingEvent, Registration


def _when(event: MarketingEvent) -> str:
    return f"{event.starts_at:%Y-%m-%d %H:%M}-{event.ends_at:%H:%M} UTC"


def _message(*, to: str, subject: str, text: str, from_email: str) -> MimeMessage:
    msg = MimeMessage(policy=email.policy.SMTP)
    msg["From"] = from_email
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=from_email.rpartition("@")[2] or None)
    msg.set_content(text)
    return msg


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
    msg = _message(
        to=registration.email,
        subject=subject,
        text=text,
        from_email=event.organizer_email or settings.DEFAULT_FROM_EMAIL,
    )
    msg.add_alternative(ics, subtype="calendar", params={"method": method})
    msg.add_attachment(
        ics.encode("utf-8"),
        maintype="application",
        subtype="ics",
        filename="invite.ics",
    )
    return msg.as_bytes(policy=email.policy.SMTP)


def reminder_bytes(event: MarketingEvent, registration: Registration, hours: int) -> bytes:
    msg = _message(
        to=registration.email,
        subject=_("Reminder: %(title)s") % {"title": event.title},
        text=_("%(title)s starts in about %(hours)s h: %(when)s\n%(where)s")
        % {
            "title": event.title,
            "hours": hours,
            "when": _when(event),
            "where": event.join_url or event.location,
        },
        from_email=event.organizer_email or settings.DEFAULT_FROM_EMAIL,
    )
    return msg.as_bytes(policy=email.policy.SMTP)


def deliver(raw: bytes, *, to: str) -> None:
    get_connection().send_messages(
        [RawEmail(raw, envelope_from=settings.DEFAULT_FROM_EMAIL, to=to)]
    )
