"""Deployment checks (`manage.py check --deploy`, tag "deploy").

Invariants:
- `TANDEM_BASE_URL` unset, not an absolute https URL, or with a path, query or fragment is an
  error (tandem.E001): every link Tandem mails (invitations, confirmations, unsubscribe,
  tracked links) is built on it, and a wrong one sends people to the wrong place or over
  plain http.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    value = str(getattr(settings, "TANDEM_BASE_URL", "") or "")
    hint = "Set TANDEM_BASE_URL to Tandem's public address, e.g. https://crm.example.com."
    if not value:
        return [Error("TANDEM_BASE_URL is not set.", hint=hint, id="tandem.E001")]
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return [Error(f"TANDEM_BASE_URL {value!r} is not an https URL.", hint=hint,
                      id="tandem.E001")]  # fmt: skip
    if parts.path.strip("/") or parts.query or parts.fragment:
        return [Error(f"TANDEM_BASE_URL {value!r} has a path; give the site's root.", hint=hint,
                      id="tandem.E001")]  # fmt: skip
    return []
