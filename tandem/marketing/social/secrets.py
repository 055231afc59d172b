"""Encryption of the social networks' credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key: `SOCIAL_CREDENTIALS_KEY` (a setting or the environment variable of that name; any
passphrase, or several separated by commas: the first encrypts, every one decrypts, so a key is
rotated by putting the new one first and keeping the old one after it until every connection
has been saved again). Without it, the key is derived from `SECRET_KEY`, and the keys of
`SECRET_KEY_FALLBACKS` still decrypt. Each passphrase becomes a Fernet key through SHA-256 with a
label of its own, so the same SECRET_KEY gives these credentials a key no other part of Tandem
uses.

Invariants:
- `encrypt` never returns text containing the secrets in clear; `decrypt` returns None (never
  raises) for a value no configured key opens: the connection then counts as not configured and
  the page says to enter the credentials again;
- `hint` shows at most the last four characters of a secret, and nothing of a short one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

LABEL = "tandem.marketing.social-credentials:"


def _passphrases() -> list[str]:
    value = getattr(settings, "SOCIAL_CREDENTIALS_KEY", None)
    if value is None:
        value = os.environ.get("SOCIAL_CREDENTIALS_KEY", "")
    if isinstance(value, list | tuple):
        dedicated = [str(v).strip() for v in value if str(v).strip()]
    else:
        dedicated = [v.strip() for v in str(value).split(",") if v.strip()]
    if dedicated:
        return dedicated
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _fernet(passphrase: str) -> Fernet:
    digest = hashlib.sha256(f"{LABEL}{passphrase}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(p) for p in _passphrases()])


def encrypt(secrets: dict[str, str]) -> str:
    return _keys().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str] | None:
    if not token:
        return None
    try:
        value = json.loads(_keys().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


def hint(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"
