"""Reading Segment-format calls: bodies (gzip, text/plain, size limits), events, time correction.

Everything here is pure (no database): a request body in, `Event`s out, or `BadEvent` with a
reason the client can read. All values are untrusted text: they are stored as given (length-capped)
and escaped wherever they are shown.

Invariants:
- a body over 500 KB (after decompression) or an event over 32 KB is refused, never truncated;
- occurred_at = receivedAt - (sentAt - originalTimestamp) when the client sent both, so a
  client's wrong clock does not move its events in time;
- the deduplication key of an event is its source and messageId (`s<source id>:<messageId>`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tandem.tracking.channels import ChannelInputs, referrer_host

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_EVENTS_PER_BATCH = 2500
TYPES = {"identify", "track", "page", "screen", "group", "alias"}
SHORT_PATHS = {
    "t": "track",
    "p": "page",
    "i": "identify",
    "g": "group",
    "a": "alias",
    "s": "screen",
}

try:  # orjson is faster; the standard library is the fallback
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - depends on the environment

    def _loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class BadEvent(Exception):
    """Input the client must fix; `code` and `message` go back as JSON with a 4xx status."""

    def __init__(self, message: str, *, code: str = "invalid_request", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def read_body(raw: bytes, content_encoding: str, limit: int) -> Any:
    """Decompress (gzip/deflate) and parse JSON, refusing bodies over `limit` bytes."""
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, limit + 1)
        except (zlib.error, OSError, EOFError, gzip.BadGzipFile) as exc:
            raise BadEvent("the body is not valid gzip", code="invalid_encoding") from exc
    elif encoding == "deflate":
        try:
            raw = zlib.decompressobj().decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BadEvent("the body is not valid deflate", code="invalid_encoding") from exc
    elif encoding not in ("", "identity"):
        raise BadEvent(
            f"unsupported Content-Encoding {encoding[:40]!r}", code="invalid_encoding", status=415
        )
    if len(raw) > limit:
        raise BadEvent(f"the body is larger than {limit // 1024} KB", code="too_large", status=413)
    try:
        return _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent("the body is not valid JSON", code="invalid_json") from exc


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def corrected_time(
    received_at: dt.datetime, sent_at: dt.datetime | None, original: dt.datetime | None
) -> dt.datetime:
    """When the event happened, by the server's clock."""
    if original is None:
        return received_at
    if sent_at is None:
        return original
    return received_at - (sent_at - original)


def _text(value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)[:limit]
    return ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class Event:
    type: str
    message_id: str
    user_id: str
    anonymous_id: str
    occurred_at: dt.datetime
    name: str  # track: event; page/screen: name; others: the type
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]
    group_id: str = ""
    previous_id: str = ""
    inputs: ChannelInputs = field(default_factory=ChannelInputs)
    ip: str = ""
    user_agent: str = ""

    @property
    def kind(self) -> str:
        if self.type == "track":
            return self.name[:60] or "track"
        return {"page": "page_view", "screen": "screen_view"}.get(self.type, self.type)

    @property
    def campaign(self) -> dict[str, Any]:
        return _obj(self.context.get("campaign"))


def _campaign(context: dict[str, Any], page_url: str) -> dict[str, str]:
    """context.campaign, or the utm_* parameters of the page URL when the client sent none."""
    campaign = {k: _text(v) for k, v in _obj(context.get("campaign")).items() if v is not None}
    if not campaign and page_url:
        query = parse_qs(urlsplit(page_url).query)
        for key in ("source", "medium", "name", "content", "term"):
            values = query.get("utm_campaign" if key == "name" else f"utm_{key}")
            if values:
                campaign[key] = values[0][:200]
    return campaign


