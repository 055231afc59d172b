"""Build one marketing message: MIME multipart/alternative, tracking, RFC 8058 headers.

Invariants:
- every message carries `List-Unsubscribe` (an https URL with the recipient's token) and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; the email backend signs both with the
  rest when DKIM is configured (`tandem.core.mail.outgoing`, the one home of signing);
- every message carries its Date (UTC, `+0000`) and Message-ID (the send stores it);
- links are rewritten to /e/c/<signed token>: the destination is inside the signature, so the
  click endpoint never redirects anywhere a message did not link to;
- the envelope sender is a VERP address bounces+<token>@<domain>, so a bounce names its recipient.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from email.headerregistry import Address
from email.utils import format_datetime, make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage

CLICK_SALT = "tandem.marketing.click"
SMTP_POLICY = email.policy.SMTP
HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
LIST_UNSUBSCRIBE_POST = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
MIME_VERSION = b"MIME-Version: 1.0\r\n"
SHORT_PAYLOAD = 120  # bytes of click JSON below which zlib never saves anything worth it


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@functools.lru_cache(maxsize=512)
def _json(value: str) -> str:
    return json.dumps(value)


def setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, None) or os.environ.get(name, default))


def base_url() -> str:
    return setting("TANDEM_BASE_URL", "http://localhost:8000").rstrip("/")


def bounce_domain() -> str:
    fallback = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return setting("BOUNCE_DOMAIN", fallback)


def verp_address(token: str) -> str:
    return f"bounces+{token}@{bounce_domain()}"


def click_url(token: str, url: str) -> str:
    return (
        f"{base_url()}/e/c/{signing.dumps({'r': token, 'u': url}, salt=CLICK_SALT, compress=True)}"
    )


def click_target(signed: str) -> tuple[str, str] | None:
    """(recipient token, destination) of a click link, or None if it was not made by us."""
    try:
        data = signing.loads(signed, salt=CLICK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str):
        return None
    url = data.get("u")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return data["r"], url


def track_links(html: str, token: str) -> str:
    return HREF.sub(lambda m: f'href="{click_url(token, m.group(1))}"', html)


def _header(name: str, value: str) -> bytes:
    """One header line. Short ASCII values are written as they are; anything else (non-ASCII,
    long, or looking like an encoded word) is folded and encoded by the standard library."""
    line = f"{name}: {value}\r\n"
    if len(line) <= 80 and value.isascii() and "=?" not in value and value.isprintable():
        return line.encode("ascii")
    return _folded(name, value)


def _folded(name: str, value: str) -> bytes:
    """A header encoded (RFC 2047) and folded as the standard library does for messages."""
    header = SMTP_POLICY.header_factory(name, value)
    return header.fold(policy=SMTP_POLICY).encode("ascii")


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (never contains "=_", see `BOUNDARY`)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(lines.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


class Builder:
    """Builds many messages of one send: the sender and footer wording are prepared once;
    per message only the recipient's parts are encoded.

    The message is multipart/alternative (text/plain then text/html, both UTF-8
    quoted-printable). The boundary starts with "=_", which quoted-printable output can never
    contain, so no body can end a part early."""

    def __init__(self, *, from_email: str, from_name: str) -> None:
        from django.utils.translation import gettext as _

        local, _at, self.domain = from_email.rpartition("@")
        address = Address(display_name=from_name, username=local, domain=self.domain)
        self.from_header = _folded("From", str(address))
        self.base = base_url()
        self.unsubscribe_label, self.preferences_label = _("Unsubscribe"), _("Email preferences")
        self.click_signer = signing.TimestampSigner(salt=CLICK_SALT)
        # Django's Signer.signature: HMAC-SHA256 keyed with sha256(salt + "signer" + secret).
        key = hashlib.sha256(
            _bytes(self.click_signer.salt) + b"signer" + _bytes(self.click_signer.key)
        ).digest()
        self.click_hmac = hmac.new(key, digestmod=hashlib.sha256)
        self.stamp_at, self.stamp = -1, ""
        self.date_at, self.date_line = -1, b""

    def click_url(self, token: str, url: str) -> str:
        """Same link as `click_url` (what `signing.dumps(..., salt=CLICK_SALT, compress=True)`
        makes, which `click_target` reads), with the HMAC key derived once per send and no
        zlib attempt for short payloads (Django keeps them uncompressed anyway)."""
        now = int(time.time())
        if now != self.stamp_at:
            self.stamp_at, self.stamp = now, signing.b62_encode(now)
        data = f'{{"r":{_json(token)},"u":{_json(url)}}}'.encode()
        if len(data) > SHORT_PAYLOAD:
            signed = self.click_signer.sign_object({"r": token, "u": url}, compress=True)
            return f"{self.base}/e/c/{signed}"
        value = f"{base64.urlsafe_b64encode(data).rstrip(b'=').decode()}:{self.stamp}"
        mac = self.click_hmac.copy()
        mac.update(value.encode())
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
        return f"{self.base}/e/c/{value}:{signature}"

    def track_links(self, html: str, token: str) -> str:
        return HREF.sub(lambda m: f'href="{self.click_url(token, m.group(1))}"', html)

    def footer(self, token: str) -> tuple[str, str]:
        unsub, prefs = f"{self.base}/e/u/{token}", f"{self.base}/e/p/{token}"
        html = (
            f'<p style="font-size:12px;color:#666"><a href="{unsub}">{self.unsubscribe_label}</a>'
            f' · <a href="{prefs}">{self.preferences_label}</a></p>'
            f'<img src="{self.base}/e/o/{token}" width="1" height="1" alt="">'
        )
        text = f"\n--\n{self.unsubscribe_label}: {unsub}\n{self.preferences_label}: {prefs}\n"
        return html, text

    def date_header(self) -> bytes:
        now = int(time.time())
        if now != self.date_at:
            when = dt.datetime.fromtimestamp(now, dt.UTC)
            self.date_at, self.date_line = now, _header("Date", format_datetime(when))
        return self.date_line

    def build(
        self, *, to: str, subject: str, html: str, text: str, token: str
    ) -> tuple[bytes, str]:
        """The message as SMTP bytes (CRLF), unsigned (the backend signs), and its Message-ID.
        ValueError for an address or subject that cannot be a header (line breaks)."""
        if "\r" in to or "\n" in to or "\r" in subject or "\n" in subject:
            raise ValueError("line break in a header value")
        html_footer, text_footer = self.footer(token)
        message_id = make_msgid(domain=self.domain or None)
        boundary = "=_" + secrets.token_hex(12)
        lines = {
            b"from": self.from_header,
            b"to": _header("To", to),
            b"subject": _header("Subject", subject),
            b"date": self.date_header(),
            b"message-id": _header("Message-ID", message_id),
            b"list-unsubscribe": _header("List-Unsubscribe", f"<{self.base}/e/u/{token}>"),
            b"list-unsubscribe-post": LIST_UNSUBSCRIBE_POST,
            b"mime-version": MIME_VERSION,
            b"content-type": (
                f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode()
            ),
        }
        head = b"".join(lines.values())
        delimiter = f"--{boundary}\r\n".encode()
        part_head = 'Content-Type: text/{}; charset="utf-8"\r\n'
        cte = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        body = b"".join(
            [
                delimiter,
                part_head.format("plain").encode(),
                cte,
                _qp(text + text_footer),
                b"\r\n",
                delimiter,
                part_head.format("html").encode(),
                cte,
                _qp(self.track_links(html, token) + html_footer),
                b"\r\n",
                f"--{boundary}--\r\n".encode(),
            ]
        )
        raw = head + b"\r\n" + body
        return raw, message_id


def build(
    *,
    from_email: str,
    from_name: str,
    to: str,
    subject: str,
    html: str,
    text: str,
    token: str,
) -> tuple[bytes, str]:
    """One message as SMTP bytes (CRLF), and its Message-ID (see `Builder`)."""
    builder = Builder(from_email=from_email, from_name=from_name)
    return builder.build(to=to, subject=subject, html=html, text=text, token=token)


class _Raw:
    """What Django's email backends read of a message (SMTP, console, file, locmem): the bytes,
    as they are, and no charset of their own (the MIME parts carry theirs)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def get_charset(self) -> None:
        return None

    def as_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        return self.raw

    def as_string(self, *args: Any, **kwargs: Any) -> str:
        return self.raw.decode("utf-8", "replace")

    def get_all(self, name: str, failobj: Any = None) -> Any:
        return failobj


class RawEmail(EmailMessage):
    """Hands pre-built bytes to any Django email backend (ours signs them on the way out)."""

    def __init__(self, raw: bytes, *, envelope_from: str, to: str) -> None:
        super().__init__(from_email=envelope_from, to=[to])
        self.raw = raw

    def message(self, *args: Any, **kwargs: Any) -> Any:
        return _Raw(self.raw)
