"""YouTube: manual publishing only (a post here is a video, uploaded in YouTube Studio).

The adapter is never configured; due posts are marked "manual publishing needed". The tracked
link goes into the video description.
"""

from __future__ import annotations

from tandem.marketing.social.base import PostToPublish, PublishResult


class YouTubeAdapter:
    network = "youtube"

    def configured(self) -> bool:
        return False

    def publish(self, post: PostToPublish) -> PublishResult:
        return PublishResult(status="manual")
