"""Odnoklassniki (OK.ru): a group post (REST method `mediatopic.post`), its statistics
(`group.getStatTopic`) and the connection test (`group.getInfo`).

Credentials: `{"access_token": …, "application_key": …, "application_secret_key": …,
"group_id": …}` (the connection's, or `SOCIAL_OK` in settings). The token is a group
administrator's with the GROUP_CONTENT permission (publishing) and the group's statistics.

Contract (docs: apiok.ru/en/dev/methods, /dev/methods/rest/mediatopic/mediatopic.post):
POST {api_base}/fb.do, form fields `application_key`, `method`, `format=json`, the method's
parameters, `sig` and `access_token`. The signature, per the "Calculating request signature"
section: secret = md5(access_token + application_secret_key) in lower-case hex; every parameter
but `access_token`/`session_key` and `sig`, sorted by name, joined as `name=value` with nothing
between them; sig = md5(joined + secret) in lower-case hex (values as UTF-8, unencoded).
- `mediatopic.post` with `type=GROUP_THEME`, `gid`, `attachment` = JSON `{"media": [{"type":
  "text", "text": …}, {"type": "link", "url": <tracked link>}]}` -> the new topic's id as a
  JSON string (`"68079227680146"`); the post's address is ok.ru/group/{gid}/topic/{id};
- `group.getStatTopic` with `topic_id`, `fields=ID,VIEWS,LIKES,COMMENTS,RESHARES` ->
  `{"topic": {"id", "views", "likes", "comments", "reshares"}}` (impressions = views,
  reactions = likes; OK does not count link clicks here: the tracked link does);
- `group.getInfo` with `uids={group_id}`, `fields=UID,NAME` -> `[{"uid", "name"}]`;
- a refusal is HTTP 200 with `{"error_code": 104, "error_msg": "PARAM_SIGNATURE : …",
  "error_data": null}` (102 = session expired, 2 = service unavailable, 100 = bad parameter).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tandem.marketing.social.base import (
    NetworkError,
    PostNumbers,
    PostToPublish,
    PublishResult,
    count,
    credentials,
    post_form_json,
)

API = "https://api.ok.ru"
STAT_FIELDS = "ID,VIEWS,LIKES,COMMENTS,RESHARES"
EXPIRED = {102, 103}  # PARAM_SESSION_EXPIRED, PARAM_SESSION_KEY / invalid token


def signature(params: dict[str, str], access_token: str, application_secret_key: str) -> str:
    """The `sig` of a request made in a session (see the module doc)."""
    secret = hashlib.md5(  # noqa: S324 - OK's scheme, not our security
        (access_token + application_secret_key).encode()
    ).hexdigest()
    joined = "".join(
        f"{name}={params[name]}"
        for name in sorted(params)
        if name not in ("sig", "access_token", "session_key")
    )
    return hashlib.md5((joined + secret).encode()).hexdigest()  # noqa: S324


def _error_text(answer: dict[str, Any]) -> str:
    code = answer.get("error_code")
    text = str(answer.get("error_msg") or "unknown error")
    if code in EXPIRED:
        return (
            f"ok refused the access token ({code}: {text}); renew it on the social "
            "connections page (or SOCIAL_OK['access_token'])"
        )
    return f"ok answered error {code}: {text}"


class OkAdapter:
    network = "ok"

    def configured(self) -> bool:
        c = credentials(self.network)
        return all(
            c.get(k)
            for k in ("access_token", "application_key", "application_secret_key", "group_id")
        )

    def call(self, method: str, params: dict[str, str]) -> Any:
        """A signed call; the JSON answer, or NetworkError (refusal or unreachable)."""
        c = credentials(self.network)
        fields = {
            "application_key": c["application_key"],
            "format": "json",
            "method": method,
            **params,
        }
        fields["sig"] = signature(fields, c["access_token"], c["application_secret_key"])
        fields["access_token"] = c["access_token"]
        base = c.get("api_base", API).rstrip("/")
        try:
            answer = post_form_json(f"{base}/fb.do", fields)
        except (OSError, ValueError) as exc:
            raise NetworkError(f"ok: {exc}"[:500]) from None
        if isinstance(answer, dict) and "error_code" in answer:
            raise NetworkError(_error_text(answer)[:500])
        return answer

    def publish(self, post: PostToPublish) -> PublishResult:
        group = credentials(self.network)["group_id"]
        media: list[dict[str, str]] = []
        if post.text:
            media.append({"type": "text", "text": post.text})
        if post.link:
            media.append({"type": "link", "url": post.link})
        attachment = json.dumps({"media": media}, ensure_ascii=False, separators=(",", ":"))
        try:
            answer = self.call(
                "mediatopic.post", {"type": "GROUP_THEME", "gid": group, "attachment": attachment}
            )
        except NetworkError as exc:
            return PublishResult(status="failed", error=str(exc)[:500])
        topic = str(answer).strip() if isinstance(answer, str | int) else ""
        if not topic.isdigit() or topic == "0":
            return PublishResult(status="failed", error="no topic id in the answer")
        return PublishResult(
            status="published",
            external_id=topic,
            url=f"https://ok.ru/group/{group}/topic/{topic}",
        )

    def check(self) -> str:
        group = credentials(self.network)["group_id"]
        answer = self.call("group.getInfo", {"uids": group, "fields": "UID,NAME"})
        if not isinstance(answer, list) or not answer or not isinstance(answer[0], dict):
            raise NetworkError(f"ok: group {group} is not visible with this token")
        return str(answer[0].get("name") or group)

    def fetch_stats(self, external_ids: list[str]) -> dict[str, PostNumbers]:
        found: dict[str, PostNumbers] = {}
        for topic in external_ids:
            answer = self.call("group.getStatTopic", {"topic_id": topic, "fields": STAT_FIELDS})
            numbers = answer.get("topic") if isinstance(answer, dict) else None
            if not isinstance(numbers, dict):
                continue
            found[topic] = PostNumbers(
                impressions=count(numbers.get("views")),
                reactions=count(numbers.get("likes")),
            )
        return found
