"""VK: a community wall post (API method `wall.post`).

Settings: `SOCIAL_VK = {"access_token": …, "owner_id": "-123456"}` (negative id = community).
Contract: POST {api_base}/method/wall.post (owner_id, from_group=1, message, attachments,
access_token, v) -> `{"response": {"post_id": 7}}`; a refusal is `{"error": {"error_msg": …}}`.
"""

from __future__ import annotations

from tandem.marketing.social.base import (
    PostToPublish,
    PublishResult,
    credentials,
    post_form,
)

API_VERSION = "5.199"


class VkAdapter:
    network = "vk"

    def configured(self) -> bool:
        c = credentials(self.network)
        return bool(c.get("access_token") and c.get("owner_id"))

    def publish(self, post: PostToPublish) -> PublishResult:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.vk.com").rstrip("/")
        fields = {
            "owner_id": c["owner_id"],
            "from_group": "1",
            "message": post.text,
            "access_token": c["access_token"],
            "v": API_VERSION,
        }
        if post.link:
            fields["attachments"] = post.link
        try:
            answer = post_form(f"{base}/method/wall.post", fields)
        except (OSError, ValueError) as exc:
            return PublishResult(status="failed", error=str(exc)[:500])
        if "error" in answer:
            error = answer["error"]
            text = error.get("error_msg", "") if isinstance(error, dict) else str(error)
            return PublishResult(status="failed", error=str(text)[:500])
        post_id = str((answer.get("response") or {}).get("post_id", ""))
        url = f"https://vk.com/wall{c['owner_id']}_{post_id}" if post_id else ""
        return PublishResult(status="published", external_id=post_id, url=url)
