"""The address of the client that sent a request: the one place Tandem reads it (rate limits,
audit rows, consent evidence, tracking ingestion, sign-in lockout).

`TANDEM_TRUSTED_PROXIES` (N, default 0) is how many reverse proxies stand between the internet
and Tandem. Each proxy appends the address it received the request from to X-Forwarded-For, so
behind N proxies the header ends with N entries that proxies wrote; everything to their left
was written by the client and is ignored.

Invariants:
- N = 0: REMOTE_ADDR, X-Forwarded-For never read (a client cannot choose its address);
- N >= 1: the Nth entry from the right of X-Forwarded-For (all its headers joined, as the
  WSGI server gives them); when the header holds fewer than N entries, or that entry is not an
  IP address, REMOTE_ADDR (never an entry the client could have written);
- the result is an IP address as text (at most 45 characters), or "" when there is none.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

MAX_LENGTH = 45  # the longest textual IPv6 address (IPv4-mapped)


def _ip(value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))[:MAX_LENGTH]
    except ValueError:
        return ""


def trusted_proxies() -> int:
    return max(0, int(getattr(settings, "TANDEM_TRUSTED_PROXIES", 0) or 0))


def client_address(request: HttpRequest) -> str:
    """The client's IP address (see the module invariants)."""
    remote = _ip(str(request.META.get("REMOTE_ADDR") or ""))
    depth = trusted_proxies()
    if depth == 0:
        return remote
    header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    if len(hops) < depth:
        return remote
    return _ip(hops[-depth]) or remote
