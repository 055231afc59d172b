"""The Segment-compatible HTTP Tracking API: /v1/{identify,track,page,screen,group,alias,batch}
and the browser library's short paths /v1/{t,p,i,g,a,s}.

Plain Django views (no schema layer) because they are the hot path. They authenticate by write
key (HTTP Basic username, or `writeKey` in the body), so they are CSRF-exempt; CORS is open
because browsers on customers' sites call them. Answers:
  200 {"success": true}      only after the events are committed;
  400/401/413/415 {"code", "message"}   bad input, stored data unchanged;
  429 {"code", "message"} + Retry-After   too many requests in flight in this process;
  503 {"code", "message"} + Retry-After   the database could not store the events.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from tandem.core.client_address import client_address
from tandem.tracking import services
from tandem.tracking.channels import active_rules
from tandem.tracking.ingest import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    SHORT_PATHS,
    BadEvent,
    Event,
    Row,
    dumps,
    prepare,
    read_body,
)
from tandem.tracking.models import Source

log = logging.getLogger("tandem.tracking")

LOCKED_RETRY_SECONDS = 10.0
_in_flight = 0
_in_flight_lock = threading.Lock()


def _json(status: int, payload: dict[str, Any], **headers: str) -> HttpResponse:
    response = HttpResponse(dumps(payload), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(status: int, code: str, message: str, **headers: str) -> HttpResponse:
    return _json(status, {"code": code, "message": message}, **headers)


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, Authorization, Content-Encoding"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _basic_username(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.split(":", 1)[0]


def _client_ip(request: HttpRequest) -> str:
    return client_address(request)


def _store_with_retry(source: Source, items: list[Row | Event]) -> None:
    """SQLite answers "database is locked" when writers queue too long; such a transaction
    stored nothing, so it is safe to try again a few times before answering 503."""
    deadline = time.monotonic() + LOCKED_RETRY_SECONDS
    pause = 0.01
    while True:
        try:
            services.events_store(source=source, items=items)
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _handle(request: HttpRequest, path_type: str | None, browser: bool) -> HttpResponse:
    limit = MAX_BATCH_BYTES if path_type is None else MAX_EVENT_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit * 4:
        return _error(413, "too_large", f"the body is larger than {limit // 1024} KB")
    try:
        body = read_body(request.body, request.META.get("HTTP_CONTENT_ENCODING", ""), limit)
    except BadEvent as exc:
        return _error(exc.status, exc.code, exc.message)
    key = _basic_username(request) or (
        str(body.get("writeKey") or "") if isinstance(body, dict) else ""
    )
    try:
        source = services.source_for_key(key)
        if source is None:
            return _error(401, "invalid_write_key", "unknown or revoked write key")
        _version, rules = active_rules()
        items = prepare(
            body,
            path_type=path_type,
            source_id=source.pk,
            source_kind=source.kind,
            received_at=timezone.now(),
            request_ip=_client_ip(request),
            # A browser's own user agent describes the visitor; a server library's does not.
            request_user_agent=request.META.get("HTTP_USER_AGENT", "")[:500] if browser else "",
            rules=rules,
        )
        if items:
            _store_with_retry(source, items)
    except BadEvent as exc:
        return _error(exc.status, exc.code, exc.message)
    except DataError as exc:  # a value the database refuses (e.g. text with a NUL character)
        log.info("events refused by the database: %s", exc)
        return _error(400, "invalid_request", "an event holds a value that cannot be stored")
    except (DatabaseError, InterfaceError) as exc:
        log.warning("events not stored: %s", exc)
        return _error(
            503, "unavailable", "the events could not be stored; retry later", Retry_After="2"
        )
    return _json(200, {"success": True})


View = Callable[[HttpRequest], HttpResponse]


def _endpoint(path_type: str | None, browser: bool = False) -> View:
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        global _in_flight
        if request.method == "OPTIONS":
            return _cors(HttpResponse(status=204))
        if request.method != "POST":
            return _cors(_error(405, "method_not_allowed", "use POST"))
        ceiling = int(getattr(settings, "TRACKING_MAX_IN_FLIGHT", 16))
        with _in_flight_lock:
            if _in_flight >= ceiling:
                return _cors(
                    _error(429, "rate_limited", "too many requests; retry later", Retry_After="1")
                )
            _in_flight += 1
        try:
            return _cors(_handle(request, path_type, browser))
        finally:
            with _in_flight_lock:
                _in_flight -= 1

    view.__name__ = f"v1_{path_type or 'batch'}"
    return view


ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "batch": _endpoint(None),
    "import": _endpoint(None),
    **{name: _endpoint(name) for name in ("identify", "track", "page", "screen", "group", "alias")},
    **{short: _endpoint(full, browser=True) for short, full in SHORT_PATHS.items()},
}
