"""Public email endpoints, consent ledger, bounces/complaints, pages and API access by role."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.marketing import consent
from tandem.marketing.email import engagement, message, sending
from tandem.marketing.models import (
    ConsentSource,
    EmailRecipient,
    Segment,
    SubscriptionType,
    Suppression,
)
from tandem.marketing.segments import services as seg
from tandem.tracking.models import ConsentRecord

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
HUMAN = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


@pytest.fixture
def sent(settings: Any) -> EmailRecipient:
    """One message sent (locmem backend) to a subscribed contact."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TANDEM_BASE_URL = "https://tandem.example"
    news = SubscriptionType.objects.create(key="newsletter", name="Newsletter", double_opt_in=False)
    SubscriptionType.objects.create(key="events", name="Events", double_opt_in=False)
    contact = crm.contact_create(actor=SYSTEM, first_name="Ann", email="ann@example.com")
    consent.subscribe(contact=contact, subscription=news, source="import")
    template = sending.template_save(
        actor=SYSTEM, name="T", subject="Hi", html='<a href="https://shop.example/x?a=1">x</a>'
    )
    segment = seg.segment_create(actor=SYSTEM, name="All", kind="static")
    seg.static_members_add(actor=SYSTEM, segment=segment, contact_ids=[contact.pk])
    send = sending.send_create(
        actor=SYSTEM,
        name="S",
        template=template,
        segment=segment,
        subscription_type=news,
        from_email="news@news.example",
        campaign="spring",
    )
    sending.send_run(send_id=send.pk)
    assert len(mail.outbox) == 1
    return EmailRecipient.objects.get(send=send)


def test_open_pixel_and_click_record_touchpoints_and_filter_bots(
    client: Client, sent: EmailRecipient
) -> None:
    response = client.get(f"/e/o/{sent.token}", HTTP_USER_AGENT="GoogleImageProxy")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    sent.refresh_from_db()
    assert sent.opened_at is None  # a proxy fetch is not a person
    client.get(f"/e/o/{sent.token}", HTTP_USER_AGENT=HUMAN)
    sent.refresh_from_db()
    assert sent.opened_at is not None
    link = message.click_url(sent.token, "https://shop.example/x?a=1")
    path = link.removeprefix("https://tandem.example")
    response = client.get(path, HTTP_USER_AGENT="python-requests/2.32")
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/x?a=1"
    opens = Touchpoint.objects.filter(kind="email_opened").order_by("id")
    assert [(t.channel, t.department, t.is_bot, t.campaign) for t in opens] == [
        ("email", "marketing", True, "spring"),
        ("email", "marketing", False, "spring"),
    ]
    click = Touchpoint.objects.get(kind="email_clicked")
    assert click.is_bot is True
    assert click.properties["bot_reason"] == "crawler"
    sent.refresh_from_db()
    assert sent.clicked_at is None


def test_click_link_cannot_be_forged_into_an_open_redirect(
    client: Client, sent: EmailRecipient
) -> None:
    link = message.click_url(sent.token, "https://shop.example/x")
    signed = link.rsplit("/", 1)[1]
    assert client.get("/e/c/" + signed[:-2] + "xx").status_code == 404
    assert client.get("/e/c/https%3A%2F%2Fevil.example").status_code == 404