def parse_event(
    raw: Any,
    *,
    type_hint: str | None,
    source_id: int,
    source_kind: str,
    received_at: dt.datetime,
    batch_sent_at: dt.datetime | None = None,
    batch_context: dict[str, Any] | None = None,
    request_ip: str = "",
    request_user_agent: str = "",
    check_size: bool = False,
) -> Event:
    if not isinstance(raw, dict):
        raise BadEvent("each event must be a JSON object")
    if check_size and len(dumps(raw)) > MAX_EVENT_BYTES:
        raise BadEvent("an event is larger than 32 KB", code="too_large", status=413)
    kind = type_hint or _text(raw.get("type")).lower()
    if kind not in TYPES:
        raise BadEvent(f"unknown event type {kind[:40]!r}", code="invalid_type")
    user_id = _text(raw.get("userId"))
    anonymous_id = _text(raw.get("anonymousId"))
    if not user_id and not anonymous_id:
        raise BadEvent("an event needs a userId or an anonymousId", code="missing_id")
    message_id = _text(raw.get("messageId"), 190) or f"tandem-{uuid.uuid4()}"
    context = {**(batch_context or {}), **_obj(raw.get("context"))}
    properties = _obj(raw.get("properties"))
    traits = _obj(raw.get("traits")) or _obj(context.get("traits"))
    name = ""
    if kind == "track":
        name = _text(raw.get("event"))
        if not name:
            raise BadEvent("a track call needs an event name", code="missing_event")
    elif kind in ("page", "screen"):
        name = _text(raw.get("name")) or _text(properties.get("name"))
    group_id = _text(raw.get("groupId"))
    if kind == "group" and not group_id:
        raise BadEvent("a group call needs a groupId", code="missing_group_id")
    previous_id = _text(raw.get("previousId"))
    if kind == "alias" and not (previous_id and user_id):
        raise BadEvent("an alias call needs a previousId and a userId", code="missing_id")
    sent_at = parse_time(raw.get("sentAt")) or batch_sent_at
    original = parse_time(raw.get("originalTimestamp")) or parse_time(raw.get("timestamp"))
    occurred_at = corrected_time(received_at, sent_at, original)
    page = _obj(context.get("page"))
    page_url = _text(page.get("url"), 2000) or _text(properties.get("url"), 2000)
    referrer = _text(page.get("referrer"), 2000) or _text(properties.get("referrer"), 2000)
    campaign = _campaign(context, page_url)
    if campaign:
        context["campaign"] = campaign
    ref_host = referrer_host(referrer)
    if ref_host and ref_host == referrer_host(page_url):
        ref_host = ""  # a move inside the same site is not a referral
    inputs = ChannelInputs(
        source_kind=source_kind,
        utm_source=campaign.get("source", ""),
        utm_medium=campaign.get("medium", ""),
        utm_campaign=campaign.get("name", ""),
        referrer=ref_host,
        event=name if kind == "track" else "",
    )
    return Event(
        type=kind,
        message_id=f"s{source_id}:{message_id}",
        user_id=user_id,
        anonymous_id=anonymous_id,
        occurred_at=occurred_at,
        name=name,
        properties=properties,
        traits=traits,
        context=context,
        group_id=group_id,
        previous_id=previous_id,
        inputs=inputs,
        ip=_text(context.get("ip"), 45) or request_ip,
        user_agent=_text(context.get("userAgent"), 500) or request_user_agent,
    )


def parse_payload(
    body: Any,
    *,
    path_type: str | None,
    source_id: int,
    source_kind: str,
    received_at: dt.datetime,
    request_ip: str,
    request_user_agent: str,
    body_bytes: int,
) -> list[Event]:
    """The events of one request: a single call (`path_type` given) or a batch."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    common = {
        "source_id": source_id,
        "source_kind": source_kind,
        "received_at": received_at,
        "request_ip": request_ip,
        "request_user_agent": request_user_agent,
        # Events of a batch are measured as stored (services.events_store), not twice here.
        "check_size": False,
    }
    if path_type is not None:
        return [parse_event(body, type_hint=path_type, **common)]  # type: ignore[arg-type]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise BadEvent('a batch needs a list of events in "batch"')
    if len(batch) > MAX_EVENTS_PER_BATCH:
        raise BadEvent(
            f"a batch holds at most {MAX_EVENTS_PER_BATCH} events", code="too_large", status=413
        )
    sent_at = parse_time(body.get("sentAt"))
    context = _obj(body.get("context"))
    return [
        parse_event(
            raw,
            type_hint=None,
            batch_sent_at=sent_at,
            batch_context=context,
            **common,  # type: ignore[arg-type]
        )
        for raw in batch
    ]
