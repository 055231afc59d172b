"""Signed outgoing webhooks, one way for every app: Standard Webhooks secrets and signatures,
URLs vetted before each request, and the request sent to the address that was vetted.

- secrets are `whsec_` + base64 of 32 random bytes (`secret_new`), stored encrypted with
  `encrypt_secret` (Fernet; key derived from SECRET_KEY; SECRET_KEY_FALLBACKS still decrypt);
- `signed_headers` gives one attempt's `webhook-id`, `webhook-timestamp` and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` (plus the legacy
  `X-Tandem-*` headers when asked); `verify` checks an incoming request signed the same way,
  within `TOLERANCE` of its timestamp;
- `check_url` refuses anything but http(s) to public addresses (unless WEBHOOK_ALLOW_PRIVATE),
  no credentials in the URL; `post` sends to the checked address (no second DNS lookup), no
  redirects, `TIMEOUT` seconds.

Used by segment reactions (tandem.marketing.segments.reactions) and automation flows.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import os
import secrets
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.core.netguard import is_public_address

TIMEOUT = 10.0
USER_AGENT = "Tandem-Webhooks/1"
TOLERANCE = dt.timedelta(minutes=5)


# --- secrets --------------------------------------------------------------------------------


def _fernet(secret_key: str) -> Fernet:
    # the derivation every stored secret was encrypted with (named after its first user)
    digest = hashlib.sha256(f"tandem.marketing.webhook-secret:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            return _fernet(key).decrypt(token.encode()).decode()
        except InvalidToken:
            continue
    return None


SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)


def secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret: the decoded bytes."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, body: bytes) -> str:
    """The legacy `X-Tandem-Signature` value (hooks created before Standard Webhooks)."""
    return "sha256=" + hmac.new(secret_key(secret), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message_id(event_id: int) -> str:
    return f"msg_{event_id}"


def signed_headers(
    *,
    secret: str,
    event_id: int,
    event_type: str,
    body: bytes,
    at: dt.datetime,
    legacy: bool,
    msg_id: str = "",
) -> dict[str, str]:
    """The headers of one attempt (Standard Webhooks, plus the legacy ones when asked)."""
    msg_id = msg_id or message_id(event_id)
    timestamp = int(at.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }
    if legacy:
        headers["X-Tandem-Event"] = event_type
        headers["X-Tandem-Event-Id"] = str(event_id)
        headers["X-Tandem-Signature"] = sign(secret, body)
    return headers


# --- URLs -----------------------------------------------------------------------------------


def allow_private() -> bool:
    value = getattr(settings, "WEBHOOK_ALLOW_PRIVATE", None)
    if value is None:
        value = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "")
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _public(address: str) -> bool:
    return is_public_address(address)  # the one guard, shared with tracked links


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked address the request goes to
    path: str


def check_url(url: str) -> Target:
    """Parse and vet a webhook URL (see the module docstring); InvalidInput when refused."""

    def refuse(message: str) -> InvalidInput:
        return InvalidInput({"url": [message]})

    url = (url or "").strip()
    if not url:
        raise refuse(_("This field is required."))
    if len(url) > 500:
        raise refuse(_("At most %(n)d characters.") % {"n": 500})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse(_("Not a valid URL.")) from None
    if parts.scheme not in ("http", "https"):
        raise refuse(_("Only http and https addresses are allowed."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refuse(_("Put no user name or password in the URL: the signature authenticates."))
    host = parts.hostname or ""
    if not host or any(c.isspace() for c in url):
        raise refuse(_("Not a valid URL."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise refuse(_("The host name could not be resolved.")) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise refuse(_("The host name could not be resolved."))
    if not allow_private() and not all(_public(a) for a in addresses):
        raise refuse(
            _("This address is private, loopback or reserved: webhooks go to public hosts only.")
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, addresses[0], path)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an already-checked address, verifying the certificate for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to the checked target; returns the HTTP status (OSError if no answer)."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target.host, target.address, target.port, TIMEOUT)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=TIMEOUT)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "Host": host_header})
        response = connection.getresponse()
        response.read(65536)
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from None
    finally:
        connection.close()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: dt.datetime) -> bool:
    """Whether an incoming request carries a valid Standard Webhooks signature of `body` by
    `secret`, timestamped within `TOLERANCE` of `now` (any of its space-separated `v1,`
    signatures may match)."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs(now.timestamp() - int(stamp)) > TOLERANCE.total_seconds():
        return False
    try:
        expected = standard_signature(secret, msg_id, int(stamp), body)
    except ValueError:
        return False
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, signature) for signature in given)