def test_one_click_unsubscribe_and_get_changes_nothing(
    client: Client, sent: EmailRecipient
) -> None:
    assert client.get(f"/e/u/{sent.token}").status_code == 200
    assert consent.is_subscribed(contact_id=sent.contact_id, purpose="newsletter")
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(f"/e/u/{sent.token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not consent.is_subscribed(contact_id=sent.contact_id, purpose="newsletter")
    last = ConsentRecord.objects.filter(contact_id=sent.contact_id).order_by("-id").first()
    assert last is not None
    assert (last.state, ConsentSource.objects.get(record=last).source) == (
        "withdrawn",
        "one_click",
    )
    assert client.post("/e/u/not-a-token").status_code == 404


def test_preference_centre_grants_and_withdraws(client: Client, sent: EmailRecipient) -> None:
    page = client.get(f"/e/p/{sent.token}")
    assert page.status_code == 200
    assert b'value="newsletter" checked' in page.content
    client.post(f"/e/p/{sent.token}", {"subscriptions": ["events"]})
    assert consent.subscriptions_of(sent.contact_id) == {"newsletter": False, "events": True}
    client.post(f"/e/p/{sent.token}", {"subscriptions": ["events"], "all": "off"})
    assert consent.subscriptions_of(sent.contact_id) == {"newsletter": False, "events": False}


def test_preference_centre_refuses_a_type_it_did_not_offer_and_changes_nothing(
    client: Client, sent: EmailRecipient
) -> None:
    before = consent.subscriptions_of(sent.contact_id)
    for body in ({"subscriptions": ["no_such_type"]}, {"all": "everything"}):
        response = client.post(f"/e/p/{sent.token}", body)
        assert response.status_code == 400
        assert response.context["errors"]
        assert b'role="alert"' in response.content
    assert consent.subscriptions_of(sent.contact_id) == before


def test_unsubscribe_with_an_oversize_one_click_field_is_a_400_and_keeps_the_subscription(
    client: Client, sent: EmailRecipient
) -> None:
    response = client.post(f"/e/u/{sent.token}", {"List-Unsubscribe": "One-Click" * 10})
    assert response.status_code == 400
    assert consent.is_subscribed(contact_id=sent.contact_id, purpose="newsletter")


def test_double_opt_in_and_the_shared_ledger(
    client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    news = SubscriptionType.objects.create(key="newsletter", name="Newsletter")
    contact = crm.contact_create(actor=SYSTEM, email="bo@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        consent.subscribe(
            contact=contact, subscription=news, source="api", confirm_base="/e/confirm/"
        )
    assert consent.consent_state(contact_id=contact.pk, purpose="newsletter") == "pending"
    link = re.search(r"/e/confirm/\S+", mail.outbox[0].body)
    assert link is not None
    assert client.get(link.group(0)).status_code == 200
    assert consent.consent_state(contact_id=contact.pk, purpose="newsletter") == "pending"
    assert client.post(link.group(0)).status_code == 200
    assert consent.consent_state(contact_id=contact.pk, purpose="newsletter") == "confirmed"
    assert client.get("/e/confirm/forged").status_code == 400
    assert client.post("/e/confirm/forged").status_code == 400
    # a tracking form's record with the same purpose is the same ledger
    ConsentRecord.objects.create(contact=contact, purpose="newsletter", state="withdrawn")
    assert not consent.is_subscribed(contact_id=contact.pk, purpose="newsletter")
    contact.refresh_from_db()
    assert contact.consent == "granted"


DSN = b"""From: MAILER-DAEMON@mx.example
To: bounces+{token}@bounce.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; ann@example.com
Action: failed
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B--
"""

ARF = b"""From: fbl@isp.example
To: bounces+{token}@bounce.example
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an abuse report.
--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1

--F--
"""


def test_hard_bounce_suppresses_soft_does_not(sent: EmailRecipient) -> None:
    soft = DSN.replace(b"{token}", sent.token.encode()).replace(b"{status}", b"4.2.2")
    assert engagement.process_returned_mail(soft) == {
        "suppressed": [],
        "temporary": ["ann@example.com"],
        "complaints": [],
    }
    assert not Suppression.objects.exists()
    hard = DSN.replace(b"{token}", sent.token.encode()).replace(b"{status}", b"5.1.1")
    assert engagement.process_returned_mail(hard)["suppressed"] == ["ann@example.com"]
    assert Suppression.objects.get().reason == "bounce"


def test_complaint_suppresses_and_withdraws(sent: EmailRecipient) -> None:
    report = ARF.replace(b"{token}", sent.token.encode())
    assert engagement.process_returned_mail(report)["complaints"] == ["ann@example.com"]
    assert Suppression.objects.get().reason == "complaint"
    assert consent.subscriptions_of(sent.contact_id) == {"newsletter": False, "events": False}
    contact = Contact.objects.get(pk=sent.contact_id)
    assert contact.consent == "withdrawn"


def test_pages_and_api_by_role(world: World) -> None:
    marketer, rep = Client(), Client()
    marketer.login(username="marketer_north", password=PASSWORD)
    rep.login(username="sales_rep_north", password=PASSWORD)
    definition = {"type": "field", "field": "contact.email", "op": "contains", "value": "north"}
    count = marketer.post("/marketing/segments/count", {"definition": json.dumps(definition)})
    assert count.status_code == 200
    assert b"2 contacts match" in count.content
    bad = marketer.post("/marketing/segments/count", {"definition": '{"type": "raw"}'})
    assert b'role="alert"' in bad.content
    saved = marketer.post(
        "/marketing/segments/new",
        {"name": "North", "kind": "dynamic", "definition": json.dumps(definition)},
    )
    assert saved.status_code == 302
    segment = Segment.objects.get()
    assert marketer.get(f"/marketing/segments/{segment.pk}/").status_code == 200
    assert rep.get(f"/marketing/segments/{segment.pk}/").status_code == 404
    assert rep.get("/marketing/segments/").status_code == 404
    assert marketer.get("/marketing/email/").status_code == 200
    api = marketer.post(
        "/api/v1/marketing/segments/count",
        {"definition": definition},
        content_type="application/json",
    )
    assert api.json() == {"count": 2}
    assert rep.get("/api/v1/marketing/segments").json() == []
    assert rep.get(f"/api/v1/marketing/segments/{segment.pk}").status_code == 404
    refused = rep.post(
        "/api/v1/marketing/segments/count",
        {"definition": definition},
        content_type="application/json",
    )
    assert refused.status_code == 403
    hostile = marketer.post(
        "/api/v1/marketing/segments",
        {"name": "x", "definition": {"type": "field", "field": "contact.id; --", "op": "eq"}},
        content_type="application/json",
    )
    assert hostile.status_code == 400


def test_returned_mail_command(sent: EmailRecipient, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from django.core.management import CommandError, call_command

    hard = DSN.replace(b"{token}", sent.token.encode()).replace(b"{status}", b"5.1.1")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(hard)))
    out = io.StringIO()
    call_command("marketing_returned_mail", stdout=out)
    assert json.loads(out.getvalue())["suppressed"] == ["ann@example.com"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(CommandError, match="no message"):
        call_command("marketing_returned_mail")
