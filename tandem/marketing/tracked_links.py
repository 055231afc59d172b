"""The one place marketing calls tracking's tracked-link service (create a link, its public URL).

Tracking's `services` module does not re-export `links` yet; this adapter keeps the import in one
place so the boundary is easy to fix when it does (see docs/marketing.md).
"""

from __future__ import annotations

from tandem.marketing.email.message import base_url
from tandem.tracking import links as _links  # tracking's link service (not re-exported yet)
from tandem.tracking.models import TrackedLink

link_create = _links.link_create


def link_url(link: TrackedLink) -> str:
    """The absolute short URL to share: TANDEM_BASE_URL + /l/<token>."""
    return base_url() + _links.link_path(link)
