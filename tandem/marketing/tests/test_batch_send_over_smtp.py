"""The batch sender through a real SMTP server (aiosmtpd advertising PIPELINING): message bytes,
DKIM over non-ASCII content, refused recipients, crash states, queries per chunk, touchpoints."""

from __future__ import annotations

import base64
import email
import email.policy
import smtplib
import time
from collections.abc import Iterator
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import SmtpInbox, smtp_server
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.marketing import consent
from tandem.marketing.email import message, send_batch, sending
from tandem.marketing.models import EmailRecipient, EmailSend, SubscriptionType
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


class Inbox(SmtpInbox):
    """Records messages; refuses RCPT for addresses starting with "refuse"; says PIPELINING."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("refuse"):
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.BOUNCE_DOMAIN = "bounce.example"
    with smtp_server(Inbox(), settings) as inbox:
        yield inbox


@pytest.fixture
def dkim_dns(settings: Any) -> dict[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "news.example", "s2"
    settings.DKIM_PRIVATE_KEY = pem.decode()
    return {b"s2._domainkey.news.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}


@pytest.fixture
def newsletter() -> SubscriptionType:
    return SubscriptionType.objects.create(key="newsletter", name="Newsletter", double_opt_in=False)


def subscribed(newsletter: SubscriptionType, address: str, first_name: str = "") -> int:
    contact = crm.contact_create(actor=SYSTEM, first_name=first_name, email=address)
    consent.subscribe(contact=contact, subscription=newsletter, source="test")
    return contact.pk


def a_send(newsletter: SubscriptionType, *, subject: str, html: str, **options: Any) -> EmailSend:
    template = sending.template_save(actor=SYSTEM, name="T", subject=subject, html=html)
    everyone = seg.segment_create(
        actor=SYSTEM,
        name="All",
        definition={"type": "subscription", "subscription": "newsletter"},
    )
    return sending.send_create(
        actor=SYSTEM,
        name="Batch",
        template=template,
        segment=everyone,
        subscription_type=newsletter,
        from_email="news@news.example",
        from_name="Новости Tandem",
        campaign="spring",
        **options,
    )


def verify(raw: bytes, dns: dict[bytes, bytes]) -> bool:
    return bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name)))


def test_russian_message_round_trips_and_verifies(
    smtp: Inbox, dkim_dns: dict[bytes, bytes], newsletter: SubscriptionType
) -> None:
    subscribed(newsletter, "anna@example.com", first_name="Анна")
    long_line = "слово " * 60
    send = a_send(
        newsletter,
        subject="Привет, {{ contact.first_name }}! Скидка 20%",
        html=(
            "<p>Здравствуйте, {{ contact.first_name }}.</p>"
            f"<p>{long_line}</p><p>.точка в начале строки</p><p>a=b</p>"
            '<p><a href="https://shop.example/цены">Цены</a></p>'
        ),
    )
    assert sending.send_run(send_id=send.pk) == {"delivered": 1}
    mail_from, rcpt, raw = smtp.messages[0]
    row = EmailRecipient.objects.get(send=send)
    assert (mail_from, rcpt) == (f"bounces+{row.token}@bounce.example", ["anna@example.com"])
    assert verify(raw, dkim_dns)
    assert raw.count(b"a=3Db") == 2  # text and HTML parts, quoted-printable
    assert not verify(raw.replace(b"a=3Db", b"a=3Dc"), dkim_dns)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Привет, Анна! Скидка 20%"
    assert msg["From"].addresses[0].display_name == "Новости Tandem"
    assert msg["From"].addresses[0].addr_spec == "news@news.example"
    assert msg["Message-ID"] == row.message_id
    assert msg["List-Unsubscribe"] == f"<https://tandem.example/e/u/{row.token}>"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    plain_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain_part is not None
    assert html_part is not None
    text = plain_part.get_content().replace("\r\n", "\n")
    html = html_part.get_content()
    assert text.startswith("Здравствуйте, Анна.\n\n" + long_line.strip() + "\n\n.точка")
    assert "a=b" in text
    assert f"Unsubscribe: https://tandem.example/e/u/{row.token}" in text
    assert "<p>.точка в начале строки</p>" in html
    link = html.split('href="https://tandem.example/e/c/')[1].split('"')[0]
    assert message.click_target(link) == (row.token, "https://shop.example/цены")


def test_refused_recipient_fails_alone_and_the_rest_are_sent(
    smtp: Inbox, newsletter: SubscriptionType
) -> None:
    for address in ("a@example.com", "refuse@example.com", "c@example.com"):
        subscribed(newsletter, address)
    send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
    assert sending.send_run(send_id=send.pk) == {"delivered": 2}
    rows = dict(
        EmailRecipient.objects.filter(send=send).values_list("email", "status", named=False)
    )
    assert rows == {"a@example.com": "sent", "refuse@example.com": "failed",
                    "c@example.com": "sent"}  # fmt: skip
    assert EmailRecipient.objects.get(email="refuse@example.com").skip_reason == "refused 550"
    assert sorted(r[0] for _f, r, _raw in smtp.messages) == ["a@example.com", "c@example.com"]
    send.refresh_from_db()
    assert send.status == "sent"


def test_sent_rows_touchpoints_and_queries_per_chunk(
    smtp: Inbox, newsletter: SubscriptionType
) -> None:
    ids = [subscribed(newsletter, f"p{i}@example.com") for i in range(7)]
    company = crm.account_create(actor=SYSTEM, name="Acme")
    crm.contact_update(actor=SYSTEM, contact=Contact(pk=ids[1]), account_id=company.pk)
    send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
    sending.send_start(send_id=send.pk)
    send = EmailSend.objects.select_related("template", "subscription_type").get(pk=send.pk)
    with CaptureQueriesContext(connection) as queries:
        assert send_batch.deliver(send=send, chunk=4, batch=3) == 7
    # per chunk: claim, suppressions, contacts+consent, frequency cap (one statement over arrays
    # on PostgreSQL), then marks: 2 chunks (4 + 3 rows), one empty claim, and 3 batches of marks
    # (3 + 1 + 3), each also looking up its contacts' accounts on SQLite (on PostgreSQL inside
    # the INSERT). Independent of how many recipients a chunk holds.
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    claims = [
        q for q in queries.captured_queries if "RETURNING" in q["sql"] and "SET status" in q["sql"]
    ]
    assert len(claims) == 3
    assert statements.count("SELECT") == (2 if connection.vendor == "postgresql" else 2 * 3 + 3)
    sent = EmailRecipient.objects.filter(send=send, status="sent")
    assert sent.count() == 7
    assert all(r.message_id and r.sent_at and r.variant == "a" for r in sent)
    touchpoints = Touchpoint.objects.filter(kind="email_sent").order_by("contact_id")
    assert [t.contact_id for t in touchpoints] == ids
    assert [t.account_id for t in touchpoints] == [None, company.pk] + [None] * 5
    first = touchpoints[0]
    assert (first.channel, first.department, first.campaign, first.content) == (
        "email", "marketing", "spring", "Batch",
    )  # fmt: skip
    assert first.properties == {"send": send.pk, "variant": "a"}
    assert first.message_id == EmailRecipient.objects.get(send=send, contact_id=ids[0]).message_id


class Crash(Exception):
    pass


def test_exception_marks_accepted_and_releases_the_rest_of_the_chunk(
    smtp: Inbox, newsletter: SubscriptionType
) -> None:
    for i in range(10):
        subscribed(newsletter, f"p{i}@example.com")
    send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
    sending.send_start(send_id=send.pk)
    send = EmailSend.objects.select_related("template", "subscription_type").get(pk=send.pk)

    def crash_after_three(n: int) -> None:
        if n == 3:
            raise Crash

    with pytest.raises(Crash):
        send_batch.deliver(send=send, after_each=crash_after_three, chunk=8, batch=2)
    states = list(EmailRecipient.objects.filter(send=send).order_by("pk").values_list("status"))
    assert [s for (s,) in states] == ["sent"] * 3 + ["pending"] * 7
    assert len(smtp.messages) == 3


def test_hard_kill_leaves_claimed_rows_that_become_unknown_and_are_never_resent(
    smtp: Inbox, newsletter: SubscriptionType
) -> None:
    for i in range(5):
        subscribed(newsletter, f"p{i}@example.com")
    send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
    sending.send_start(send_id=send.pk)
    send = EmailSend.objects.select_related("template", "subscription_type").get(pk=send.pk)
    claimed = send_batch.claim(send=send, testing=False, size=3)  # then the process "dies"
    assert len(claimed) == 3
    died = sorted(r.email for r in claimed)
    survivors = sorted({f"p{i}@example.com" for i in range(5)} - set(died))
    assert sending.send_run(send_id=send.pk) == {"delivered": 2}  # a fresh claim is left alone
    send.refresh_from_db()
    assert send.status == "sending"  # not finished while a live claim may still be sending
    EmailRecipient.objects.filter(send=send, status="claimed").update(
        claimed_at="2000-01-01T00:00:00Z"
    )
    assert sending.send_run(send_id=send.pk) == {"delivered": 0}
    statuses = dict(EmailRecipient.objects.filter(send=send).values_list("email", "status"))
    assert statuses == {**dict.fromkeys(died, "unknown"), **dict.fromkeys(survivors, "sent")}
    assert sorted(r[0] for _f, r, _raw in smtp.messages) == survivors
    send.refresh_from_db()
    assert send.status == "sent"


def test_a_cancelled_send_claims_nothing(smtp: Inbox, newsletter: SubscriptionType) -> None:
    subscribed(newsletter, "p@example.com")
    send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
    sending.send_start(send_id=send.pk)
    EmailSend.objects.filter(pk=send.pk).update(status=EmailSend.Status.CANCELLED)
    send.refresh_from_db()
    assert send_batch.claim(send=send, testing=False, size=10) == []
    assert smtp.messages == []


def test_an_error_while_a_message_waits_in_data_drops_it_and_releases_the_row(
    smtp: Inbox, newsletter: SubscriptionType, settings: Any
) -> None:
    """With pipelining across messages, message k waits in DATA while k+1 is rendered; if
    rendering k+1 fails, message k must not be completed (nor QUIT sent as its text)."""
    settings.EMAIL_TIMEOUT = 60  # QUIT sent in DATA would wait this long for an answer
    for i in range(6):
        subscribed(newsletter, f"p{i}@example.com", first_name=f"P{i}")
    send = a_send(
        newsletter,
        subject="Hi",
        html='<p>{% if contact.first_name == "boom" %}{{ contact.first_name|divisibleby:2 }}'
        "{% endif %}Hi {{ contact.first_name }}</p>",
    )
    sending.send_start(send_id=send.pk)
    order = list(EmailRecipient.objects.filter(send=send).order_by("pk"))
    Contact.objects.filter(pk=order[2].contact_id).update(first_name="boom")  # the third fails
    started = time.monotonic()
    with pytest.raises(ValueError, match="invalid literal"):
        sending.send_run(send_id=send.pk)
    assert time.monotonic() - started < 30  # the connection was dropped, not QUIT
    # the first was accepted; the second waited in DATA when the third failed: dropped
    assert [rcpt[0] for _f, rcpt, _raw in smtp.messages] == [order[0].email]
    states = list(EmailRecipient.objects.filter(send=send).order_by("pk").values_list("status"))
    assert [s for (s,) in states] == ["sent"] + ["pending"] * 5


class LaterInbox(Inbox):
    """Answers 451 (try later) at the end of a message to an address starting with "later"."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos[0].startswith("later"):
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_temporary_refusal_of_one_message_stops_the_run_without_losing_or_doubling(
    settings: Any, newsletter: SubscriptionType
) -> None:
    """Pipelined: the 451 for message k arrives with the envelope replies of k+1, which then
    waits in DATA; it must be dropped, k and the rest go back to pending, k-1 stays sent."""
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.EMAIL_TIMEOUT = 60
    with smtp_server(LaterInbox(), settings) as inbox:
        for i in range(6):
            subscribed(newsletter, f"p{i}@example.com")
        send = a_send(newsletter, subject="Hi", html="<p>Hi</p>")
        sending.send_start(send_id=send.pk)
        order = list(EmailRecipient.objects.filter(send=send).order_by("pk"))
        EmailRecipient.objects.filter(pk=order[2].pk).update(email="later@example.com")
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPDataError):
            sending.send_run(send_id=send.pk)
        assert time.monotonic() - started < 30
        assert [rcpt[0] for _f, rcpt, _raw in inbox.messages] == [o.email for o in order[:2]]
        states = list(EmailRecipient.objects.filter(send=send).order_by("pk").values_list("status"))
        assert [s for (s,) in states] == [
            "sent",
            "sent",
            "pending",
            "pending",
            "pending",
            "pending",
        ]
        EmailRecipient.objects.filter(pk=order[2].pk).update(email=order[2].email)
        sending.send_run(send_id=send.pk)  # the next run sends exactly the rest
        received = sorted(rcpt[0] for _f, rcpt, _raw in inbox.messages)
        assert received == sorted(f"p{i}@example.com" for i in range(6))
