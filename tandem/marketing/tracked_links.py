"""The one place marketing calls tracking's tracked-link service (create a link, its public URL).

Tracking exposes its link service through `tandem.tracking.services.links`.
"""

from __future__ import annotations

from tandem.marketing.email.message import base_url
from tandem.tracking.models import TrackedLink
from tandem.tracking.services import links as _links

link_create = _links.link_create


def link_url(link: TrackedLink) -> str:
    """The absolute short URL to share: TANDEM_BASE_URL + /l/<token>."""
    return base_url() + _links.link_path(link)
