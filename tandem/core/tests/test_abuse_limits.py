"""Abuse limits: counts live in a cache every process shares (not local memory), a public form
that mails its address is limited per address whoever asks and from wherever, and the API is
limited per user, not per token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.tokens import token_create
from tandem.tracking.models import Form


def test_the_configured_rate_limit_cache_is_shared_by_processes() -> None:
    import config.settings as configured

    alias = configured.RATE_LIMIT_CACHE
    assert "locmem" not in str(configured.CACHES[alias]["BACKEND"]).lower()


@pytest.fixture
def optin(db: None) -> Form:
    return Form.objects.create(
        name="Newsletter",
        fields=[{"name": "first_name", "label": "First name"}],
        consent_purpose="marketing_email",
        consent_wording="Send me the newsletter.",
        consent_version="1",
        double_opt_in=True,
    )


def test_one_address_is_limited_across_client_addresses(optin: Form, settings: Any) -> None:
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    settings.TRACKING_FORM_RATE_LIMIT = 100
    url = f"/f/{optin.key}/submit"
    answers = [
        Client(REMOTE_ADDR=f"203.0.113.{i}").post(url, {"email": "Victim@Example.com"})
        for i in range(1, 5)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert int(answers[2]["Retry-After"]) > 0
    other = Client(REMOTE_ADDR="203.0.113.9").post(url, {"email": "someone@example.com"})
    assert other.status_code == 200


def test_api_limit_is_per_user_not_per_token(world: World, settings: Any) -> None:
    settings.API_RATE_LIMIT = 3
    user = world.user("admin")
    statuses = []
    for i in range(5):  # a fresh token for every call does not buy a fresh limit
        new = token_create(actor=Actor.system(), user=user, name=f"t{i}")
        answer = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {new.secret}")
        statuses.append(answer.status_code)
    assert statuses[:3] != [429, 429, 429]
    assert statuses[-1] == 429
    assert "Retry-After" in answer


def test_event_registration_is_limited_per_address_and_per_client(db: None, settings: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from tandem.marketing.events import services as events
    from tandem.marketing.events.views import REGISTRATION_RATE_PER_MINUTE

    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    event = events.event_create(
        actor=Actor.system(),
        kind="webinar",
        title="Abuse",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        join_url="https://meet.example.com/x",
        organizer_name="M",
        organizer_email="events@tandem.test",
    )
    url = f"/marketing/events/r/{event.slug}"
    body = {"name": "V", "email": "victim@example.com", "company": ""}
    answers = [Client(REMOTE_ADDR=f"198.51.100.{i}").post(url, body) for i in range(1, 4)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0
    one = Client(REMOTE_ADDR="198.51.100.200")
    statuses = [
        one.post(url, {**body, "email": f"p{i}@example.com"}).status_code
        for i in range(REGISTRATION_RATE_PER_MINUTE + 1)
    ]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {200}
