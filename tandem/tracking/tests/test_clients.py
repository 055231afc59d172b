"""The official Segment and RudderStack Python clients, pointed at a live Tandem server."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rudderstack.analytics import request as rudder_request
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import request as segment_request
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError as SegmentAPIError

from tandem.crm.models import Contact, Identity, Touchpoint
from tandem.tracking.models import Source

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = {
    "segment": lambda key, url: SegmentClient(write_key=key, host=url, sync_mode=True),
    "rudder": lambda key, url: RudderClient(write_key=key, host=url, sync_mode=True),
}


@pytest.fixture(autouse=True)
def _hang_up() -> Iterator[None]:
    """Both clients post through one module-wide `requests` session that keeps its connection
    open; the live server's thread serving it would then hold a database connection to the end
    of the run (and PostgreSQL refuses to drop the test database). Hang up after each test."""
    yield
    segment_request._session.close()
    rudder_request._session.close()


def _row(source: Source, message_id: str) -> Touchpoint:
    rows = list(Touchpoint.objects.filter(message_id=f"s{source.pk}:{message_id}"))
    assert len(rows) == 1, f"{message_id}: {len(rows)} rows"
    return rows[0]


def _send_all(client: Any, prefix: str) -> None:
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    campaign = {
        "source": "linkedin",
        "medium": "social",
        "name": "spring-launch",
        "content": "video-a",
    }
    client.identify(
        user_id=f"{prefix}-user",
        anonymous_id=f"{prefix}-anon",
        traits={"email": f"{prefix}@buyer.example", "firstName": "Ada"},
        message_id=f"{prefix}-identify",
        timestamp=at,
    )
    client.track(
        user_id=f"{prefix}-user",
        event="Demo Requested",
        properties={"plan": "pro", "seats": 5},
        context={
            "campaign": campaign,
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        },
        message_id=f"{prefix}-track",
        timestamp=at,
    )
    client.page(
        anonymous_id=f"{prefix}-anon",
        name="Pricing",
        properties={"url": "https://shop.example/pricing"},
        context={
            "page": {
                "url": "https://shop.example/pricing",
                "referrer": "https://www.google.com/search?q=x",
            }
        },
        message_id=f"{prefix}-page",
        timestamp=at,
    )
    client.screen(
        user_id=f"{prefix}-user", name="Dashboard", message_id=f"{prefix}-screen", timestamp=at
    )
    client.group(
        user_id=f"{prefix}-user",
        group_id=f"{prefix}-org",
        traits={"name": "Buyer Ltd", "website": "buyer.example"},
        message_id=f"{prefix}-group",
        timestamp=at,
    )
    client.alias(
        previous_id=f"{prefix}-old-device",
        user_id=f"{prefix}-user",
        message_id=f"{prefix}-alias",
        timestamp=at,
    )
    client.flush()


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_every_call_type_is_stored_once_with_its_fields(
    name: str, live: Any, server_source: tuple[Source, str]
) -> None:
    source, key = server_source
    client = CLIENTS[name](key, live.url)
    _send_all(client, name)
    _send_all(client, name)  # a resend of every message changes nothing

    assert Touchpoint.objects.filter(source="Backend").count() == 6
    contact = Contact.objects.get(email=f"{name}@buyer.example")
    assert contact.first_name == "Ada"
    identify = _row(source, f"{name}-identify")
    assert (identify.kind, identify.contact_id, identify.user_id) == (
        "identify",
        contact.pk,
        f"{name}-user",
    )
    track = _row(source, f"{name}-track")
    assert (track.kind, track.contact_id, track.campaign, track.content, track.channel) == (
        "Demo Requested",
        contact.pk,
        "spring-launch",
        "video-a",
        "linkedin",
    )
    assert track.properties["properties"] == {"plan": "pro", "seats": 5}
    assert track.properties["ip"] == "203.0.113.9"
    assert track.is_bot is False
    page = _row(source, f"{name}-page")
    assert (page.kind, page.contact_id, page.anonymous_id, page.channel) == (
        "page_view",
        contact.pk,
        f"{name}-anon",
        "organic_search",
    )
    assert page.properties["context"]["page"]["url"] == "https://shop.example/pricing"
    screen = _row(source, f"{name}-screen")
    assert (screen.kind, screen.properties["name"]) == ("screen_view", "Dashboard")
    group = _row(source, f"{name}-group")
    contact.refresh_from_db()
    assert contact.account is not None
    assert contact.account.name == "Buyer Ltd"
    assert contact.account.domains == ["buyer.example"]
    assert group.account_id == contact.account_id
    alias = _row(source, f"{name}-alias")
    assert alias.kind == "alias"
    assert Identity.objects.get(kind="anonymous_id", value=f"{name}-old-device").contact_id == (
        contact.pk
    )
    # occurred_at: the client's own clock agrees with ours here, so the call time stands.
    assert (
        abs((track.occurred_at - dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)).total_seconds()) < 5
    )


def test_segment_client_reads_our_error_shape(live: Any, db: None) -> None:
    client = SegmentClient(write_key="tdw_not-a-key", host=live.url, sync_mode=True)
    with pytest.raises(SegmentAPIError) as caught:
        client.track(user_id="u", event="X")
    assert (caught.value.status, caught.value.code) == (401, "invalid_write_key")
    assert Touchpoint.objects.filter(kind="X").count() == 0


def test_concurrent_sends_of_one_message_are_stored_once(
    live: Any, website: tuple[Source, str]
) -> None:
    source, key = website
    body = {
        "batch": [
            {
                "type": "track",
                "event": "Signed Up",
                "anonymousId": "a-1",
                "messageId": "same-message",
            }
        ]
    }
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        response = requests.post(f"{live.url}/v1/batch", json=body, auth=(key, ""), timeout=30)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert Touchpoint.objects.filter(message_id=f"s{source.pk}:same-message").count() == 1
