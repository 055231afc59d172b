"""Facebook: a Page post (Graph API `/{page-id}/feed`).

Credentials: `{"page_id": …, "access_token": …}` (a Page access token with
pages_manage_posts and read_insights), the connection's or `SOCIAL_FACEBOOK` in settings.
Contract (docs: developers.facebook.com/docs/graph-api/reference/page/feed, /insights):
- POST {api_base}/{page_id}/feed (message, link, access_token) -> `{"id": "123_456"}`;
- GET {api_base}/{post_id}/insights?metric=post_impressions,post_clicks,
  post_reactions_by_type_total&access_token=… -> `{"data": [{"name", "period": "lifetime",
  "values": [{"value": 1500}]}, …]}` (reactions: a count per kind, summed);
- GET {api_base}/{page_id}?fields=id,name&access_token=… -> `{"id", "name"}` (the test);
- a refusal is HTTP 4xx with `{"error": {"message": …, "code": 190}}` (190 = bad token).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from tandem.marketing.social.base import (
    HttpFailure,
    PostNumbers,
    PostToPublish,
    PublishResult,
    count,
    credentials,
    network_error,
    post_form,
    request_json,
)

GRAPH = "https://graph.facebook.com/v21.0"
METRICS = ("post_impressions", "post_clicks", "post_reactions_by_type_total")


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

    def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        c = credentials(self.network)
        base = c.get("api_base", GRAPH).rstrip("/")
        url = f"{base}/{quote(path)}?{urlencode({**query, 'access_token': c['access_token']})}"
        try:
            return request_json("GET", url, headers={}).body
        except (HttpFailure, OSError, ValueError) as exc:
            raise network_error(self.network, exc) from None

    def check(self) -> str:
        page = credentials(self.network)["page_id"]
        return str(self._get(page, {"fields": "id,name"}).get("name") or page)

    def fetch_stats(self, external_ids: list[str]) -> dict[str, PostNumbers]:
        found: dict[str, PostNumbers] = {}
        for post_id in external_ids:
            answer = self._get(f"{post_id}/insights", {"metric": ",".join(METRICS)})
            values: dict[str, Any] = {}
            for row in answer.get("data") or []:
                points = (row.get("values") if isinstance(row, dict) else None) or [{}]
                if isinstance(row, dict) and isinstance(points[-1], dict):
                    values[str(row.get("name"))] = points[-1].get("value")
            reactions = values.get("post_reactions_by_type_total")
            found[post_id] = PostNumbers(
                impressions=count(values.get("post_impressions")),
                clicks=count(values.get("post_clicks")),
                reactions=(
                    sum(c for c in (count(v) for v in reactions.values()) if c is not None)
                    if isinstance(reactions, dict)
                    else count(reactions)
                ),
            )
        return found
