"""LinkedIn: manual publishing only (its posting API needs an approved app and member consent).

The adapter is never configured, so the service marks every due LinkedIn post "manual
publishing needed"; the marketer posts it and records the address on the post page.
"""

from __future__ import annotations

from tandem.marketing.social.base import PostToPublish, PublishResult


class LinkedInAdapter:
    network = "linkedin"

    def configured(self) -> bool:
        return False

    def publish(self, post: PostToPublish) -> PublishResult:
        return PublishResult(status="manual")
