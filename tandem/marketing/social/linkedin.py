"""LinkedIn: an organisation's (or member's) post through the Posts API.

Settings: `SOCIAL_LINKEDIN = {"access_token": …, "author": "urn:li:organization:123",
"version": "202411"}` (`version` is the `LinkedIn-Version` header, YYYYMM; the token needs the
`w_organization_social` scope for an organisation, `w_member_social` for a member). Without both
the token and an author URN the adapter is not configured and posts are marked manual.

Contract (docs: learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api):
POST {api_base}/rest/posts with `Authorization: Bearer …`, `LinkedIn-Version: YYYYMM`,
`X-Restli-Protocol-Version: 2.0.0`, JSON body
`{"author", "commentary", "visibility": "PUBLIC", "distribution": {"feedDistribution":
"MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []}, "lifecycleState":
"PUBLISHED", "isReshareDisabledByAuthor": false}` plus, with a link, `"content": {"article":
{"source": <tracked link>, "title": …}}` -> 201 with an empty body and the post's URN in the
`x-restli-id` header. `commentary` is LinkedIn's "little text" format: its reserved characters
are escaped with a backslash. 401 = expired/revoked token; 429 = throttled (Retry-After).
The connection test: GET {api_base}/rest/organizations/{id} (same headers) -> `{"id",
"localizedName"}`; for a member author GET {api_base}/v2/userinfo -> `{"sub", "name"}`.
Post statistics need LinkedIn's Community Management approval for organisation share
statistics, which this adapter does not ask for: LinkedIn's numbers come from the import.
"""

from __future__ import annotations

import re

from tandem.marketing.social.base import (
    HttpFailure,
    PostToPublish,
    PublishResult,
    credentials,
    failure_result,
    network_error,
    request_json,
)

DEFAULT_VERSION = "202411"
AUTHOR = re.compile(r"^urn:li:(organization|person):[A-Za-z0-9_-]+$")
RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


def little_text(text: str) -> str:
    """Escape the characters LinkedIn's little text format reserves."""
    return RESERVED.sub(r"\\\1", text)


def _title(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:200] or "Link"


class LinkedInAdapter:
    network = "linkedin"

    def configured(self) -> bool:
        c = credentials(self.network)
        return bool(c.get("access_token") and AUTHOR.match(c.get("author", "")))

    def publish(self, post: PostToPublish) -> PublishResult:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.linkedin.com").rstrip("/")
        body: dict[str, object] = {
            "author": c["author"],
            "commentary": little_text(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if post.link:
            body["content"] = {"article": {"source": post.link, "title": _title(post.text)}}
        headers = {
            "Authorization": f"Bearer {c['access_token']}",
            "LinkedIn-Version": c.get("version", DEFAULT_VERSION),
            "X-Restli-Protocol-Version": "2.0.0",
        }
        try:
            answer = request_json("POST", f"{base}/rest/posts", headers=headers, body=body)
        except (HttpFailure, OSError, ValueError) as exc:
            return failure_result(self.network, exc)
        urn = answer.headers.get("x-restli-id", "") or str(answer.body.get("id", ""))
        if not urn.startswith("urn:li:"):
            return PublishResult(status="failed", error="no post URN (x-restli-id) in the answer")
        return PublishResult(
            status="published",
            external_id=urn,
            url=f"https://www.linkedin.com/feed/update/{urn}/",
        )

    def check(self) -> str:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.linkedin.com").rstrip("/")
        headers = {
            "Authorization": f"Bearer {c['access_token']}",
            "LinkedIn-Version": c.get("version", DEFAULT_VERSION),
            "X-Restli-Protocol-Version": "2.0.0",
        }
        kind, _, ident = c["author"].removeprefix("urn:li:").partition(":")
        url = (
            f"{base}/rest/organizations/{ident}"
            if kind == "organization"
            else f"{base}/v2/userinfo"
        )
        try:
            body = request_json("GET", url, headers=headers).body
        except (HttpFailure, OSError, ValueError) as exc:
            raise network_error(self.network, exc) from None
        return str(body.get("localizedName") or body.get("name") or c["author"])
