"""Build one marketing message: MIME multipart/alternative, tracking, RFC 8058 headers, DKIM.

Invariants:
- every message carries `List-Unsubscribe` (an https URL with the recipient's token) and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and both are covered by the DKIM signature
  when a key is configured (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE);
- links are rewritten to /e/c/<signed token>: the destination is inside the signature, so the
  click endpoint never redirects anywhere a message did not link to;
- the envelope sender is a VERP address bounces+<token>@<domain>, so a bounce names its recipient.
"""

from __future__ import annotations

import email.policy
import os
import re
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import dkim
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage

CLICK_SALT = "tandem.marketing.click"
SIGNED_HEADERS = [
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
    b"List-Unsubscribe", b"List-Unsubscribe-Post",
]  # fmt: skip
HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)


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


def footer(token: str) -> tuple[str, str]:
    """The visible unsubscribe/preferences footer (HTML, text) for one recipient."""
    from django.utils.translation import gettext as _

    unsub = f"{base_url()}/e/u/{token}"
    prefs = f"{base_url()}/e/p/{token}"
    html = (
        f'<p style="font-size:12px;color:#666"><a href="{unsub}">{_("Unsubscribe")}</a> · '
        f'<a href="{prefs}">{_("Email preferences")}</a></p>'
        f'<img src="{base_url()}/e/o/{token}" width="1" height="1" alt="">'
    )
    text = f"\n--\n{_('Unsubscribe')}: {unsub}\n{_('Email preferences')}: {prefs}\n"
    return html, text


def _dkim_key() -> bytes | None:
    key = setting("DKIM_PRIVATE_KEY")
    if key:
        return key.encode()
    path = setting("DKIM_PRIVATE_KEY_FILE")
    return Path(path).read_bytes() if path else None


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
    """The message as signed SMTP bytes (CRLF), and its Message-ID."""
    html_footer, text_footer = footer(token)
    msg = MimeMessage(policy=email.policy.SMTP)
    local, _at, domain = from_email.rpartition("@")
    msg["From"] = Address(display_name=from_name, username=local, domain=domain)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    message_id = make_msgid(domain=domain or None)
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = f"<{base_url()}/e/u/{token}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text + text_footer)
    msg.add_alternative(track_links(html, token) + html_footer, subtype="html")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    key = _dkim_key()
    dkim_domain, selector = setting("DKIM_DOMAIN"), setting("DKIM_SELECTOR")
    if key and dkim_domain and selector:
        signature = dkim.sign(
            raw,
            selector.encode(),
            dkim_domain.encode(),
            key,
            include_headers=SIGNED_HEADERS,
        )
        raw = signature + raw
    return raw, message_id


class _Raw:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def as_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        return self.raw

    def as_string(self, *args: Any, **kwargs: Any) -> str:
        return self.raw.decode("utf-8", "replace")

    def get_all(self, name: str, failobj: Any = None) -> Any:
        return failobj


class RawEmail(EmailMessage):
    """Hands pre-built, signed bytes to any Django email backend unchanged."""

    def __init__(self, raw: bytes, *, envelope_from: str, to: str) -> None:
        super().__init__(from_email=envelope_from, to=[to])
        self.raw = raw

    def message(self, *args: Any, **kwargs: Any) -> Any:
        return _Raw(self.raw)
