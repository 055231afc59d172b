"""Nobody can mail-bomb an address through Tandem: event registration, website forms and the
subscription API (double opt-in confirmations) stop at the per-address limit whatever the
client address; the unsubscribe page and the preference centre never send mail at all, however
often they are used. (Quote pages and price requests: sales' test_quotes.)"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.tokens import token_create
from tandem.marketing.email import sending
from tandem.marketing.events import services as events
from tandem.marketing.models import EmailRecipient, EmailSend, Segment, SubscriptionType
from tandem.marketing.subscriptions import services as subscriptions
from tandem.tracking.models import Form

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_subscription_api_confirmations_stop_at_the_per_address_limit(
    world: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    subscriptions.type_create(
        actor=SYSTEM, key="newsletter", name="Newsletter", wording="News.", wording_version="1",
        double_opt_in=True,
    )  # fmt: skip
    marketer = world.user("marketer")
    secret = token_create(actor=Actor(user=marketer), user=marketer, name="t", scope="write")
    contact = world.contacts[("sales_rep", "north")]
    answers = []
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(1, 5):
            client = Client(
                headers={"Authorization": f"Bearer {secret.secret}"}, REMOTE_ADDR=f"192.0.2.{i}"
            )
            answers.append(
                client.post(
                    "/api/v1/marketing/subscriptions/newsletter/subscribe",
                    {"email": contact.email, "wording_version": "1"},
                    content_type="application/json",
                )
            )
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert int(answers[2]["Retry-After"]) > 0
    assert [m.to for m in mail.outbox] == [[contact.email]] * 2


def test_event_registrations_for_one_address_stop_at_the_limit_from_any_client(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    event = events.event_create(
        actor=SYSTEM, kind="webinar", title="Bombs", starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1), join_url="https://meet.example.com/b",
        organizer_name="Marta", organizer_email="events@tandem.test",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            Client(REMOTE_ADDR=f"192.0.2.{i}")
            .post(f"/marketing/events/r/{event.slug}", {"name": "V", "email": "victim@example.com"})
            .status_code
            for i in range(1, 5)
        ]
    assert answers == [200, 200, 429, 429]


def test_form_confirmations_for_one_address_stop_at_the_limit_from_any_client(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUBLIC_EMAIL_RATE_LIMIT = 2
    form = Form.objects.create(
        name="News", consent_purpose="marketing_email", consent_wording="Send news.",
        consent_version="1", double_opt_in=True,
    )  # fmt: skip
    body = json.dumps({"email": "victim@example.com", "consent": True})
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            Client(REMOTE_ADDR=f"192.0.2.{i}")
            .post(f"/f/{form.key}/submit", body, content_type="application/json")
            .status_code
            for i in range(1, 5)
        ]
    assert answers[2:] == [429, 429]
    assert 1 <= len(mail.outbox) <= 2
    assert {tuple(m.to) for m in mail.outbox} == {("victim@example.com",)}


def _recipient(world: Any) -> EmailRecipient:
    news = SubscriptionType.objects.create(key="news", name="News", double_opt_in=True)
    template = sending.template_save(actor=SYSTEM, name="T", subject="S", html="<p>x</p>")
    send = EmailSend.objects.create(
        name="S", template=template, segment=Segment.objects.create(name="All", kind="static"),
        subscription_type=news, from_email="news@tandem.test",
    )  # fmt: skip
    contact = world.contacts[("sales_rep", "north")]
    return EmailRecipient.objects.create(send=send, contact=contact, email=contact.email)


def test_unsubscribe_and_preferences_never_send_mail(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recipient = _recipient(world)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(1, 8):
            client = Client(REMOTE_ADDR=f"192.0.2.{i}")
            on = client.post(f"/e/p/{recipient.token}", {"subscriptions": ["news"]})
            off = client.post(f"/e/u/{recipient.token}", {})
            assert (on.status_code, off.status_code) == (200, 200)
    assert mail.outbox == []  # re-subscribing from a link in one's own mail is proven
