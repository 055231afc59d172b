"""Facebook: a Page post (Graph API `/{page-id}/feed`).

Settings: `SOCIAL_FACEBOOK = {"page_id": …, "access_token": …}` (a Page access token).
Contract: POST {api_base}/{page_id}/feed (message, link, access_token) -> `{"id": "123_456"}`;
a refusal is HTTP 4xx with `{"error": {"message": …}}`.
"""

from __future__ import annotations

from tandem.marketing.social.base import (
    PostToPublish,
    PublishResult,
    credentials,
    post_form,
)

GRAPH = "https://graph.facebook.com/v21.0"


class FacebookAdapter:
    network = "facebook"

    def configured(self) -> bool:
        c = credentials(self.network)
        return bool(c.get("page_id") and c.get("access_token"))

    def publish(self, post: PostToPublish) -> PublishResult:
        c = credentials(self.network)
        base = c.get("api_base", GRAPH).rstrip("/")
        fields = {"message": post.text, "access_token": c["access_token"]}
        if post.link:
            fields["link"] = post.link
        try:
            answer = post_form(f"{base}/{c['page_id']}/feed", fields)
        except (OSError, ValueError) as exc:
            return PublishResult(status="failed", error=str(exc)[:500])
        post_id = str(answer.get("id", ""))
        if not post_id:
            return PublishResult(status="failed", error="no post id in the answer")
        return PublishResult(
            status="published", external_id=post_id, url=f"https://www.facebook.com/{post_id}"
        )
