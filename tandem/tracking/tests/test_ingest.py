"""The HTTP Tracking API through Django's test client: formats, limits, errors, time, CORS."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.crm.models import Touchpoint
from tandem.tracking import services
from tandem.tracking.models import Source

pytestmark = pytest.mark.django_db


def _auth(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _post(client: Client, path: str, body: Any, key: str | None = None, **extra: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = _auth(key) if key else {}
    return client.post(
        path,
        data=data,
        content_type=extra.pop("content_type", "application/json"),
        **headers,
        **extra,
    )


def test_batch_with_basic_auth_is_stored(website: tuple[Source, str]) -> None:
    source, key = website
    body = {
        "batch": [
            {"type": "track", "event": "Signed Up", "anonymousId": "a1", "messageId": "m1"},
            {
                "type": "page",
                "anonymousId": "a1",
                "userId": None,
                "messageId": "m2",
                "name": None,
                "properties": None,
                "context": None,
            },
        ]
    }
    response = _post(Client(), "/v1/batch", body, key)
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert sorted(
        Touchpoint.objects.filter(source="Website").values_list("message_id", "kind")
    ) == [(f"s{source.pk}:m1", "Signed Up"), (f"s{source.pk}:m2", "page_view")]


def test_gzip_body_and_write_key_in_body(website: tuple[Source, str]) -> None:
    source, key = website
    body = {
        "writeKey": key,
        "batch": [
            {
                "type": "identify",
                "userId": "u9",
                "messageId": "g1",
                "traits": {"email": "g@zip.example"},
            }
        ],
    }
    raw = gzip.compress(json.dumps(body).encode())
    response = _post(Client(), "/v1/batch", raw, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    row = Touchpoint.objects.get(message_id=f"s{source.pk}:g1")
    assert row.contact is not None
    assert row.contact.email == "g@zip.example"


def test_browser_short_path_takes_text_plain_and_answers_cors(website: tuple[Source, str]) -> None:
    source, key = website
    client = Client()
    preflight = client.options(
        "/v1/p", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    body = {
        "writeKey": key,
        "anonymousId": "b1",
        "messageId": "p1",
        "properties": {"url": "https://shop.example/?utm_source=vk&utm_medium=social"},
        "context": {
            "page": {"url": "https://shop.example/?utm_source=vk&utm_medium=social", "referrer": ""}
        },
    }
    response = _post(
        client,
        "/v1/p",
        body,
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
        HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/126.0",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    row = Touchpoint.objects.get(message_id=f"s{source.pk}:p1")
    assert (row.kind, row.channel, row.department) == ("page_view", "vk", "marketing")
    assert row.properties["user_agent"] == "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        ({"batch": "nope"}, 400, "invalid_request"),
        ({"batch": [{"type": "track", "event": "X", "messageId": "n1"}]}, 400, "missing_id"),
        (
            {"batch": [{"type": "track", "anonymousId": "a", "messageId": "n2"}]},
            400,
            "missing_event",
        ),
        ({"batch": [{"type": "explode", "anonymousId": "a"}]}, 400, "invalid_type"),
        ({"batch": [{"type": "group", "anonymousId": "a"}]}, 400, "missing_group_id"),
        (
            {
                "batch": [
                    {"type": "track", "event": "ok", "anonymousId": "a", "messageId": "n3"},
                    {
                        "type": "track",
                        "event": "X" * 10,
                        "anonymousId": "a",
                        "properties": {"blob": "x" * 33_000},
                    },
                ]
            },
            413,
            "too_large",
        ),
        (
            {
                "batch": [
                    {
                        "type": "track",
                        "event": "E",
                        "anonymousId": "a",
                        "properties": {"blob": "x" * 30_000},
                    }
                    for _ in range(18)
                ]
            },
            413,
            "too_large",
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_stores_nothing(
    website: tuple[Source, str], body: Any, status: int, code: str
) -> None:
    _source, key = website
    response = _post(Client(), "/v1/batch", body, key)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert Touchpoint.objects.filter(source="Website").count() == 0


def test_single_event_over_32_kb_is_refused(website: tuple[Source, str]) -> None:
    _source, key = website
    body = {"anonymousId": "a", "event": "Big", "properties": {"x": "y" * 33_000}}
    response = _post(Client(), "/v1/track", body, key)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")


def test_unknown_and_revoked_keys_are_refused(website: tuple[Source, str]) -> None:
    source, key = website
    body = {"batch": [{"type": "track", "event": "E", "anonymousId": "a"}]}
    assert _post(Client(), "/v1/batch", body, "tdw_wrong").status_code == 401
    services.source_revoke(actor=Actor.system(), source=source)
    response = _post(Client(), "/v1/batch", body, key)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")
    assert Touchpoint.objects.filter(source="Website").count() == 0


def test_overload_answers_429_with_retry_after(website: tuple[Source, str], settings: Any) -> None:
    _source, key = website
    settings.TRACKING_MAX_IN_FLIGHT = 0
    body = {"batch": [{"type": "track", "event": "E", "anonymousId": "a"}]}
    response = _post(Client(), "/v1/batch", body, key)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "rate_limited"


def test_clock_skew_is_corrected(website: tuple[Source, str]) -> None:
    source, key = website
    # The client's clock runs one hour fast: it says it sent at 13:00:10 an event of 13:00:00.
    body = {
        "sentAt": "2026-05-01T13:00:10Z",
        "batch": [
            {
                "type": "track",
                "event": "E",
                "anonymousId": "a",
                "messageId": "skew",
                "originalTimestamp": "2026-05-01T13:00:00.000Z",
            }
        ],
    }
    before = dt.datetime.now(dt.UTC)
    assert _post(Client(), "/v1/batch", body, key).status_code == 200
    after = dt.datetime.now(dt.UTC)
    occurred = Touchpoint.objects.get(message_id=f"s{source.pk}:skew").occurred_at
    assert before - dt.timedelta(seconds=10) <= occurred <= after - dt.timedelta(seconds=10)


def test_missing_message_id_gets_one(website: tuple[Source, str]) -> None:
    _source, key = website
    body = {"batch": [{"type": "track", "event": "E", "anonymousId": "a"}] * 2}
    assert _post(Client(), "/v1/batch", body, key).status_code == 200
    assert Touchpoint.objects.filter(source="Website", kind="E").count() == 2


def test_crawler_user_agent_is_flagged(website: tuple[Source, str]) -> None:
    source, key = website
    body = {"anonymousId": "c", "messageId": "bot1", "writeKey": key}
    response = _post(
        Client(),
        "/v1/p",
        body,
        content_type="text/plain",
        HTTP_USER_AGENT="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    )
    assert response.status_code == 200
    row = Touchpoint.objects.get(message_id=f"s{source.pk}:bot1")
    assert (row.is_bot, row.properties["bot_reason"]) == (True, "crawler")
