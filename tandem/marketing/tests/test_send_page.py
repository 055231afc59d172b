"""The page of one email send (settings, progress polled with htmx,
delivery figures, Cancel, Send now), template preview and test sends on the template page and the
send form, and SMTP with TLS on connect (SMTP_SSL) against a real local server."""

from __future__ import annotations

import re
import runpy
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import ROLES, SmtpInbox, World, self_signed_cert
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.email import progress, send_batch, sending
from tandem.marketing.models import (
    EmailRecipient,
    EmailSend,
    EmailTemplate,
    SubscriptionType,
    Suppression,
)
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
R = EmailRecipient.Status
pytestmark = pytest.mark.django_db


def _people(n: int, newsletter: SubscriptionType) -> None:
    for i in range(n):
        contact = crm.contact_create(actor=SYSTEM, first_name=f"P{i}", email=f"p{i}@example.com")
        consent.subscribe(contact=contact, subscription=newsletter, source="test")


def _send(n: int = 0, **options: Any) -> EmailSend:
    newsletter = SubscriptionType.objects.create(
        key="page-news", name="Page news", double_opt_in=False
    )
    _people(n, newsletter)
    template = sending.template_save(
        actor=SYSTEM, name="Hello", subject="Hi {{ contact.first_name }}", html="<p>Hi</p>"
    )
    everyone = seg.segment_create(
        actor=SYSTEM,
        name="Everyone",  # ours, not the world's contacts (buyer@...)
        definition={"type": "field", "field": "contact.email", "op": "starts_with", "value": "p"},
    )
    return sending.send_create(
        actor=SYSTEM,
        name="Spring launch",
        template=template,
        segment=everyone,
        subscription_type=newsletter,
        from_email="news@news.example",
        from_name="Tandem News",
        **options,
    )


