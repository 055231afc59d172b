"""The interface every network adapter implements, and the small HTTP client they share.

    class Adapter(Protocol):
        network: str
        def configured(self) -> bool: ...            # credentials present?
        def publish(self, post: PostToPublish) -> PublishResult: ...
        def check(self) -> str: ...                  # the account's name, by a cheap identity call

An adapter that can read its posts' numbers also has `fetch_stats(external_ids) -> {id:
PostNumbers}` (`StatsSource`); the scheduled pull (`social.stats_pull`) asks those only.

Credentials come from the network's connection (`SocialConnection`, entered on the connections
page, secrets stored encrypted) when there is one, else from Django settings (or the
environment), one dict per network:
`SOCIAL_TELEGRAM = {"bot_token": …, "chat_id": …}`, `SOCIAL_VK = {"access_token": …,
"owner_id": …}`, `SOCIAL_FACEBOOK = {"page_id": …, "access_token": …}`, `SOCIAL_LINKEDIN =
{"access_token": …, "author": "urn:li:organization:…"}` (Posts API), `SOCIAL_YOUTUBE =
{"access_token": …}` (videos.update of the description), `SOCIAL_OK = {"access_token": …,
"application_key": …, "application_secret_key": …, "group_id": …}`; each may carry `api_base`
(tests point it at a local fake server on 127.0.0.1). A connection's values win over the
settings' (which still give `api_base` and LinkedIn's `version`).

Results: `published`; `manual` (the network cannot take this post automatically); `failed`
(refused: an expired token (401), a server error (5xx), a bad request: the error text says
which); `retry` (the network asked to slow down: 429 with `Retry-After`, kept in
`retry_after` seconds; the service schedules the post again that much later).

Invariants:
- `publish` is only called for a configured adapter; an unconfigured network never sees a
  request: the service marks the post `manual` instead;
- `publish` never raises for a network's refusal or an unreachable host: it returns
  `PublishResult(status="failed", error=…)`; the post keeps the error text;
- `check` and `fetch_stats` raise `NetworkError` (with the network's reason) for a refusal or an
  unreachable host, and nothing else; they change nothing on the network.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

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
    status: Literal["published", "manual", "failed", "retry"]
    external_id: str = ""
    url: str = ""
    error: str = ""
    retry_after: int = 0  # seconds, for status "retry"


@dataclass(frozen=True)
class PostNumbers:
    """A post's numbers as the network's API gives them; None = the API does not say."""

    impressions: int | None = None
    clicks: int | None = None
    reactions: int | None = None


class NetworkError(Exception):
    """A network refused a check or a statistics read, or could not be reached."""


class Adapter(Protocol):
    network: str

    def configured(self) -> bool: ...

    def publish(self, post: PostToPublish) -> PublishResult: ...

    def check(self) -> str: ...


@runtime_checkable
class StatsSource(Protocol):
    network: str

    def configured(self) -> bool: ...

    def fetch_stats(self, external_ids: list[str]) -> dict[str, PostNumbers]: ...


def settings_credentials(network: str) -> dict[str, str]:
    value = getattr(settings, f"SOCIAL_{network.upper()}", None) or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def credentials(network: str) -> dict[str, str]:
    """The network's credentials: its connection's over the settings' (see the module doc)."""
    from tandem.marketing.social.connections import connection_credentials  # models load late

    return {**settings_credentials(network), **(connection_credentials(network) or {})}


def count(value: Any) -> int | None:
    """A non-negative whole number from an API answer (numbers may come as strings)."""
    if isinstance(value, dict):
        value = value.get("count", value.get("value"))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def message_text(post: PostToPublish) -> str:
    return f"{post.text}\n\n{post.link}".strip() if post.link else post.text


def post_form(url: str, fields: dict[str, str]) -> dict[str, Any]:
    """POST form fields, return the JSON object answered; raises OSError/ValueError on failure."""
    answer = post_form_json(url, fields)
    if not isinstance(answer, dict):
        raise ValueError("the network answered with something other than a JSON object")
    return answer


def post_form_json(url: str, fields: dict[str, str]) -> Any:
    """POST form fields, return the JSON answer (any JSON value); OSError/ValueError on failure."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError("refusing a non-HTTPS API address")
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read(1_000_000) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read(100_000) or b"{}")
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        detail = answer.get("description") or answer.get("error") or exc.reason
        if isinstance(detail, dict):
            detail = detail.get("message") or detail.get("error_msg") or exc.reason
        raise OSError(f"HTTP {exc.code}: {str(detail)[:300]}") from None


# --- JSON APIs (LinkedIn's Posts API, YouTube Data API) ------------------------------------


class HttpFailure(Exception):
    """A network answered 4xx/5xx: its status, its message, and Retry-After in seconds."""

    def __init__(self, status: int, message: str, retry_after: int = 0) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


def _retry_after(value: str | None) -> int:
    """Retry-After as seconds (it is either a number of seconds or an HTTP date)."""
    if not value:
        return 0
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0, int((when - dt.datetime.now(dt.UTC)).total_seconds()))


def _error_text(answer: Any, fallback: str) -> str:
    """The message of a JSON error answer, in the shapes LinkedIn and Google use."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "description", "error_description", "error"):
            if answer.get(key):
                return str(answer[key])
    return fallback


def request_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> JsonAnswer:
    """Send a JSON request; return the answer, raise HttpFailure (4xx/5xx) or OSError/ValueError
    (unreachable host, not JSON, not https)."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError("refusing a non-HTTPS API address")
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Accept": "application/json", **headers}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            raw = response.read(1_000_000)
            status = response.status
            got = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read(100_000) or b"{}")
        except ValueError:
            answer = {}
        raise HttpFailure(
            exc.code,
            _error_text(answer, str(exc.reason))[:300],
            _retry_after(exc.headers.get("Retry-After") if exc.headers else None),
        ) from None
    parsed = json.loads(raw) if raw.strip() else {}
    if not isinstance(parsed, dict):
        raise ValueError("the network answered with something other than a JSON object")
    return JsonAnswer(status, got, parsed)


def failure_result(network: str, exc: Exception) -> PublishResult:
    """What a failed call means for the post (the error text names what to do)."""
    if isinstance(exc, HttpFailure):
        if exc.status == 429:
            return PublishResult(
                status="retry",
                retry_after=exc.retry_after or 60,
                error=f"rate-limited by {network} (HTTP 429): {exc.message}"[:500],
            )
        if exc.status == 401:
            return PublishResult(
                status="failed",
                error=(
                    f"{network} refused the access token (HTTP 401: {exc.message}); "
                    f"renew SOCIAL_{network.upper()}['access_token'] (or the network's "
                    "connection on the social connections page) and publish again"
                )[:500],
            )
        if exc.status >= 500:
            return PublishResult(
                status="failed",
                error=(
                    f"{network} had a server error (HTTP {exc.status}: {exc.message}); "
                    "publish again later"
                )[:500],
            )
    return PublishResult(status="failed", error=str(exc)[:500])


def network_error(network: str, exc: Exception) -> NetworkError:
    """A failed call of `check`/`fetch_stats` as the message the connections page shows."""
    if isinstance(exc, HttpFailure):
        if exc.status == 401:
            return NetworkError(f"{network} refused the access token (HTTP 401: {exc.message})")
        if exc.status == 429:
            return NetworkError(f"rate-limited by {network} (HTTP 429): {exc.message}")
        return NetworkError(f"{network} answered HTTP {exc.status}: {exc.message}")
    return NetworkError(f"{network}: {exc}"[:500])
