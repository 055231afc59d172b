"""The per-send shortcuts of the message builder give the same bytes as the general code:
click links as Django's signing makes them; its messages, signed on the way out, verify."""

from __future__ import annotations

import base64
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import signing

from tandem.core import mail
from tandem.marketing.email import message


@pytest.fixture
def builder(settings: Any) -> message.Builder:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    return message.Builder(from_email="news@news.example", from_name="Новости")


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://x.example/a", True),
        ("https://x.example/" + "long/" * 40, True),  # over SHORT_PAYLOAD: Django's own path
        # Django would compress this one (JSON escapes repeat); ours is uncompressed, still valid.
        ('https://x.example/путь?q="1"&b=<2>', False),
    ],
)
def test_click_links_are_what_django_signing_makes(
    builder: message.Builder, url: str, same: bool
) -> None:
    token = "AbC-_12345678901234567"
    for _attempt in range(3):  # the same second on both sides
        fast = builder.click_url(token, url)
        django = "https://tandem.example/e/c/" + signing.dumps(
            {"r": token, "u": url}, salt=message.CLICK_SALT, compress=True
        )
        if fast.rsplit(":", 2)[1] == django.rsplit(":", 2)[1]:
            break
    assert (fast == django) is same
    assert message.click_target(fast.rpartition("/e/c/")[2]) == (token, url)


def test_built_messages_signed_on_the_way_out_verify_with_dkimpy(settings: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "news.example", "s3"
    settings.DKIM_PRIVATE_KEY = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    dns = {b"s3._domainkey.news.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}
    settings.TANDEM_BASE_URL = "https://tandem.example"
    builder = message.Builder(from_email="news@news.example", from_name="Новости Tandem")
    long_subject = "Привет, " + "очень длинная тема " * 8
    built, message_id = builder.build(
        to="someone@example.com", subject=long_subject, html="<p>x</p>", text="x\n", token="t" * 22
    )
    assert b"DKIM-Signature" not in built  # one home of signing: the backend's `outgoing`
    raw = mail.outgoing(built)
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name))
    signature = raw.split(b"\r\n\r\n", 1)[0].split(b"DKIM-Signature:", 1)[1]
    signed = signature.replace(b"\r\n\t", b"").split(b"h=", 1)[1].split(b";", 1)[0].split(b":")
    assert {b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"} <= set(signed)
    assert raw.count(b"\r\nMessage-ID: ") == 1
    assert f"Message-ID: {message_id}\r\n".encode() in raw  # the builder's id, kept
    assert mail.outgoing(raw) == raw  # never signed twice
