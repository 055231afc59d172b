"""Every message Tandem sends leaves through one place: `SmtpBackend`, the EMAIL_BACKEND when
SMTP_HOST is set. Confirmations, invitations, notifications, quotes, sequences and campaigns
(`send_mail`, `EmailMessage`, pre-built bytes, the pipelined campaign sender) all pass `outgoing`.

Invariants:
- a message on the wire has exactly one `Date`, in UTC written `+0000` (RFC 5322 3.3: the
  `-0000` that `formatdate(localtime=False)` and Django write means "zone unknown"), and one
  `Message-ID` whose domain is the DKIM domain, else the sender's domain (never the host name);
  a Date or Message-ID the message already has is kept, except a `-0000` Date, rewritten;
- when DKIM is configured (DKIM_DOMAIN, DKIM_SELECTOR, and DKIM_PRIVATE_KEY or
  DKIM_PRIVATE_KEY_FILE), the message is signed here and only here (rsa-sha256, relaxed/simple)
  over the `SIGNED_HEADERS` it carries; nothing touches the bytes after signing;
- a message is never signed twice (one that already carries a DKIM-Signature goes out as it is);
- TLS, both STARTTLS (SMTP_TLS) and TLS on connect (SMTP_SSL, port 465), verifies the server's
  certificate and host name against SMTP_CA_FILE when it is set, else against the system's
  trusted CAs; there is no switch to turn verification off.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import ssl
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address

from tandem.core import dkim_signing

SIGNED_HEADERS = [
    b"From", b"Sender", b"Reply-To", b"To", b"Cc", b"Subject", b"Date", b"Message-ID",
    b"In-Reply-To", b"References", b"MIME-Version", b"Content-Type",
    b"Content-Transfer-Encoding", b"List-Unsubscribe", b"List-Unsubscribe-Post",
]  # fmt: skip
UNKNOWN_ZONE_DATE = re.compile(rb"(?mi)^Date:[^\r\n]*-0000\r\n")


def setting(name: str) -> str:
    """A mail setting (config/settings.py reads each from the environment variable of its name)."""
    return str(getattr(settings, name, "") or "")


def dkim_key() -> bytes | None:
    """The configured private key (PEM), or None."""
    key = setting("DKIM_PRIVATE_KEY")
    if key:
        return key.encode()
    path = setting("DKIM_PRIVATE_KEY_FILE")
    return Path(path).read_bytes() if path else None


def dkim_signer() -> dkim_signing.Signer | None:
    """The configured signer (key parsed once per process), or None when DKIM is not set up."""
    domain, selector = setting("DKIM_DOMAIN"), setting("DKIM_SELECTOR")
    if not (domain and selector):
        return None
    key = dkim_key()
    return dkim_signing.signer_for(domain, selector, key) if key else None


def message_domain() -> str:
    """The domain of Message-IDs: the DKIM domain, else the default sender's."""
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return setting("DKIM_DOMAIN") or sender.rpartition("@")[2] or "localhost"


def date_now() -> str:
    """Now as a message Date: `Mon, 07 Dec 2026 11:40:00 +0000`."""
    return format_datetime(dt.datetime.now(dt.UTC).replace(microsecond=0))


def new_message_id() -> str:
    return make_msgid(domain=message_domain())


def _header_names(head: bytes) -> set[bytes]:
    return {
        line.partition(b":")[0].strip().lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    }


def outgoing(raw: bytes) -> bytes:
    """`raw` (CRLF SMTP bytes) as it goes on the wire: Date and Message-ID as the module says,
    then signed when DKIM is configured."""
    head, _sep, body = raw.partition(b"\r\n\r\n")
    names = _header_names(head)
    if b"dkim-signature" in names:
        return raw
    lines = head + b"\r\n"
    if b"date" not in names:
        lines = f"Date: {date_now()}\r\n".encode() + lines
    else:
        lines = UNKNOWN_ZONE_DATE.sub(f"Date: {date_now()}\r\n".encode(), lines, count=1)
    if b"message-id" not in names:
        lines = f"Message-ID: {new_message_id()}\r\n".encode() + lines
    raw = lines + b"\r\n" + body
    signer = dkim_signer()
    return signer.header(raw, SIGNED_HEADERS) + raw if signer is not None else raw


def stamp(message: EmailMessage) -> None:
    """Give a Django message our Date and Message-ID before Django builds it (it would write
    a `-0000` Date and a Message-ID naming this host)."""
    present = {name.lower() for name in message.extra_headers}
    if "date" not in present:
        message.extra_headers["Date"] = date_now()
    if "message-id" not in present:
        message.extra_headers["Message-ID"] = new_message_id()


class SmtpBackend(EmailBackend):
    """Django's SMTP backend that sends every message through `outgoing`, with the TLS context
    of the module docstring."""

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        cafile = getattr(settings, "SMTP_CA_FILE", "") or None
        context = ssl.create_default_context(cafile=cafile)
        if self.ssl_certfile:  # a client certificate, as Django allows
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def _send(self, email_message: EmailMessage) -> bool:
        if not email_message.recipients():
            return False
        stamp(email_message)
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email_message.from_email, encoding)
        recipients = [sanitize_address(address, encoding) for address in email_message.recipients()]
        built: Any = email_message.message()  # Django's SafeMIME message, or our raw bytes
        raw = outgoing(built.as_bytes(linesep="\r\n"))
        assert self.connection is not None
        try:
            self.connection.sendmail(from_email, recipients, raw)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True


def connection_of(backend: Any) -> smtplib.SMTP | None:
    """The open smtplib connection of a `SmtpBackend`, for senders that pipeline their own
    bytes (which they pass through `outgoing` first); None for any other backend."""
    if isinstance(backend, SmtpBackend):
        smtp = backend.connection
        return smtp if isinstance(smtp, smtplib.SMTP) else None
    return None
