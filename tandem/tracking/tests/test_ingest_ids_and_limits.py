"""Ingestion never loses or mixes data silently: identifiers too long to store whole, NUL
characters, nesting and far timestamps are answered 400 with a reason (the same on SQLite and
PostgreSQL), and nothing of the request is stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from tandem.crm.models import Contact, Touchpoint
from tandem.tracking.models import Source

pytestmark = pytest.mark.django_db


def _post(path: str, body: Any, key: str) -> Any:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client().post(path, data=data, content_type="application/json", HTTP_AUTHORIZATION=auth)


def test_two_message_ids_sharing_their_first_190_characters_are_two_events(
    website: tuple[Source, str],
) -> None:
    source, key = website
    stem = "m" * 190
    for suffix in ("1", "2"):
        body = {"event": "A", "anonymousId": "x", "messageId": stem + suffix}
        assert _post("/v1/track", body, key).status_code == 200
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == [
        f"s{source.pk}:{stem}1",
        f"s{source.pk}:{stem}2",
    ]


def test_a_message_id_too_long_to_store_whole_is_refused_with_the_reason(
    website: tuple[Source, str],
) -> None:
    source, key = website
    too_long = "m" * (200 - len(f"s{source.pk}:") + 1)
    response = _post("/v1/track", {"event": "A", "anonymousId": "x", "messageId": too_long}, key)
    assert (response.status_code, response.json()["code"]) == (400, "too_long")
    assert "messageId" in response.json()["message"]
    assert Touchpoint.objects.count() == 0


def test_a_message_id_that_fits_is_stored_whole(website: tuple[Source, str]) -> None:
    source, key = website
    message_id = "m" * (200 - len(f"s{source.pk}:"))
    response = _post("/v1/track", {"event": "A", "anonymousId": "x", "messageId": message_id}, key)
    assert response.status_code == 200
    assert Touchpoint.objects.get().message_id == f"s{source.pk}:{message_id}"


@pytest.mark.parametrize("field", ["userId", "anonymousId"])
def test_an_id_longer_than_200_characters_is_refused_and_never_lands_on_another_contact(
    website: tuple[Source, str], field: str
) -> None:
    _source, key = website
    stem = "u" * 200
    for suffix in ("-alice", "-bob"):
        response = _post(
            "/v1/identify", {field: stem + suffix, "traits": {"email": f"{suffix[1:]}@x.io"}}, key
        )
        assert (response.status_code, response.json()["code"]) == (400, "too_long")
        assert field in response.json()["message"]
    assert Contact.objects.count() == 0
    assert Touchpoint.objects.count() == 0


def test_a_batch_with_one_overlong_group_id_stores_nothing(website: tuple[Source, str]) -> None:
    _source, key = website
    body = {
        "batch": [
            {"type": "track", "event": "A", "anonymousId": "a"},
            {"type": "group", "anonymousId": "a", "groupId": "g" * 201},
        ]
    }
    response = _post("/v1/batch", body, key)
    assert (response.status_code, response.json()["code"]) == (400, "too_long")
    assert Touchpoint.objects.count() == 0


@pytest.mark.parametrize(
    "event",
    [
        {"event": "A\x00B", "anonymousId": "a"},
        {"event": "A", "anonymousId": "a\x00"},
        {"event": "A", "anonymousId": "a", "properties": {"k": "v\x00"}},
        {"event": "A", "anonymousId": "a", "properties": {"k\x00": "v"}},
        {"event": "A", "anonymousId": "a", "context": {"page": {"url": "https://x.io/\x00"}}},
    ],
)
def test_nul_characters_are_refused_on_every_database(
    website: tuple[Source, str], event: dict[str, Any]
) -> None:
    _source, key = website
    response = _post("/v1/track", event, key)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_text")
    assert Touchpoint.objects.count() == 0


def test_json_nested_hundreds_of_levels_is_a_400(website: tuple[Source, str]) -> None:
    _source, key = website
    for depth in (300, 2000):
        nested = "[" * depth + "]" * depth
        body = f'{{"event": "A", "anonymousId": "a", "properties": {{"deep": {nested}}}}}'
        response = _post("/v1/track", body.encode(), key)
        assert response.status_code == 400, depth
        assert response.json()["code"] in ("too_deep", "invalid_json")
    assert Touchpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        ("0001-01-01T00:00:00Z", None),
        ("9999-12-31T23:59:59Z", None),
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00+14:00", None),
        ("9999-12-31T23:59:59-12:00", None),
    ],
)
def test_timestamps_at_year_1_or_9999_are_answered_without_a_server_error(
    website: tuple[Source, str], timestamp: str, sent_at: str | None
) -> None:
    _source, key = website
    event: dict[str, Any] = {"event": "A", "anonymousId": "a", "timestamp": timestamp}
    if sent_at:
        event["sentAt"] = sent_at
    response = _post("/v1/track", event, key)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["code"] == "invalid_timestamp"
        assert Touchpoint.objects.count() == 0
    else:
        stored = Touchpoint.objects.get()
        assert 1 <= stored.occurred_at.year <= 9999
