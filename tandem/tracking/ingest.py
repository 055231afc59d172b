"""Reading Segment-format calls: bodies (gzip, text/plain, size limits), events, time correction.

Everything here is pure (no database): a request body in, rows to store (and `Event`s for the
calls that need identity work) out, or `BadEvent` with a reason the client can read. One parser,
`parse_call`, reads every call straight from its JSON, without intermediate objects (the hot
path; `tests/test_ingest_parser.py` pins it over hostile input). All values are untrusted text:
they are stored as given (length-capped) and escaped wherever they are shown.

Invariants:
- a body over 500 KB (after decompression) or an event over 32 KB is refused, never truncated;
- occurred_at = receivedAt - (sentAt - originalTimestamp) when the client sent both, so a
  client's wrong clock does not move its events in time;
- the deduplication key of an event is its source and messageId (`s<source id>:<messageId>`);
- identifiers (messageId, userId, anonymousId, groupId, previousId) are stored whole or refused
  (400 `too_long`), never cut: two ids sharing a prefix never become one;
- text with a NUL character is refused (400 `invalid_text`) on every database, and so are
  properties nested deeper than orjson writes (400 `too_deep`);
- occurred_at lies in [1900-01-01, 3000-01-01) UTC, else the call is refused (400
  `invalid_timestamp`): every time zone can show it and every period arithmetic holds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import uuid
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tandem.tracking import bots
from tandem.tracking.channels import ChannelInputs, CompiledRule, classify, referrer_host

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_EVENTS_PER_BATCH = 2500
MAX_ID_LENGTH = 200  # the columns of Touchpoint.user_id/anonymous_id/message_id and Identity.value
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
TYPES = {"identify", "track", "page", "screen", "group", "alias"}
SHORT_PATHS = {
    "t": "track",
    "p": "page",
    "i": "identify",
    "g": "group",
    "a": "alias",
    "s": "screen",
}


def _loads(data: bytes) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON (UTF-8, not ASCII-escaped), as stored in `Touchpoint.properties`."""
    return orjson.dumps(value)


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
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise BadEvent(
            f"the time {text[:40]!r} is out of range", code="invalid_timestamp"
        ) from None


def corrected_time(
    received_at: dt.datetime, sent_at: dt.datetime | None, original: dt.datetime | None
) -> dt.datetime:
    """When the event happened, by the server's clock."""
    if original is None:
        return received_at
    if sent_at is None:
        occurred = original
    else:
        try:
            occurred = received_at - (sent_at - original)
        except OverflowError:  # e.g. sentAt in year 9999 and a timestamp in year 1
            raise BadEvent(
                "sentAt and timestamp are too far apart", code="invalid_timestamp"
            ) from None
    if not EARLIEST <= occurred < LATEST:
        raise BadEvent(
            "the event's time must lie between the years 1900 and 2999",
            code="invalid_timestamp",
        )
    return occurred


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


# --- one parser: each call becomes the row stored for it -------------------------------------
#
# A row is a dict with the touchpoint's columns (see `ROW_KEYS`), the shape
# `crm.services.touchpoints_record_bulk` takes: `properties` is already JSON (bytes),
# `account_id` is set only for group calls, and the contact is resolved when stored.
# `parse_call` reads a call straight from its JSON, without intermediate objects: a track, page
# or screen call becomes its row; an identify, alias or group call becomes an `Event` (its row
# plus what the identity work reads), and `event_row` gives its row after that work.

Row = dict[str, Any]
ROW_KEYS = (
    "anonymous_id",
    "user_id",
    "occurred_at",
    "channel",
    "department",
    "kind",
    "campaign",
    "content",
    "properties",
    "is_bot",
    "message_id",
    "account_id",
)
_CI_FIELDS = ("source_kind", "utm_source", "utm_medium", "utm_campaign", "referrer", "event")
_CACHE_LIMIT = 20_000
# Channel decisions per distinct inputs, for the rules object they were decided with.
_classified: dict[tuple[str, ...], tuple[str, str, dict[str, str]]] = {}
_classified_rules: list[Any] = [None]
_bot_reasons: dict[tuple[str, str, bool], str] = {}


def _channel(key: tuple[str, ...], rules: list[CompiledRule]) -> tuple[str, str, dict[str, str]]:
    """(channel, department, the non-empty inputs) — cached per process for the same rules
    object (a new rules version is a new object, so the cache starts again)."""
    if _classified_rules[0] is not rules:
        _classified.clear()
        _classified_rules[0] = rules
    found = _classified.get(key)
    if found is None:
        if len(_classified) >= _CACHE_LIMIT:
            _classified.clear()
        channel, department = classify(ChannelInputs(*key), rules)
        found = (channel, department, {f: v for f, v in zip(_CI_FIELDS, key, strict=True) if v})
        _classified[key] = found
    return found


