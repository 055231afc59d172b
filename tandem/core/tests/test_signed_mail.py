"""Every message Tandem sends is DKIM-signed, with a `+0000` Date and a Message-ID of the signing
domain: a key made by `dkim_key`, the TXT record it printed, and a real SMTP server (aiosmtpd);
signatures verified with dkimpy against that record. And `check --deploy` refuses a public base
URL that is unset or not https."""

from __future__ import annotations

import email
import email.policy
import io
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dkim
import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

from conftest import SmtpInbox, smtp_server
from tandem.core import mail
from tandem.core.audit import Actor
from tandem.core.invitations import invitation_email_send
from tandem.core.models import Role, User
from tandem.crm import services as crm
from tandem.leads.notify import notify
from tandem.marketing import consent
from tandem.marketing.email import sending
from tandem.marketing.models import SubscriptionType

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
RECORD = re.compile(r'^(\S+\._domainkey\.\S+) IN TXT ((?:"[^"]*" ?)+)$', re.MULTILINE)


def dkim_key(*args: str) -> str:
    out = io.StringIO()
    call_command("dkim_key", *args, stdout=out)
    return out.getvalue()


def published(printed: str) -> dict[bytes, bytes]:
    """The DNS the operator publishes: the printed TXT record, its strings joined."""
    name, strings = RECORD.search(printed).groups()  # type: ignore[union-attr]
    return {name.encode(): "".join(re.findall(r'"([^"]*)"', strings)).encode()}


def configure(printed: str, settings: Any) -> None:
    """Set what the command told the operator to set."""
    for name, value in re.findall(r"^(DKIM_[A-Z_]+)=(.+)$", printed, re.MULTILINE):
        setattr(settings, name, value)
    settings.DKIM_PRIVATE_KEY = ""


@pytest.fixture
def inbox(settings: Any) -> Iterator[SmtpInbox]:
    settings.TANDEM_BASE_URL = "https://crm.news.example"
    settings.DEFAULT_FROM_EMAIL = "Tandem <hello@news.example>"
    with smtp_server(SmtpInbox(), settings) as server:
        yield server


def test_dkim_key_writes_an_owner_only_key_and_never_prints_it(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "s1.pem"
    printed = dkim_key("--domain", "news.example", "--selector", "s1", "--key-file", str(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in key_file.read_text()
    assert "PRIVATE KEY" not in printed
    body = "".join(key_file.read_text().splitlines()[1:-1])
    assert body[:40] not in printed.replace("\n", "")
    record = published(printed)
    assert list(record) == [b"s1._domainkey.news.example."]
    assert record[b"s1._domainkey.news.example."].startswith(b"v=DKIM1; k=rsa; p=MII")
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', RECORD.search(printed)[2]))  # type: ignore[index]
    assert f"DKIM_PRIVATE_KEY_FILE={key_file}" in printed
    assert 'IN TXT "v=spf1' in printed
    assert '_dmarc.news.example. IN TXT "v=DMARC1; p=none' in printed


def test_running_again_keeps_the_key_and_new_replaces_it(tmp_path: Path) -> None:
    args = ["--domain", "news.example", "--selector", "s1", "--key-file", str(tmp_path / "k.pem")]
    first = published(dkim_key(*args))
    again = dkim_key(*args)
    assert "Kept the existing key" in again
    assert published(again) == first
    assert published(dkim_key(*args, "--new")) != first
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--domain", "localhost"], "--domain"),
        (["--domain", "news.example", "--selector", "s 1"], "--selector"),
    ],
)
def test_dkim_key_refuses_bad_input_with_exit_code_2(
    args: list[str], problem: str, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match=problem) as caught:
        dkim_key(*args, "--key-file", str(tmp_path / "k.pem"))
    assert caught.value.returncode == 2
    assert not (tmp_path / "k.pem").exists()


def _check_signed(raw: bytes, dns: dict[bytes, bytes]) -> None:
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert len(msg.get_all("DKIM-Signature")) == 1
    assert len(msg.get_all("Date")) == 1
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", msg["Date"])
    assert len(msg.get_all("Message-ID")) == 1
    assert msg["Message-ID"].endswith("@news.example>")
    tampered = raw.replace(b"\r\n\r\n", b"\r\n\r\nX", 1)
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: dns.get(name))


