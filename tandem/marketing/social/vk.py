"""VK: a community wall post (API method `wall.post`), its numbers (`wall.getById`) and the
connection test (`groups.getById`).

Credentials: `{"access_token": …, "owner_id": "-123456"}` (negative id = community), the
connection's or `SOCIAL_VK` in settings.
Contract (docs: dev.vk.com/method/wall.post, /wall.getById, /groups.getById):
- POST {api_base}/method/wall.post (owner_id, from_group=1, message, attachments,
  access_token, v) -> `{"response": {"post_id": 7}}`;
- POST {api_base}/method/wall.getById (posts=-123456_7,-123456_8, access_token, v) ->
  `{"response": {"items": [{"id": 7, "views": {"count"}, "likes": {"count"}, …}]}}` (older
  versions answer the list itself): impressions = views, reactions = likes;
- POST {api_base}/method/groups.getById (group_id = the community's id, access_token, v) ->
  `{"response": {"groups": [{"id", "name"}]}}` (or the list itself);
- a refusal is `{"error": {"error_code": 5, "error_msg": …}}` (5 = the token is not valid).
"""

from __future__ import annotations

from typing import Any

from tandem.marketing.social.base import (
    NetworkError,
    PostNumbers,
    PostToPublish,
    PublishResult,
    count,
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

    def call(self, method: str, params: dict[str, str]) -> Any:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.vk.com").rstrip("/")
        fields = {**params, "access_token": c["access_token"], "v": API_VERSION}
        try:
            answer = post_form(f"{base}/method/{method}", fields)
        except (OSError, ValueError) as exc:
            raise NetworkError(f"vk: {exc}"[:500]) from None
        if "error" in answer:
            error = answer["error"]
            text = error.get("error_msg", "") if isinstance(error, dict) else str(error)
            raise NetworkError(f"vk refused the request: {text}"[:500])
        return answer.get("response")

    @staticmethod
    def _items(response: Any, key: str) -> list[dict[str, Any]]:
        items = response.get(key, []) if isinstance(response, dict) else response
        return [i for i in items or [] if isinstance(i, dict)]

    def check(self) -> str:
        owner = credentials(self.network)["owner_id"]
        groups = self._items(self.call("groups.getById", {"group_id": owner.lstrip("-")}), "groups")
        if not groups:
            raise NetworkError(f"vk: community {owner} is not visible with this token")
        return str(groups[0].get("name") or owner)

    def fetch_stats(self, external_ids: list[str]) -> dict[str, PostNumbers]:
        owner = credentials(self.network)["owner_id"]
        found: dict[str, PostNumbers] = {}
        for start in range(0, len(external_ids), 100):
            chunk = external_ids[start : start + 100]
            posts = ",".join(f"{owner}_{post_id}" for post_id in chunk)
            for item in self._items(self.call("wall.getById", {"posts": posts}), "items"):
                found[str(item.get("id", ""))] = PostNumbers(
                    impressions=count(item.get("views")), reactions=count(item.get("likes"))
                )
        return found