def _bot_reason(user_agent: str, ip: str, is_open: bool) -> str:
    """`bots.bot_reason` for an ingested call, cached: the address only matters for opens."""
    key = (user_agent, ip if is_open else "", is_open)
    found = _bot_reasons.get(key)
    if found is None:
        if len(_bot_reasons) >= _CACHE_LIMIT:
            _bot_reasons.clear()
        found = bots.bot_reason(user_agent=user_agent, ip=ip, kind="open" if is_open else "")
        _bot_reasons[key] = found
    return found


# A NUL character as orjson writes it (`\u0000` after an even number of backslashes).
_ENCODED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _json(props: dict[str, Any]) -> bytes:
    """The stored JSON of an event's properties; refuses NUL characters (PostgreSQL's jsonb
    cannot hold them, so SQLite must not either) and nesting orjson does not write."""
    try:
        encoded = orjson.dumps(props)
    except orjson.JSONEncodeError:  # nested deeper than 255 levels
        raise BadEvent("an event is nested too deeply", code="too_deep") from None
    if b"\\u0000" in encoded and _ENCODED_NUL.search(encoded):
        raise BadEvent("text may not contain NUL characters", code="invalid_text")
    return encoded


def _encoded(props: dict[str, Any]) -> bytes:
    encoded = _json(props)
    if len(encoded) > MAX_EVENT_BYTES:  # refuses the whole request
        raise BadEvent("an event is larger than 32 KB", code="too_large", status=413)
    return encoded


def _identifier(value: Any, name: str, limit: int = MAX_ID_LENGTH) -> str:
    """An id as stored: whole or refused, never cut (two ids sharing a prefix stay two)."""
    text = value if value.__class__ is str else _text(value, 10_000)
    if len(text) > limit:
        raise BadEvent(f"{name} is longer than {limit} characters", code="too_long")
    if "\x00" in text:
        raise BadEvent(f"{name} may not contain NUL characters", code="invalid_text")
    return text


@dataclass(slots=True)
class Event:
    """An identify, alias or group call: what its identity work reads, and its row (stored
    after that work, see `event_row`)."""

    type: str
    message_id: str
    user_id: str
    anonymous_id: str
    traits: dict[str, Any]
    group_id: str
    previous_id: str
    row: Row
    props: dict[str, Any]  # the row's properties before encoding


def event_row(event: Event, *, extra: dict[str, Any] | None = None) -> Row:
    """The stored row of an identify/alias/group call; `extra` (what its identity work found,
    e.g. a conflict) is added to its properties."""
    if not extra:
        return dict(event.row)
    return {**event.row, "properties": _encoded({**event.props, **extra})}


def _str(value: Any, limit: int = 200) -> str:
    """`_text` with the common case (a string) first."""
    if value.__class__ is str:
        return value[:limit]
    return _text(value, limit)


_KIND_COLUMN = {"page": "page_view", "screen": "screen_view"}
_IDENTITY_TYPES = frozenset(("identify", "alias", "group"))