def test_invitation_confirmation_notification_and_campaign_are_signed(
    inbox: SmtpInbox, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    printed = dkim_key(
        "--domain", "news.example", "--selector", "t1", "--key-file", str(tmp_path / "t1.pem")
    )
    configure(printed, settings)
    dns = published(printed)

    invited = User.objects.create_user("nina", email="nina@example.com", role=Role.MARKETER)
    invited.set_unusable_password()
    invited.save()
    assert invitation_email_send(user_id=invited.pk, site_url=settings.TANDEM_BASE_URL)

    opt_in = SubscriptionType.objects.create(key="news", name="News", double_opt_in=True)
    contact = crm.contact_create(actor=SYSTEM, first_name="Ola", email="ola@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        consent.subscribe(
            contact=contact, subscription=opt_in, source="test",
            confirm_base="https://crm.news.example/e/confirm/",
        )  # fmt: skip

    boss = User.objects.create_user("head", email="head@example.com", role=Role.HEAD)
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=boss, kind="test", text=lambda: "A lead is waiting",
               email_subject=lambda: "A lead")  # fmt: skip

    template = sending.template_save(actor=SYSTEM, name="T", subject="Hi", html="<p>Hi</p>")
    sending.test_send(template=template, contact=None, to="me@example.com",
                      from_email="news@news.example")  # fmt: skip

    by_rcpt = {m.rcpt_tos[0]: m.content for m in inbox.messages}
    assert set(by_rcpt) == {
        "nina@example.com", "ola@example.com", "head@example.com", "me@example.com"}  # fmt: skip
    for raw in by_rcpt.values():
        _check_signed(raw, dns)
    campaign = email.message_from_bytes(by_rcpt["me@example.com"], policy=email.policy.default)
    signed = campaign["DKIM-Signature"].replace(" ", "").replace("\t", "").replace("\r\n", "")
    assert "list-unsubscribe:list-unsubscribe-post" in signed


def test_without_a_key_messages_still_get_date_and_message_id(
    inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    boss = User.objects.create_user("head", email="head@example.com", role=Role.HEAD)
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=boss, kind="test", text=lambda: "x", email_subject=lambda: "y")
    msg = inbox.parsed(0)
    assert msg["DKIM-Signature"] is None
    assert msg["Date"].endswith("+0000")
    assert msg["Message-ID"].endswith("@news.example>")


def test_outgoing_rewrites_an_unknown_zone_date_and_keeps_everything_else() -> None:
    raw = (
        b"From: a@news.example\r\nDate: Mon, 07 Dec 2026 10:00:00 -0000\r\n"
        b"Message-ID: <x@y>\r\n\r\nbody\r\n"
    )
    out = mail.outgoing(raw)
    assert b"-0000" not in out
    assert out.count(b"\r\nDate: ") == 1
    assert out.endswith(b"Message-ID: <x@y>\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("", False),
        ("http://crm.example.com", False),
        ("https://", False),
        ("https://crm.example.com/tandem", False),
        ("https://crm.example.com", True),
    ],
)
def test_check_deploy_refuses_a_base_url_unset_or_not_https(
    value: str, ok: bool, settings: Any
) -> None:
    settings.TANDEM_BASE_URL = value
    errors = [e for e in run_checks(include_deployment_checks=True) if e.id == "tandem.E001"]
    assert (errors == []) is ok
    if not ok:
        assert "TANDEM_BASE_URL" in errors[0].msg


def test_tandem_dkim_key_through_the_cli_in_russian(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.cli import main

    key_file = tmp_path / "ru.pem"
    assert main(["--language", "ru", "dkim-key", "--domain", "news.example",
                 "--key-file", str(key_file)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "1. Опубликуйте эту TXT-запись DNS (DKIM):" in out
    assert "PRIVATE KEY" not in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert main(["--language", "ru", "dkim-key", "--domain", "localhost"]) == 2
    assert "--domain: укажите домен" in capsys.readouterr().err