def _client(world: World, role: str = Role.MARKETER, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(world.user(role))
    return client


def _counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="([\w-]+)">(\d+)', html)}


def _url(send: EmailSend, what: str = "") -> str:
    return f"/marketing/email/sends/{send.pk}/{what}"


# --- the page and its progress fragment ----------------------------------------------------


def test_page_shows_the_counts_of_a_send_in_progress(world: World) -> None:
    send = _send(10, subject_b="Other subject", ab_test_percent=100, frequency_cap=2)
    assert sending.send_start(send_id=send.pk)
    rows = list(EmailRecipient.objects.filter(send=send).order_by("pk"))
    now = timezone.now()
    states = [
        (R.SENT, ""), (R.SENT, ""), (R.SENT, ""),
        (R.SKIPPED, "unsubscribed"), (R.SKIPPED, "suppressed"), (R.SKIPPED, "no_consent"),
        (R.SKIPPED, "frequency_cap"), (R.FAILED, "refused 550"), (R.UNKNOWN, ""),
    ]  # fmt: skip
    for row, (status, reason) in zip(rows, states, strict=False):
        EmailRecipient.objects.filter(pk=row.pk).update(
            status=status, skip_reason=reason, sent_at=now if status == R.SENT else None
        )
    EmailRecipient.objects.filter(pk=rows[0].pk).update(opened_at=now, clicked_at=now)
    EmailRecipient.objects.filter(pk=rows[1].pk).update(opened_at=now, bounced_at=now)

    client = _client(world)
    page = client.get(_url(send))
    assert page.status_code == 200
    html = page.content.decode()
    assert _counts(html) == {
        "total": 10, "sent": 3, "skipped": 4, "skipped-unsubscribed": 1,
        "skipped-suppressed": 1, "skipped-no_consent": 1, "skipped-frequency_cap": 1,
        "failed": 1, "unknown": 1, "remaining": 1,
    }  # fmt: skip
    assert "Delivery" not in html  # counted once nothing is in flight, not on every poll
    assert "refused 550: 1" in html
    for shown in ("Spring launch", "Hello", "Other subject", "Everyone", "Page news",
                  "Tandem News &lt;news@news.example&gt;", "at most 2 emails per 7 days",
                  "100% test share", "Most unique opens", "after 240 minutes", "no winner yet",
                  "A/B test running"):  # fmt: skip
        assert shown in html, shown
    # one pending row of the test share is in flight: the block polls every 2 s
    assert 'hx-trigger="every 2s"' in html
    assert f'hx-get="/marketing/email/sends/{send.pk}/progress"' in html
    assert f'action="/marketing/email/sends/{send.pk}/cancel"' in html
    assert "Send now" not in html

    EmailRecipient.objects.filter(pk=rows[9].pk).update(status=R.SENT, sent_at=now)
    after = client.get(_url(send, "progress")).content.decode()
    assert "hx-trigger" not in after
    assert "The test share has been sent; the rest waits for the winner." in after
    counts = _counts(after)
    assert (counts["sent"], counts["remaining"]) == (4, 0)
    assert {k: counts[k] for k in ("opens", "clicks", "bounces", "complaints", "unsubscribes")} == {
        "opens": 2, "clicks": 1, "bounces": 1, "complaints": 0, "unsubscribes": 0,
    }  # fmt: skip


def test_the_send_list_links_each_send_to_its_page(world: World) -> None:
    send = _send()
    listing = _client(world).get("/marketing/email/").content.decode()
    assert f'href="/marketing/email/sends/{send.pk}/"' in listing


def test_complaints_and_unsubscribes_after_the_send(world: World) -> None:
    send = _send(3)
    assert sending.send_start(send_id=send.pk)
    EmailRecipient.objects.filter(send=send).update(status=R.SENT, sent_at=timezone.now())
    Suppression.objects.create(email="p0@example.com", reason="complaint")
    for address in ("p1@example.com", "p2@example.com"):
        consent.unsubscribe(
            contact=Contact.objects.get(email=address),
            subscriptions=[send.subscription_type],
            source="unsubscribe_link",
        )
    counts = _counts(_client(world).get(_url(send)).content.decode())
    assert (counts["complaints"], counts["unsubscribes"]) == (1, 2)


def test_fragment_polls_while_delivering_and_stops_when_done(
    world: World, smtp_inbox: SmtpInbox, settings: Any
) -> None:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    send = _send(3)
    client = _client(world)
    draft = client.get(_url(send, "progress")).content.decode()
    assert draft.strip().startswith('<div id="send-progress"')
    assert "hx-trigger" not in draft  # a draft is not delivering
    assert "Send now" in draft

    assert sending.send_start(send_id=send.pk)
    running = client.get(_url(send, "progress")).content.decode()
    assert 'hx-trigger="every 2s"' in running
    assert _counts(running)["remaining"] == 3

    sending.send_run(send_id=send.pk)
    assert len(smtp_inbox.messages) == 3
    done = client.get(_url(send, "progress")).content.decode()
    assert "hx-trigger" not in done
    assert (_counts(done)["sent"], _counts(done)["remaining"]) == (3, 0)
    assert '<strong class="status">Sent</strong>' in done
    assert "Cancel the send" not in done


def test_send_now_starts_a_draft_and_the_page_polls_until_it_runs(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    send = _send(2)
    client = _client(world)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(_url(send, "start"))
    assert started.status_code == 302
    assert started["Location"] == _url(send) + "?starting=1"
    assert (
        DBTaskResult.objects.filter(task_path="tandem.marketing.email.tasks.send_run").count() == 2
    )
    waiting = client.get(started["Location"]).content.decode()
    assert "Starting…" in waiting
    assert "Send now" not in waiting
    assert f'hx-get="/marketing/email/sends/{send.pk}/progress?starting=2"' in waiting
    # after START_POLLS polls of a draft the page stops asking
    stale = client.get(_url(send, "progress") + "?starting=999").content.decode()
    assert "hx-trigger" not in stale

    again = client.post(_url(send, "start"), follow=True)  # still a draft: enqueued again is
    assert again.status_code == 200  # harmless (send_start starts a draft once)
    sending.send_start(send_id=send.pk)
    refused = client.post(_url(send, "start"), follow=True).content.decode()
    assert "Only a draft can be started" in refused


def test_send_form_leads_to_the_new_send_page(world: World) -> None:
    send = _send()
    form = {
        "name": "From the form",
        "template": send.template_id,
        "segment": send.segment_id,
        "subscription_type": send.subscription_type_id,
        "from_email": "news@news.example",
        "ab_test_percent": "0",
        "ab_winner_rule": "opens",
        "ab_wait_minutes": "240",
    }
    saved = _client(world).post("/marketing/email/sends/new", form)
    created = EmailSend.objects.get(name="From the form")
    assert saved.status_code == 302
    assert saved["Location"] == _url(created)


# --- cancel ------------------------------------------------------------------------------


def test_cancel_from_the_page_stops_the_send(
    world: World, smtp_inbox: SmtpInbox, settings: Any
) -> None:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    send = _send(5)
    client = _client(world)
    assert sending.send_start(send_id=send.pk)
    answers: list[Any] = []

    def cancel_from_the_page(_n: int) -> None:
        if not answers:
            answers.append(client.post(_url(send, "cancel")))

    running = EmailSend.objects.get(pk=send.pk)
    send_batch.deliver(send=running, chunk=2, after_each=cancel_from_the_page)
    assert answers[0].status_code == 302
    assert answers[0]["Location"] == _url(send)
    assert len(smtp_inbox.messages) == 2  # the chunk in flight finished, nothing after it

    assert sending.send_run(send_id=send.pk) == {}  # the next run delivers nothing more
    send_batch.deliver(send=running, chunk=2)  # even a worker holding the old row
    assert len(smtp_inbox.messages) == 2
    page = client.get(_url(send)).content.decode()
    assert "Cancelled" in page
    assert "hx-trigger" not in page
    assert (_counts(page)["sent"], _counts(page)["remaining"]) == (2, 3)
    assert "Cancel the send" not in page
    assert "Send now" not in page

    twice = client.post(_url(send, "cancel"), follow=True).content.decode()
    assert "Only a draft, running or interrupted send can be cancelled" in twice


def test_cancel_needs_the_csrf_token(world: World) -> None:
    send = _send(1)
    client = _client(world, enforce_csrf_checks=True)
    assert client.post(_url(send, "cancel")).status_code == 403
    assert client.post(_url(send, "start")).status_code == 403
    assert EmailSend.objects.get(pk=send.pk).status == EmailSend.Status.DRAFT
    page = client.get(_url(send)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    ok = client.post(_url(send, "cancel"), {"csrfmiddlewaretoken": token.group(1)})
    assert ok.status_code == 302
    assert EmailSend.objects.get(pk=send.pk).status == EmailSend.Status.CANCELLED


def test_cancel_and_start_are_post_only(world: World) -> None:
    send = _send(1)
    client = _client(world)
    assert client.get(_url(send, "cancel")).status_code == 405
    assert client.get(_url(send, "start")).status_code == 405
    assert client.post(_url(send, "progress")).status_code == 405


@pytest.mark.parametrize("role", ROLES)
def test_roles(world: World, role: str) -> None:
    send = _send(1)
    client = _client(world, role)
    allowed = role in {Role.MARKETER, Role.HEAD, Role.ADMIN}
    for what in ("", "progress"):
        assert client.get(_url(send, what)).status_code == (200 if allowed else 404)
    cancelled = client.post(_url(send, "cancel"))
    assert cancelled.status_code == (302 if allowed else 404)
    status = EmailSend.objects.get(pk=send.pk).status
    assert status == (EmailSend.Status.CANCELLED if allowed else EmailSend.Status.DRAFT)


def test_unknown_send_is_a_404(world: World) -> None:
    client = _client(world)
    for what in ("", "progress"):
        assert client.get(f"/marketing/email/sends/999999/{what}").status_code == 404
    for what in ("cancel", "start"):
        assert client.post(f"/marketing/email/sends/999999/{what}").status_code == 404


def test_page_in_russian(world: World) -> None:
    send = _send(1)
    page = _client(world).get(_url(send), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Отменить рассылку" in page
    assert "Отправить сейчас" in page
    assert "Осталось" in page


# --- preview and test sends ----------------------------------------------------------------


def test_template_page_previews_with_a_contact_and_test_sends_as_the_user(
    world: World, smtp_inbox: SmtpInbox
) -> None:
    marketer = world.user(Role.MARKETER)
    marketer.first_name, marketer.last_name = "Marta", "Kovacs"
    marketer.save()
    template = sending.template_save(
        actor=SYSTEM,
        name="Welcome",
        subject="Hello {{ contact.first_name }}",
        html="<p>Dear {{ contact.first_name }} {{ contact.last_name }} ({{ contact.email }})</p>",
    )
    client = _client(world)
    page = client.get(f"/marketing/email/templates/{template.pk}/").content.decode()
    assert "Preview" in page  # with a contact the marketer can see (the world's first names)
    assert re.search(r"Dear (north|south) (sales_rep|field_rep) customer", page)

    sent = client.post(
        f"/marketing/email/templates/{template.pk}/",
        {"name": "Welcome", "subject": template.subject, "html": template.html,
         "test_to": "me@example.com"},
    )  # fmt: skip
    assert sent.status_code == 302
    assert len(smtp_inbox.messages) == 1
    copy = smtp_inbox.parsed(0)
    assert copy["Subject"] == "[Test] Hello Marta"
    assert copy["To"] == "me@example.com"
    body = copy.get_body(("html",))
    assert body is not None
    assert "Dear Marta Kovacs (marketer.north@tandem.test)" in body.get_content()


def test_template_page_test_send_to_an_unreachable_server_is_a_form_error(
    world: World, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "tandem.core.mail.SmtpBackend"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", probe.getsockname()[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    template = sending.template_save(actor=SYSTEM, name="W", subject="Hi", html="<p>Hi</p>")
    answer = _client(world).post(
        f"/marketing/email/templates/{template.pk}/",
        {"name": "W", "subject": "Hi", "html": "<p>Hi</p>", "test_to": "me@example.com"},
    )
    assert answer.status_code == 400
    assert "The mail server could not be reached." in answer.content.decode()


def test_send_form_previews_both_variants_and_test_sends_each(
    world: World, smtp_inbox: SmtpInbox
) -> None:
    send = _send()
    b = EmailTemplate.objects.create(
        name="B", subject="Hi B", html="<p>Body B {{ contact.first_name }}</p>"
    )
    form = {
        "name": "Form",
        "template": send.template_id,
        "template_b": b.pk,
        "subject_b": "Subject B for {{ contact.first_name }}",
        "segment": send.segment_id,
        "subscription_type": send.subscription_type_id,
        "from_email": "news@news.example",
        "ab_test_percent": "20",
        "ab_winner_rule": "clicks",
        "ab_wait_minutes": "60",
    }
    client = _client(world)
    before = EmailSend.objects.count()
    shown = client.post("/marketing/email/sends/new", {**form, "preview": "1"})
    assert shown.status_code == 200
    html = shown.content.decode()
    assert re.search(r"Subject B for (north|south)", html)
    assert re.search(r"Body B (north|south)", html)
    assert len(smtp_inbox.messages) == 0

    tested = client.post(
        "/marketing/email/sends/new", {**form, "test": "1", "test_to": "me@example.com"}
    )
    assert tested.status_code == 200
    subjects = sorted(smtp_inbox.parsed(i)["Subject"] for i in range(2))
    assert subjects[0].startswith("[Test B] Subject B for ")
    assert subjects[1].startswith("[Test] Hi ")
    assert all(m.rcpt_tos == ["me@example.com"] for m in smtp_inbox.messages)
    bad = client.post("/marketing/email/sends/new", {**form, "test": "1", "test_to": "nobody"})
    assert bad.status_code == 400
    assert len(smtp_inbox.messages) == 2
    assert EmailSend.objects.count() == before  # previews and tests save nothing


# --- SMTP with TLS on connect (SMTP_SSL) ------------------------------------------------------


@pytest.fixture
def smtps(settings: Any, tmp_path: Path) -> Iterator[tuple[SmtpInbox, Path]]:
    """A real SMTP server speaking TLS from the first byte, and Tandem configured for it."""
    cert_file, key_file = self_signed_cert(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_context)
    controller.start()
    settings.EMAIL_BACKEND = "tandem.core.mail.SmtpBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_SSL, settings.EMAIL_USE_TLS = True, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SMTP_CA_FILE = str(cert_file)
    settings.TANDEM_BASE_URL = "https://tandem.example"
    try:
        yield inbox, cert_file
    finally:
        controller.stop()


def test_a_send_goes_out_over_implicit_tls_verified_against_the_ca_file(
    smtps: tuple[SmtpInbox, Path],
) -> None:
    inbox, _cert = smtps
    send = _send(3)
    assert sending.send_run(send_id=send.pk) == {"delivered": 3}
    assert len(inbox.messages) == 3
    assert progress.send_progress(send.pk).sent == 3
    sending.test_send(
        template=send.template, contact=None, to="me@example.com", from_email="t@news.example"
    )
    assert len(inbox.messages) == 4


def test_implicit_tls_refuses_a_server_it_cannot_verify(
    smtps: tuple[SmtpInbox, Path], settings: Any
) -> None:
    inbox, _cert = smtps
    settings.SMTP_CA_FILE = ""  # the system store does not know our self-signed certificate
    template = sending.template_save(actor=SYSTEM, name="T", subject="Hi", html="<p>Hi</p>")
    with pytest.raises(ssl.SSLCertVerificationError):
        sending.test_send(
            template=template, contact=None, to="me@example.com", from_email="t@news.example"
        )
    assert inbox.messages == []


def _settings_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    monkeypatch.setenv("TANDEM_VAR_DIR", str(tmp_path))
    for name in ("SMTP_SSL", "SMTP_TLS", "SMTP_PORT", "SMTP_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path(__file__).resolve().parents[3] / "config" / "settings.py"
    return runpy.run_path(str(path))


def test_smtp_ssl_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ssl_on = _settings_with(monkeypatch, tmp_path, SMTP_HOST="mail.example", SMTP_SSL="1",
                            SMTP_CA_FILE="/etc/ca.pem")  # fmt: skip
    assert (ssl_on["EMAIL_USE_SSL"], ssl_on["EMAIL_USE_TLS"], ssl_on["EMAIL_PORT"]) == (
        True, False, 465)  # fmt: skip
    assert ssl_on["SMTP_CA_FILE"] == "/etc/ca.pem"
    assert ssl_on["EMAIL_BACKEND"] == "tandem.core.mail.SmtpBackend"
    starttls = _settings_with(monkeypatch, tmp_path, SMTP_HOST="mail.example")
    assert (starttls["EMAIL_USE_SSL"], starttls["EMAIL_USE_TLS"], starttls["EMAIL_PORT"]) == (
        False, True, 587)  # fmt: skip
    with pytest.raises(ImproperlyConfigured, match=r"SMTP_SSL .* and SMTP_TLS .* exclude each"):
        _settings_with(monkeypatch, tmp_path, SMTP_HOST="mail.example", SMTP_SSL="1",
                       SMTP_TLS="1")  # fmt: skip
