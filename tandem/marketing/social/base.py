"""The interface every network adapter implements, and the small HTTP client they share.

    class Adapter(Protocol):
        network: str
        def configured(self) -> bool: ...            # credentials present in settings?
        def publish(self, post: PostToPublish) -> PublishResult: ...

Credentials live in Django settings (or the environment), one dict per network:
`SOCIAL_TELEGRAM = {"bot_token": …, "chat_id": …}`, `SOCIAL_VK = {"access_token": …,
"owner_id": …}`, `SOCIAL_FACEBOOK = {"page_id": …, "access_token": …}`; each may carry
`api_base` (tests point it at a local fake server). LinkedIn and YouTube have no automatic
publishing (YouTube needs a video upload; LinkedIn's API needs an approved app): their posts are
always marked for manual publishing.

Invariants:
- `publish` is only called for a configured adapter; an unconfigured network never sees a
  request: the service marks the post `manual` instead;
- `publish` never raises for a network's refusal or an unreachable host: it returns
  `PublishResult(status="failed", error=…)`; the post keeps the error text.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from django.conf import settings

TIMEOUT = 15


@dataclass(frozen=True)
class PostToPublish:
    """What an adapter gets: plain values, no ORM object."""

    id: int
    network: str
    text: str
    link: str  # the tracked link to share ("" if none)


@dataclass(frozen=True)
class PublishResult:
    status: Literal["published", "manual", "failed"]
    external_id: str = ""
    url: str = ""
    error: str = ""


class Adapter(Protocol):
    network: str

    def configured(self) -> bool: ...

    def publish(self, post: PostToPublish) -> PublishResult: ...


def credentials(network: str) -> dict[str, str]:
    value = getattr(settings, f"SOCIAL_{network.upper()}", None) or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def message_text(post: PostToPublish) -> str:
    return f"{post.text}\n\n{post.link}".strip() if post.link else post.text


def post_form(url: str, fields: dict[str, str]) -> dict[str, Any]:
    """POST form fields, return the JSON answer; raises OSError/ValueError on failure."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError("refusing a non-HTTPS API address")
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read(1_000_000) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read(100_000) or b"{}")
        except ValueError:
            answer = {}
        detail = answer.get("description") or answer.get("error") or exc.reason
        raise OSError(f"HTTP {exc.code}: {str(detail)[:300]}") from None
    if not isinstance(answer, dict):
        raise ValueError("the network answered with something other than a JSON object")
    return answer
