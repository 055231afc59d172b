"""Telegram: a bot posts to a channel (Bot API `sendMessage`).

Settings: `SOCIAL_TELEGRAM = {"bot_token": "123:ABC", "chat_id": "@channel", "channel": "channel"}`
(`channel` is the public username used to build the post's address).
Contract: POST {api_base}/bot{token}/sendMessage (chat_id, text) ->
`{"ok": true, "result": {"message_id": 42}}`; a refusal is `{"ok": false, "description": …}`.
The connection test: POST {api_base}/bot{token}/getChat (chat_id) -> `{"ok": true, "result":
{"id", "title", "username"}}` (the bot must be in the channel). The Bot API gives no post
statistics: Telegram's numbers come from the statistics import.
"""

from __future__ import annotations

from tandem.marketing.social.base import (
    NetworkError,
    PostToPublish,
    PublishResult,
    credentials,
    message_text,
    post_form,
)


class TelegramAdapter:
    network = "telegram"

    def configured(self) -> bool:
        c = credentials(self.network)
        return bool(c.get("bot_token") and c.get("chat_id"))

    def publish(self, post: PostToPublish) -> PublishResult:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.telegram.org").rstrip("/")
        try:
            answer = post_form(
                f"{base}/bot{c['bot_token']}/sendMessage",
                {"chat_id": c["chat_id"], "text": message_text(post)[:4096]},
            )
        except (OSError, ValueError) as exc:
            return PublishResult(status="failed", error=str(exc)[:500])
        if not answer.get("ok"):
            return PublishResult(status="failed", error=str(answer.get("description", ""))[:500])
        message_id = str((answer.get("result") or {}).get("message_id", ""))
        channel = c.get("channel", "").lstrip("@")
        url = f"https://t.me/{channel}/{message_id}" if channel and message_id else ""
        return PublishResult(status="published", external_id=message_id, url=url)

    def check(self) -> str:
        c = credentials(self.network)
        base = c.get("api_base", "https://api.telegram.org").rstrip("/")
        try:
            answer = post_form(f"{base}/bot{c['bot_token']}/getChat", {"chat_id": c["chat_id"]})
        except (OSError, ValueError) as exc:
            raise NetworkError(f"telegram: {exc}"[:500]) from None
        if not answer.get("ok"):
            raise NetworkError(f"telegram: {answer.get('description', '')}"[:500])
        chat = answer.get("result") or {}
        return str(chat.get("title") or chat.get("username") or c["chat_id"])
