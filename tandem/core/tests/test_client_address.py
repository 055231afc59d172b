"""The client's address: REMOTE_ADDR unless TANDEM_TRUSTED_PROXIES says how many proxies'
X-Forwarded-For entries to believe; a client that writes the header itself gains nothing,
neither against the rate limiter nor in the evidence Tandem stores."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.client_address import client_address
from tandem.core.models import LoginAttempt
from tandem.marketing.events import services as events
from tandem.marketing.events.views import REGISTRATION_RATE_PER_MINUTE
from tandem.tracking.models import ConsentRecord, Form

PROXY = "10.0.0.1"


def _address(proxies: int, settings: Any, remote: str, forwarded: str | None) -> str:
    settings.TANDEM_TRUSTED_PROXIES = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.7", None, "198.51.100.7"),
        (0, "198.51.100.7", "1.2.3.4", "198.51.100.7"),  # spoofed: ignored without proxies
        (1, PROXY, "203.0.113.7", "203.0.113.7"),
        (1, PROXY, "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # the client's own entry is skipped
        (1, PROXY, "1.2.3.4,203.0.113.7 ", "203.0.113.7"),
        (2, PROXY, "1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, PROXY, "203.0.113.7", PROXY),  # fewer entries than proxies: the peer, not a guess
        (1, PROXY, None, PROXY),
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, "2001:db8::1", "2001:db8::1"),
        (0, "", None, ""),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    proxies: int, remote: str, forwarded: str | None, expected: str, settings: Any
) -> None:
    assert _address(proxies, settings, remote, forwarded) == expected


def _event() -> Any:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    return events.event_create(
        actor=Actor.system(), kind="webinar", title="Spoofing 101", starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1), join_url="https://meet.example.com/s",
        organizer_name="Marta", organizer_email="events@tandem.test",
    )  # fmt: skip


@pytest.mark.django_db
def test_without_trusted_proxies_a_spoofed_header_does_not_escape_the_rate_limit(
    settings: Any,
) -> None:
    settings.TANDEM_TRUSTED_PROXIES = 0
    event = _event()
    client = Client(REMOTE_ADDR="198.51.100.7")
    answers = [
        client.post(
            f"/marketing/events/r/{event.slug}",
            {"name": "N", "email": f"p{i}@example.com"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(REGISTRATION_RATE_PER_MINUTE + 1)
    ]
    assert answers == [200] * REGISTRATION_RATE_PER_MINUTE + [429]


@pytest.mark.django_db
def test_behind_one_proxy_the_limit_is_per_real_client_whatever_it_prepends(
    settings: Any,
) -> None:
    settings.TANDEM_TRUSTED_PROXIES = 1
    event = _event()
    via_proxy = Client(REMOTE_ADDR=PROXY)
    answers = [
        via_proxy.post(
            f"/marketing/events/r/{event.slug}",
            {"name": "N", "email": f"p{i}@example.com"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.7",  # spoofed entry, then the real one
        ).status_code
        for i in range(REGISTRATION_RATE_PER_MINUTE + 1)
    ]
    assert answers == [200] * REGISTRATION_RATE_PER_MINUTE + [429]
    other = via_proxy.post(
        f"/marketing/events/r/{event.slug}",
        {"name": "N", "email": "other@example.com"},
        HTTP_X_FORWARDED_FOR="203.0.113.8",
    )
    assert other.status_code == 200  # another client behind the same proxy is not limited


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "stored"), [(0, PROXY), (1, "203.0.113.7")])
def test_consent_evidence_stores_the_client_address(
    proxies: int, stored: str, settings: Any
) -> None:
    settings.TANDEM_TRUSTED_PROXIES = proxies
    form = Form.objects.create(
        name="News", consent_purpose="marketing_email", consent_wording="Send news.",
        consent_version="1",
    )  # fmt: skip
    response = Client(REMOTE_ADDR=PROXY).post(
        f"/f/{form.key}/submit",
        data=json.dumps({"email": "ola@example.com", "consent": True}),
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
    )
    assert response.status_code in (200, 201), response.content
    assert ConsentRecord.objects.get().ip == stored


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "stored"), [(0, PROXY), (1, "203.0.113.7")])
def test_failed_sign_ins_are_counted_against_the_client_address(
    proxies: int, stored: str, settings: Any
) -> None:
    settings.TANDEM_TRUSTED_PROXIES = proxies
    Client(REMOTE_ADDR=PROXY).post(
        "/login/", {"username": "nobody", "password": "wrong"},
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
    )  # fmt: skip
    assert list(LoginAttempt.objects.values_list("ip", flat=True)) == [stored]
