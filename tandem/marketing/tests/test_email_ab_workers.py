"""A/B tests of content (template B) through a real SMTP server, the send form's previews and
test copies, and several task runs per send (each recipient exactly once; follow-ups once)."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django_tasks_db.models import DBTaskResult

from conftest import PASSWORD, SmtpInbox, World, smtp_server
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.marketing import consent
from tandem.marketing.email import sending, tasks
from tandem.marketing.models import (
    EmailRecipient,
    EmailSend,
    EmailTemplate,
    Segment,
    SubscriptionType,
)
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
def newsletter() -> SubscriptionType:
    return SubscriptionType.objects.create(key="newsletter", name="Newsletter", double_opt_in=False)


def people(n: int, newsletter: SubscriptionType) -> None:
    for i in range(n):
        contact = crm.contact_create(actor=SYSTEM, first_name=f"P{i}", email=f"p{i}@example.com")
        consent.subscribe(contact=contact, subscription=newsletter, source="test")


def templates() -> tuple[EmailTemplate, EmailTemplate]:
    a = sending.template_save(
        actor=SYSTEM,
        name="Plain",
        subject="News for {{ contact.first_name }}",
        html="<p>Body A for {{ contact.first_name }}</p>",
    )
    b = sending.template_save(
        actor=SYSTEM,
        name="Bold",
        subject="Subject of template B (not used)",
        html='<h1>Body B for {{ contact.first_name }}</h1><p><a href="https://x.example/b">Go</a>',
    )
    return a, b


def everyone() -> Segment:
    return seg.segment_create(
        actor=SYSTEM, name="All", definition={"type": "subscription", "subscription": "newsletter"}
    )


def create(newsletter: SubscriptionType, template: EmailTemplate, **options: Any) -> EmailSend:
    return sending.send_create(
        actor=SYSTEM,
        name="Spring",
        template=template,
        segment=everyone(),
        subscription_type=newsletter,
        from_email="news@news.example",
        **options,
    )


def received(inbox: SmtpInbox) -> dict[str, tuple[str, str]]:
    """recipient -> (subject, text part) of what the server accepted."""
    out = {}
    for _from, rcpt, raw in inbox.messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        out[rcpt[0]] = (str(msg["Subject"]), text)
    return out


@pytest.mark.parametrize(("rule", "winner"), [("clicks", "b"), ("opens", "a")])
def test_variant_b_gets_template_b_and_the_rest_get_the_winner(
    smtp: SmtpInbox, newsletter: SubscriptionType, rule: str, winner: str
) -> None:
    people(10, newsletter)
    a, b = templates()
    send = create(newsletter, a, template_b=b, ab_test_percent=40, ab_winner_rule=rule)
    sending.send_run(send_id=send.pk)
    tested = EmailRecipient.objects.filter(send=send, status="sent")
    variant = dict(tested.values_list("email", "variant"))
    assert sorted(variant.values()) == ["a", "a", "b", "b"]
    got = received(smtp)
    assert set(got) == set(variant)
    for address, (subject, text) in got.items():
        first = address.split("@")[0].upper()
        assert subject == f"News for {first}"  # no subject B: both use template A's subject
        assert f"Body {variant[address].upper()} for {first}" in text
        assert ("Go (https://x.example/b)" in text) == (variant[address] == "b")
    # B gets one click by a person, A one open: clicks elect B, opens elect A.
    at = "2026-01-01T00:00:00Z"
    EmailRecipient.objects.filter(pk=tested.filter(variant="b").first().pk).update(clicked_at=at)  # type: ignore[union-attr]
    EmailRecipient.objects.filter(pk=tested.filter(variant="a").first().pk).update(opened_at=at)  # type: ignore[union-attr]
    assert sending.ab_choose_winner(send_id=send.pk) == winner
    sending.send_run(send_id=send.pk)
    rest = {k: v for k, v in received(smtp).items() if k not in variant}
    assert len(rest) == 6
    for address, (subject, text) in rest.items():
        first = address.split("@")[0].upper()
        assert subject == f"News for {first}"
        assert f"Body {winner.upper()} for {first}" in text
    rows = EmailRecipient.objects.filter(send=send).exclude(email__in=list(variant))
    assert set(rows.values_list("variant", flat=True)) == {winner}
    assert len(smtp.messages) == 10


def test_subject_and_template_b_together(smtp: SmtpInbox, newsletter: SubscriptionType) -> None:
    people(4, newsletter)
    a, b = templates()
    send = create(newsletter, a, template_b=b, subject_b="Last call, {{ contact.first_name }}",
                  ab_test_percent=100)  # fmt: skip
    sending.send_run(send_id=send.pk)
    variant = dict(EmailRecipient.objects.filter(send=send).values_list("email", "variant"))
    for address, (subject, text) in received(smtp).items():
        first = address.split("@")[0].upper()
        if variant[address] == "b":
            assert (subject, f"Body B for {first}" in text) == (f"Last call, {first}", True)
        else:
            assert (subject, f"Body A for {first}" in text) == (f"News for {first}", True)


def test_ab_options_are_validated(newsletter: SubscriptionType) -> None:
    a, b = templates()
    with pytest.raises(InvalidInput) as nothing_differs:
        create(newsletter, a, ab_test_percent=20)
    assert "ab_test_percent" in nothing_differs.value.errors
    with pytest.raises(InvalidInput):
        create(newsletter, a, template_b=a, ab_test_percent=20)  # B would be A
    with pytest.raises(InvalidInput):
        create(newsletter, a, template_b=b, ab_test_percent=101)
    hostile = EmailTemplate.objects.create(name="x", subject="x", html="{% load static %}")
    with pytest.raises(InvalidInput) as sandbox:
        create(newsletter, a, template_b=hostile, ab_test_percent=20)
    assert "template_b" in sandbox.value.errors
    with pytest.raises(InvalidInput) as bad_subject:
        create(newsletter, a, subject_b="{% include 'x' %}", ab_test_percent=20)
    assert "subject_b" in bad_subject.value.errors
    assert not EmailSend.objects.exists()
    plain = create(newsletter, a, template_b=b)  # template B without a share: no test
    assert not sending.is_ab_test(plain)


def test_test_copy_and_preview_of_variant_b(smtp: SmtpInbox, newsletter: SubscriptionType) -> None:
    a, b = templates()
    contact = crm.contact_create(actor=SYSTEM, first_name="Ada", email="ada@example.com")
    preview = sending.preview(template=a, contact=contact, variant="b", template_b=b)
    assert preview.subject == "News for Ada"
    assert "<h1>Body B for Ada</h1>" in preview.html
    sending.test_send(template=a, contact=contact, to="me@example.com",
                      from_email="news@news.example", variant="b", template_b=b,
                      subject_b="Hey {{ contact.first_name }}")  # fmt: skip
    assert received(smtp)["me@example.com"][0] == "[Test B] Hey Ada"
    assert "Body B for Ada" in received(smtp)["me@example.com"][1]


def test_send_form_previews_tests_and_starts_with_workers(
    world: World,
    smtp: SmtpInbox,
    newsletter: SubscriptionType,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EMAIL_SEND_WORKERS = 3
    a, b = templates()
    segment = everyone()
    marketer = Client()
    marketer.login(username="marketer_north", password=PASSWORD)
    page = marketer.get("/marketing/email/sends/new", HTTP_ACCEPT_LANGUAGE="ru")
    assert "Шаблон B (A/B-тест)" in page.content.decode()
    form = {
        "name": "Spring",
        "template": str(a.pk),
        "template_b": str(b.pk),
        "segment": str(segment.pk),
        "subscription_type": str(newsletter.pk),
        "from_email": "news@news.example",
        "ab_test_percent": "30",
        "ab_winner_rule": "clicks",
        "ab_wait_minutes": "60",
    }
    shown = marketer.post("/marketing/email/sends/new", {**form, "preview": "1"})
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "Preview of variant A" in html
    assert "Preview of variant B" in html
    assert "&lt;h1&gt;Body B for" in html  # inside the sandboxed frame's srcdoc
    assert "Body A for" in html
    tested = marketer.post(
        "/marketing/email/sends/new", {**form, "test": "1", "test_to": "me@example.com"}
    )
    assert tested.status_code == 200
    copies = [
        email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp.messages
    ]
    assert sorted(str(c["Subject"]).split("]")[0] for c in copies) == ["[Test", "[Test B"]
    bodies = {
        str(c["Subject"]).split("]")[0]: c.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for c in copies
    }
    assert "Body A for" in bodies["[Test"]
    assert "Body B for" in bodies["[Test B"]
    assert not EmailSend.objects.exists()
    refused = marketer.post("/marketing/email/sends/new", {**form, "template_b": ""})
    assert refused.status_code == 400
    assert not EmailSend.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = marketer.post("/marketing/email/sends/new", {**form, "start": "1"})
    assert started.status_code == 302
    send = EmailSend.objects.get()
    assert (send.template_b, send.ab_winner_rule, send.ab_wait_minutes) == (b, "clicks", 60)
    runs = DBTaskResult.objects.filter(task_path="tandem.marketing.email.tasks.send_run")
    assert runs.count() == 3
    listing = marketer.get("/marketing/email/").content.decode()
    assert "B Bold" in listing


def test_runs_of_one_send_enqueue_the_winner_choice_once(
    smtp: SmtpInbox, newsletter: SubscriptionType, django_capture_on_commit_callbacks: Any
) -> None:
    people(6, newsletter)
    a, b = templates()
    send = create(newsletter, a, template_b=b, ab_test_percent=50)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.send_run.call(send.pk)
    choices = DBTaskResult.objects.filter(task_path="tandem.marketing.email.tasks.ab_choose_winner")
    assert choices.count() == 1
    assert len(smtp.messages) == 3
    choice = choices.get()
    assert choice.run_after is not None
    send.refresh_from_db()
    assert send.started_at is not None
    assert (choice.run_after - send.started_at).total_seconds() == send.ab_wait_minutes * 60
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.ab_choose_winner.call(send.pk) == "a"
    runs = DBTaskResult.objects.filter(task_path="tandem.marketing.email.tasks.send_run")
    assert runs.count() == tasks.send_workers() == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_deliver_each_recipient_once(
    smtp: SmtpInbox, newsletter: SubscriptionType
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (SQLite has one writer)")
    people(900, newsletter)
    a, _b = templates()
    send = create(newsletter, a)
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(sending.send_run(send_id=send.pk).get("delivered", 0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(results) == 900
    assert all(n > 0 for n in results), results  # both runs took chunks
    addresses = [rcpt[0] for _f, rcpt, _raw in smtp.messages]
    assert len(addresses) == len(set(addresses)) == 900
    assert EmailRecipient.objects.filter(send=send, status="sent").count() == 900
    send.refresh_from_db()
    assert send.status == "sent"
