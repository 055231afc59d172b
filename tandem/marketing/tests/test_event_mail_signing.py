"""Event invitations, cancellations and reminders are DKIM-signed by the
marketing email's signer, sent From the default sender with the organiser in Reply-To, and do not
ask for an RSVP. Through a real SMTP server; signatures verified with dkimpy."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
from typing import Any

import dkim
import icalendar
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from conftest import SmtpInbox
from tandem.core.audit import Actor
from tandem.marketing.events import services
from tandem.marketing.events.models import MarketingEvent

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


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
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "news.example", "ev1"
    settings.DKIM_PRIVATE_KEY = pem.decode()
    settings.DEFAULT_FROM_EMAIL = "Tandem <hello@news.example>"
    return {b"ev1._domainkey.news.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}


def _verified(raw: bytes, dns: dict[bytes, bytes]) -> bool:
    return bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name)))


def _event() -> MarketingEvent:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    return services.event_create(
        actor=SYSTEM,
        kind="webinar",
        title="Revenue teams 101",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        join_url="https://meet.example.com/rt101",
        organizer_name="Marta Marketer",
        organizer_email="marta@organiser.example",
        reminder_hours="1",
    )


def _check(raw: bytes, dns: dict[bytes, bytes]) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    assert msg["From"].addresses[0].addr_spec == "hello@news.example"
    assert msg["From"].addresses[0].display_name == "Marta Marketer"
    assert msg["Reply-To"].addresses[0].addr_spec == "marta@organiser.example"
    signature = msg["DKIM-Signature"].replace(" ", "").replace("\t", "").replace("\r\n", "")
    assert "d=news.example" in signature
    assert "reply-to" in signature.lower()
    assert _verified(raw, dns)
    tampered = raw.replace(b"marta@organiser.example", b"evil@attacker.example", 1)
    assert not _verified(tampered, dns)
    return msg


def test_invitation_cancel_and_reminder_are_signed_from_the_default_sender(
    world: Any, smtp_inbox: SmtpInbox, dkim_dns: dict[bytes, bytes]
) -> None:
    event = _event()
    registration, _created = services.register(
        event=event, email="ada@example.com", name="Ada Lovelace"
    )
    assert services.invitation_deliver(registration_id=registration.pk)
    reminder_at = event.starts_at - dt.timedelta(minutes=30)
    assert services.reminders_send_due(now=reminder_at) == 1
    services.event_cancel(actor=SYSTEM, event=event)
    assert services.invitation_deliver(registration_id=registration.pk)

    assert len(smtp_inbox.messages) == 3
    invitation, reminder, cancel = (m.content for m in smtp_inbox.messages)
    for raw in (invitation, reminder, cancel):
        _check(raw, dkim_dns)
    assert all(m.mail_from == "hello@news.example" for m in smtp_inbox.messages)

    msg = email.message_from_bytes(invitation, policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    vevent = next(iter(icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")))
    assert str(vevent["ORGANIZER"]) == "mailto:marta@organiser.example"
    assert vevent["ATTENDEE"].params["RSVP"] == "FALSE"


def test_without_a_key_messages_still_go_out_unsigned(
    world: Any, smtp_inbox: SmtpInbox, settings: Any
) -> None:
    settings.DKIM_PRIVATE_KEY = settings.DKIM_PRIVATE_KEY_FILE = ""
    settings.DEFAULT_FROM_EMAIL = "hello@news.example"
    event = _event()
    registration, _created = services.register(event=event, email="b@example.com", name="B")
    assert services.invitation_deliver(registration_id=registration.pk)
    msg = smtp_inbox.parsed(0)
    assert msg["DKIM-Signature"] is None
    assert msg["From"].addresses[0].addr_spec == "hello@news.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "marta@organiser.example"


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
    ],
)
def test_invitations_go_through_every_django_email_backend(
    world: Any, settings: Any, backend: str, tmp_path: Any, capsys: Any
) -> None:
    """The default development backend (console) once failed on the pre-built bytes."""
    settings.EMAIL_BACKEND = backend
    settings.EMAIL_FILE_PATH = str(tmp_path)
    settings.DKIM_PRIVATE_KEY = settings.DKIM_PRIVATE_KEY_FILE = ""
    event = _event()
    registration, _created = services.register(event=event, email="c@example.com", name="C")
    assert services.invitation_deliver(registration_id=registration.pk)
    if backend.endswith("console.EmailBackend"):
        written = capsys.readouterr().out
    elif backend.endswith("filebased.EmailBackend"):
        written = "".join(p.read_text() for p in tmp_path.iterdir())
    else:
        from django.core import mail

        written = mail.outbox[-1].message().as_string()
    assert "Subject: You are registered: Revenue teams 101" in written
    assert "BEGIN:VCALENDAR" in written


def test_the_invitation_names_the_time_in_the_organisations_zone(
    world: Any, smtp_inbox: SmtpInbox, settings: Any
) -> None:
    from tandem.core.models import Organisation

    settings.DKIM_PRIVATE_KEY = settings.DKIM_PRIVATE_KEY_FILE = ""
    organisation = Organisation.current()
    organisation.time_zone = "Asia/Novosibirsk"
    organisation.save()
    from django.core.cache import cache

    cache.clear()
    event = _event()
    registration, _created = services.register(event=event, email="d@example.com", name="D")
    assert services.invitation_deliver(registration_id=registration.pk)
    text = smtp_inbox.parsed(0).get_body(preferencelist=("plain",)).get_content()
    local = event.starts_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert f"{local:%Y-%m-%d %H:%M}" in text
    assert "Asia/Novosibirsk" in text
