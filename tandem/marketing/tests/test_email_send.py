"""Sending through a real SMTP server (aiosmtpd): MIME, RFC 8058 headers, DKIM, skips, resume."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import SmtpInbox, smtp_server
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.email import render, sending
from tandem.marketing.models import EmailRecipient, SubscriptionType
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpInbox]:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.BOUNCE_DOMAIN = "bounce.example"
    with smtp_server(SmtpInbox(), settings) as inbox:
        yield inbox


@pytest.fixture
def dkim_key(settings: Any) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "news.example", "s1"
    settings.DKIM_PRIVATE_KEY = pem.decode()
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def newsletter() -> SubscriptionType:
    return SubscriptionType.objects.create(key="newsletter", name="Newsletter", double_opt_in=False)


def people(n: int, newsletter: SubscriptionType) -> list[Contact]:
    out = []
    for i in range(n):
        contact = crm.contact_create(
            actor=SYSTEM, first_name=f"P{i}" if i % 2 else "", email=f"p{i}@example.com"
        )
        consent.subscribe(contact=contact, subscription=newsletter, source="test")
        out.append(contact)
    return out


def make_send(newsletter: SubscriptionType, **options: Any) -> Any:
    template = sending.template_save(
        actor=SYSTEM,
        name="Hello",
        subject="Hi {{ contact.first_name|default:'there' }}",
        html=(
            '<p>Hello {{ contact.first_name|default:"there" }}!</p>'
            '<p><a href="https://shop.example/pricing">Pricing</a></p>'
            "<script>alert(1)</script>"
        ),
    )
    everyone = seg.segment_create(
        actor=SYSTEM, name="All", definition={"type": "field", "field": "contact.email",
                                               "op": "is_not_empty"},
    )  # fmt: skip
    return sending.send_create(
        actor=SYSTEM,
        name="Launch",
        template=template,
        segment=everyone,
        subscription_type=newsletter,
        from_email="news@news.example",
        from_name="Tandem News",
        **options,
    )


def test_message_shape_headers_and_dkim(
    smtp: SmtpInbox, dkim_key: bytes, newsletter: SubscriptionType
) -> None:
    people(2, newsletter)
    send = make_send(newsletter)
    assert sending.send_run(send_id=send.pk) == {"delivered": 2}
    assert len(smtp.messages) == 2
    by_rcpt = {rcpt[0]: (mail_from, raw) for mail_from, rcpt, raw in smtp.messages}
    mail_from, raw = by_rcpt["p0@example.com"]
    row = EmailRecipient.objects.get(email="p0@example.com")
    assert mail_from == f"bounces+{row.token}@bounce.example"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Hi there"
    assert msg["List-Unsubscribe"] == f"<https://tandem.example/e/u/{row.token}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hello there!" in text
    assert "Unsubscribe: https://tandem.example/e/u/" in text
    assert "<script>" not in html
    assert "alert(1)" not in html
    assert "https://tandem.example/e/c/" in html
    assert 'href="https://shop.example' not in html
    assert f"https://tandem.example/e/o/{row.token}" in html
    signature = msg["DKIM-Signature"]
    assert "list-unsubscribe-post" in signature.lower().replace(" ", "")
    dns = {b"s1._domainkey.news.example.": dkim_key}
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name))
    tampered = raw.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: dns.get(name))
    _from, raw1 = by_rcpt["p1@example.com"]
    assert email.message_from_bytes(raw1, policy=email.policy.default)["Subject"] == "Hi P1"


def test_skips_unsubscribed_suppressed_no_consent_and_capped(
    smtp: SmtpInbox, newsletter: SubscriptionType
) -> None:
    _a, b, _c, d, _e = people(5, newsletter)
    crm.contact_create(actor=SYSTEM, email="never@example.com")  # no consent
    consent.unsubscribe(contact=b, subscriptions=[newsletter], source="test")
    sending.suppress(email="P2@example.com", reason="bounce")
    first = make_send(newsletter, frequency_cap=1, frequency_days=7)
    sending.send_run(send_id=first.pk)
    second = make_send(newsletter, frequency_cap=1, frequency_days=7)
    sending.send_start(send_id=second.pk)
    consent.unsubscribe(contact=d, source="test")  # queued send: honoured at once
    sending.send_run(send_id=second.pk)
    rows = {
        (r.send_id, r.email): (r.status, r.skip_reason)
        for r in EmailRecipient.objects.filter(send=first)
    }
    assert rows == {
        (first.pk, "p0@example.com"): ("sent", ""),
        (first.pk, "p1@example.com"): ("skipped", "unsubscribed"),
        (first.pk, "p2@example.com"): ("skipped", "suppressed"),
        (first.pk, "p3@example.com"): ("sent", ""),
        (first.pk, "p4@example.com"): ("sent", ""),
        (first.pk, "never@example.com"): ("skipped", "no_consent"),
    }
    second_rows = dict(
        EmailRecipient.objects.filter(send=second).values_list("email", "skip_reason")
    )
    assert second_rows["p0@example.com"] == "frequency_cap"
    assert second_rows["p3@example.com"] == "unsubscribed"
    assert sorted(r[0] for _f, r, _raw in smtp.messages) == [
        "p0@example.com",
        "p3@example.com",
        "p4@example.com",
    ]


class Crash(Exception):
    pass


def test_crash_mid_send_resumes_without_duplicates(
    smtp: SmtpInbox, newsletter: SubscriptionType
) -> None:
    people(12, newsletter)
    send = make_send(newsletter)

    def crash_after_five(n: int) -> None:
        if n == 5:
            raise Crash

    with pytest.raises(Crash):
        sending.send_run(send_id=send.pk, after_each=crash_after_five)
    assert len(smtp.messages) == 5
    sending.send_run(send_id=send.pk)
    received = sorted(r[0] for _f, r, _raw in smtp.messages)
    assert received == sorted(f"p{i}@example.com" for i in range(12))
    assert EmailRecipient.objects.filter(send=send, status="sent").count() == 12
    send.refresh_from_db()
    assert send.status == "sent"


def test_a_claimed_row_is_never_resent(smtp: SmtpInbox, newsletter: SubscriptionType) -> None:
    people(3, newsletter)
    send = make_send(newsletter)
    sending.send_start(send_id=send.pk)
    first = EmailRecipient.objects.filter(send=send).order_by("pk").first()
    assert first is not None
    EmailRecipient.objects.filter(pk=first.pk).update(status="claimed")  # killed mid-delivery
    sending.send_run(send_id=send.pk)
    assert first.email not in [r[0] for _f, r, _raw in smtp.messages]
    assert len(smtp.messages) == 2


def test_ab_subject_winner_by_rule(smtp: SmtpInbox, newsletter: SubscriptionType) -> None:
    people(10, newsletter)
    send = make_send(newsletter, subject_b="Last chance", ab_test_percent=40)
    sending.send_run(send_id=send.pk)
    tested = EmailRecipient.objects.filter(send=send, status="sent")
    assert sorted(tested.values_list("variant", flat=True)) == ["a", "a", "b", "b"]
    assert len(smtp.messages) == 4
    tested.filter(variant="b").update(opened_at="2026-01-01T00:00:00Z")
    assert sending.ab_choose_winner(send_id=send.pk) == "b"
    sending.send_run(send_id=send.pk)
    subjects = [
        email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
        for _f, _r, raw in smtp.messages[4:]
    ]
    assert subjects == ["Last chance"] * 6


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% debug %}",
        "{% url 'core:home' %}",
        "{% csrf_token %}",
        "{% if %}",
    ],
)
def test_template_sandbox_refuses_tags(source: str) -> None:
    with pytest.raises(InvalidInput):
        render.check_template(source)


def test_template_sees_only_plain_context(db: None) -> None:
    contact = crm.contact_create(actor=SYSTEM, first_name="<b>Eve</b>", email="eve@example.com")
    out = render.render(
        subject="{{ contact.first_name }} {{ contact.save }} {{ settings.SECRET_KEY }}",
        html='<p onclick="x()">{{ contact.first_name }}{{ contact.nope.x }}</p>',
        context=render.contact_context(contact),
    )
    assert out.subject == "<b>Eve</b>"
    assert out.html == "<p>&lt;b&gt;Eve&lt;/b&gt;</p>"
    assert out.text == "<b>Eve</b>\n"
    with pytest.raises(InvalidInput, match="underscores"):
        render.check_template("{{ contact.email.__class__ }}")
