"""YouTube: the tracked link goes into an existing video's description (Data API videos.update).

The public YouTube Data API cannot create community posts, and a new video means an upload made
in YouTube Studio. What it can do is change a video's description, so "publishing" a YouTube
post means: the post's text names the video (a youtube.com/watch?v=…, youtu.be/… or
youtube.com/shorts/… address); the rest of the text and the tracked link are appended to that
video's description. A post that names no video is marked manual (with the reason).

Settings: `SOCIAL_YOUTUBE = {"access_token": …}` (OAuth token of the channel's owner with the
`youtube.force-ssl` scope; tokens live an hour, so an expired one fails with HTTP 401 and a
message saying to renew it). Without a token the adapter is not configured: posts are manual.

Contract (docs: developers.google.com/youtube/v3/docs/videos/list and /videos/update):
1. GET {api_base}/youtube/v3/videos?part=snippet&id=ID -> `{"items": [{"id", "snippet":
   {"title", "categoryId", "description", "tags", …}}]}` (no item: not the channel's video);
2. PUT {api_base}/youtube/v3/videos?part=snippet with `{"id", "snippet": {"title",
   "categoryId", "description", "tags", "defaultLanguage"?}}` — updating `snippet` replaces all
   of it, so the fields read in step 1 are sent back unchanged -> 200 with the video resource.
3. statistics: GET {api_base}/youtube/v3/videos?part=statistics&id=A,B -> `{"items": [{"id",
   "statistics": {"viewCount": "1200", "likeCount": "60", …}}]}` (counts as strings; clicks =
   views, reactions = likes, as the statistics import maps YouTube Studio's columns; the Data API
   has no impressions);
4. the connection test: GET {api_base}/youtube/v3/channels?part=snippet&mine=true ->
   `{"items": [{"id", "snippet": {"title"}}]}`.
A description holds at most 5000 bytes and no "<" or ">": a longer or such text fails, nothing
changed. If the description already carries the tracked link, nothing is sent (idempotent).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tandem.marketing.social.base import (
    HttpFailure,
    NetworkError,
    PostNumbers,
    PostToPublish,
    PublishResult,
    count,
    credentials,
    failure_result,
    network_error,
    request_json,
)

VIDEO = re.compile(
    r"https?://(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:[^\s]*&)?v=|shorts/)|youtu\.be/)"
    r"([A-Za-z0-9_-]{11})[^\s]*"
)
KEPT = ("title", "categoryId", "tags", "defaultLanguage", "defaultAudioLanguage")
MAX_DESCRIPTION_BYTES = 5000


def video_in(text: str) -> tuple[str, str]:
    """(video id, the text without the video's address); ("", text) if no video is named."""
    found = VIDEO.search(text)
    if found is None:
        return "", text
    rest = (text[: found.start()] + text[found.end() :]).strip()
    return found.group(1), re.sub(r"\n{3,}", "\n\n", rest)


class YouTubeAdapter:
    network = "youtube"

    def configured(self) -> bool:
        return bool(credentials(self.network).get("access_token"))

    def publish(self, post: PostToPublish) -> PublishResult:
        video_id, text = video_in(post.text)
        if not video_id:
            return PublishResult(
                status="manual",
                error="name the video (its youtube.com address) in the post to update it",
            )
        c = credentials(self.network)
        base = c.get("api_base", "https://www.googleapis.com").rstrip("/")
        headers = {"Authorization": f"Bearer {c['access_token']}"}
        url = f"{base}/youtube/v3/videos?part=snippet"
        watch = f"https://www.youtube.com/watch?v={video_id}"
        try:
            found = request_json("GET", f"{url}&id={quote(video_id)}", headers=headers)
            items = found.body.get("items") or []
            if not items or not isinstance(items[0], dict):
                return PublishResult(
                    status="failed", error=f"video {video_id} not found on this channel"
                )
            snippet: dict[str, Any] = items[0].get("snippet") or {}
            current = str(snippet.get("description") or "")
            if post.link and post.link in current:
                return PublishResult(status="published", external_id=video_id, url=watch)
            addition = "\n".join(part for part in (text, post.link) if part)
            description = f"{current.rstrip()}\n\n{addition}".strip()
            if "<" in description or ">" in description:
                return PublishResult(
                    status="failed", error="a YouTube description cannot contain < or >"
                )
            if len(description.encode()) > MAX_DESCRIPTION_BYTES:
                return PublishResult(
                    status="failed",
                    error="the description would be longer than YouTube's 5000 bytes",
                )
            new_snippet = {k: snippet[k] for k in KEPT if k in snippet}
            new_snippet["description"] = description
            request_json("PUT", url, headers=headers, body={"id": video_id, "snippet": new_snippet})
        except (HttpFailure, OSError, ValueError) as exc:
            return failure_result(self.network, exc)
        return PublishResult(status="published", external_id=video_id, url=watch)

    def _get(self, query: str) -> dict[str, Any]:
        c = credentials(self.network)
        base = c.get("api_base", "https://www.googleapis.com").rstrip("/")
        headers = {"Authorization": f"Bearer {c['access_token']}"}
        try:
            return request_json("GET", f"{base}/youtube/v3/{query}", headers=headers).body
        except (HttpFailure, OSError, ValueError) as exc:
            raise network_error(self.network, exc) from None

    def check(self) -> str:
        items = self._get("channels?part=snippet&mine=true").get("items") or []
        if not items or not isinstance(items[0], dict):
            raise NetworkError("youtube: this token has no channel")
        return str((items[0].get("snippet") or {}).get("title") or items[0].get("id"))

    def fetch_stats(self, external_ids: list[str]) -> dict[str, PostNumbers]:
        found: dict[str, PostNumbers] = {}
        for start in range(0, len(external_ids), 50):  # videos.list takes at most 50 ids
            ids = ",".join(quote(v) for v in external_ids[start : start + 50])
            for item in self._get(f"videos?part=statistics&id={ids}").get("items") or []:
                if not isinstance(item, dict):
                    continue
                numbers = item.get("statistics") or {}
                found[str(item.get("id"))] = PostNumbers(
                    clicks=count(numbers.get("viewCount")),
                    reactions=count(numbers.get("likeCount")),
                )
        return found