def parse_call(
    raw: dict[str, Any],
    kind: str,
    *,
    source_prefix: str,
    source_kind: str,
    received_at: dt.datetime,
    batch_sent_at: dt.datetime | None,
    batch_context: dict[str, Any],
    request_ip: str,
    request_user_agent: str,
    rules: list[CompiledRule],
) -> Row | Event:
    """One Segment call of type `kind` (the path's, else its "type", lower-cased): the row of a
    track/page/screen call, the `Event` of an identify/alias/group call. Raises `BadEvent` for
    what the client must fix: an unknown type, no userId and no anonymousId, a track call
    without an event name, a group call without a groupId, an alias call without previousId
    and userId, clocks too far apart to correct. Sizes are checked by `prepare`."""
    if kind not in TYPES:
        raise BadEvent(f"unknown event type {kind[:40]!r}", code="invalid_type")
    get = raw.get
    user_id = _identifier(get("userId"), "userId")
    anonymous_id = _identifier(get("anonymousId"), "anonymousId")
    if not user_id and not anonymous_id:
        raise BadEvent("an event needs a userId or an anonymousId", code="missing_id")
    message_id = (
        _identifier(get("messageId"), "messageId", MAX_ID_LENGTH - len(source_prefix))
        or f"tandem-{uuid.uuid4()}"
    )
    own_context = get("context")
    if own_context.__class__ is not dict:
        own_context = {}
    context = {**batch_context, **own_context} if batch_context else dict(own_context)
    properties = get("properties")
    if properties.__class__ is not dict:
        properties = {}
    traits = get("traits")
    if traits.__class__ is not dict or not traits:
        traits = _obj(context.get("traits"))
    name = ""
    if kind == "track":
        name = _str(get("event"))
        if not name:
            raise BadEvent("a track call needs an event name", code="missing_event")
        kind_column = name[:60]
    elif kind in _KIND_COLUMN:
        name = _str(get("name")) or _str(properties.get("name"))
        kind_column = _KIND_COLUMN[kind]
    else:
        kind_column = kind
    group_id = _identifier(get("groupId"), "groupId")
    if kind == "group" and not group_id:
        raise BadEvent("a group call needs a groupId", code="missing_group_id")
    previous_id = _identifier(get("previousId"), "previousId")
    if kind == "alias" and not (previous_id and user_id):
        raise BadEvent("an alias call needs a previousId and a userId", code="missing_id")
    sent_at = parse_time(get("sentAt")) or batch_sent_at
    original = parse_time(get("originalTimestamp")) or parse_time(get("timestamp"))
    occurred_at = corrected_time(received_at, sent_at, original)
    page = context.get("page")
    if page.__class__ is not dict:
        page = {}
    page_url = _str(page.get("url"), 2000) or _str(properties.get("url"), 2000)
    referrer = _str(page.get("referrer"), 2000) or _str(properties.get("referrer"), 2000)
    campaign = _campaign(context, page_url)
    if campaign:
        context["campaign"] = campaign
    ref_host = referrer_host(referrer)
    if ref_host and ref_host == referrer_host(page_url):
        ref_host = ""  # a move inside the same site is not a referral
    channel, department, ci = _channel(
        (
            source_kind,
            campaign.get("source", ""),
            campaign.get("medium", ""),
            campaign.get("name", ""),
            ref_host,
            name if kind == "track" else "",
        ),
        rules,
    )
    ip = _str(context.get("ip"), 45) or request_ip
    user_agent = _str(context.get("userAgent"), 500) or request_user_agent
    reason = _bot_reason(user_agent, ip, name.lower() == "email opened")
    props: dict[str, Any] = {"type": kind, "ci": ci}
    if properties:
        props["properties"] = properties
    if traits:
        props["traits"] = traits
    if context:
        props["context"] = context
    if name:
        props["name"] = name
    if group_id:
        props["group_id"] = group_id
    if previous_id:
        props["previous_id"] = previous_id
    if ip:
        props["ip"] = ip
    if user_agent:
        props["user_agent"] = user_agent
    if reason:
        props["bot_reason"] = reason
    stored_campaign = context.get("campaign")
    if stored_campaign.__class__ is not dict:
        stored_campaign = {}
    row: Row = {
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "occurred_at": occurred_at,
        "channel": channel,
        "department": department,
        "kind": kind_column or "track",
        "campaign": str(stored_campaign.get("name") or "")[:200],
        "content": str(stored_campaign.get("content") or "")[:200],
        "properties": _json(props),  # measured by `prepare`
        "is_bot": bool(reason),
        "message_id": source_prefix + message_id,
        "account_id": None,
    }
    if kind not in _IDENTITY_TYPES:
        return row
    return Event(
        type=kind,
        message_id=row["message_id"],
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=traits,
        group_id=group_id,
        previous_id=previous_id,
        row=row,
        props=props,
    )


def prepare(
    body: Any,
    *,
    path_type: str | None,
    source_id: int,
    source_kind: str,
    received_at: dt.datetime,
    request_ip: str,
    request_user_agent: str,
    rules: list[CompiledRule],
) -> list[Row | Event]:
    """The calls of one request, in order, each through `parse_call`: a ready row for each
    track/page/screen call, an `Event` for each identify/alias/group call. Raises `BadEvent`
    for the first call the client must fix (nothing is stored then)."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    if path_type is not None:
        calls: list[Any] = [body]
        sent_at = None
        context: dict[str, Any] = {}
    else:
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise BadEvent('a batch needs a list of events in "batch"')
        if len(batch) > MAX_EVENTS_PER_BATCH:
            raise BadEvent(
                f"a batch holds at most {MAX_EVENTS_PER_BATCH} events",
                code="too_large",
                status=413,
            )
        calls = batch
        sent_at = parse_time(body.get("sentAt"))
        context = _obj(body.get("context"))
    prefix = f"s{source_id}:"
    items: list[Row | Event] = []
    for raw in calls:
        if raw.__class__ is not dict:
            raise BadEvent("each event must be a JSON object")
        items.append(
            parse_call(
                raw,
                path_type or _text(raw.get("type")).lower(),
                source_prefix=prefix,
                source_kind=source_kind,
                received_at=received_at,
                batch_sent_at=sent_at,
                batch_context=context,
                request_ip=request_ip,
                request_user_agent=request_user_agent,
                rules=rules,
            )
        )
    for item in items:  # after parsing: a bad call anywhere is reported before a size
        row = item.row if isinstance(item, Event) else item
        if len(row["properties"]) > MAX_EVENT_BYTES:
            raise BadEvent("an event is larger than 32 KB", code="too_large", status=413)
    return items
