"""Segment reactions: signed webhooks delivered to a real HTTP server on 127.0.0.1 (signature,
body, retries with backoff, idempotency per event), URL vetting, the secret shown once and
stored encrypted; and "enrol entering contacts in a sequence", which is an automation flow
now (the page makes it, the service and the API refuse the reaction kind with the reason)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import PASSWORD, self_signed_cert
from tandem.automation import runner, triggers
from tandem.automation.models import Enrolment, Flow
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, User
from tandem.core.tokens import token_create
from tandem.crm.models import Contact
from tandem.marketing.models import ReactionDelivery, Segment, SegmentReaction
from tandem.marketing.segments import members, reactions
from tandem.marketing.segments import services as seg
from tandem.marketing.segments import tasks as reaction_tasks
from tandem.sales.sequences import sequence_create

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@dataclass
class Hook:
    """A real threaded HTTP server: records each POST; answers `statuses` in turn (then 204)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def hook(settings: Any) -> Iterator[Hook]:
    settings.WEBHOOK_ALLOW_PRIVATE = "1"
    state = Hook()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tandem?team=growth"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _static(name: str = "VIPs") -> Segment:
    return seg.segment_create(actor=SYSTEM, name=name, kind="static")


def _contact(n: int) -> Contact:
    return Contact.objects.create(first_name=f"P{n}", last_name="L", email=f"p{n}@hooks.example")


def _run_due(now: dt.datetime | None = None) -> list[str]:
    return [
        reactions.delivery_attempt(pk, now=now).status for pk in reactions.deliveries_due(now=now)
    ]


def test_webhook_is_signed_delivered_once_per_event_and_retried_with_backoff(hook: Hook) -> None:
    segment = _static()
    early = _contact(0)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[early.pk])  # before the hook
    created = reactions.reaction_create(
        actor=SYSTEM, segment=segment, kind="webhook", url=hook.url, on_entered=True, on_left=True
    )
    secret = created.secret
    assert secret.startswith("whsec_")
    reaction = SegmentReaction.objects.get()
    assert secret not in reaction.secret_encrypted  # stored encrypted
    assert reactions.decrypt_secret(reaction.secret_encrypted) == secret
    assert "secret" not in json.dumps(AuditEntry.objects.filter(action="create").last().changes)  # type: ignore[union-attr]

    ann = _contact(1)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[ann.pk])
    members.members_remove(actor=SYSTEM, segment=segment, contact_ids=[ann.pk])
    first = sorted(reactions.reactions_dispatch())
    assert len(first) == 2  # entered + left of ann; the earlier event is not replayed
    assert reactions.reactions_dispatch() == []  # dispatching again creates nothing

    hook.statuses = [500]  # the first attempt fails
    now = timezone.now()
    assert _run_due(now) == ["pending"]  # the "left" event waits behind the "entered" one
    failed = ReactionDelivery.objects.get(pk=first[0])
    assert (failed.attempts, failed.response_status, failed.last_error) == (1, 500, "HTTP 500")
    assert failed.next_attempt_at == now + dt.timedelta(seconds=30)
    assert _run_due(now) == []  # not due yet
    assert reactions.delivery_attempt(first[1], now=now).status == "busy"  # not first in line
    assert _run_due(now + dt.timedelta(seconds=31)) == ["done"]
    assert _run_due(now + dt.timedelta(seconds=31)) == ["done"]
    assert reactions.delivery_attempt(first[0], now=now + dt.timedelta(hours=1)).status == "busy"

    assert len(hook.received) == 3
    bodies = [json.loads(body) for _headers, body in hook.received]
    assert [b["type"] for b in bodies] == ["segment.entered", "segment.entered", "segment.left"]
    assert hook.received[0][1] == hook.received[1][1]  # a retry sends the same bytes
    entered = bodies[0]
    assert entered["data"]["segment"] == {"id": segment.pk, "name": "VIPs"}
    assert entered["segment"] == entered["data"]["segment"]  # the earlier shape, kept
    assert entered["data"]["contact"] == {
        "id": ann.pk,
        "email": "p1@hooks.example",
        "first_name": "P1",
        "last_name": "L",
    }
    receiver = Webhook(secret)
    for headers, body in hook.received:
        assert receiver.verify(body, headers) == json.loads(body)
        assert headers["webhook-id"] == f"msg_{json.loads(body)['id']}"
        assert headers["content-type"] == "application/json"
        assert "x-tandem-signature" not in headers  # new hooks: Standard Webhooks only
    assert [d.status for d in ReactionDelivery.objects.order_by("id")] == ["done", "done"]

    # a rotated secret signs from now on; the old one no longer matches
    new_secret = reactions.reaction_rotate_secret(actor=SYSTEM, reaction=reaction)
    bob = _contact(2)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[bob.pk])
    reactions.reactions_dispatch()
    _run_due()
    headers, body = hook.received[-1]
    assert Webhook(new_secret).verify(body, headers)["data"]["contact"]["id"] == bob.pk
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body, headers)


def test_backoff_gives_up_after_max_attempts(hook: Hook) -> None:
    segment = _static()
    reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=hook.url)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[_contact(1).pk])
    (delivery_id,) = reactions.reactions_dispatch()
    hook.statuses = [503] * reactions.MAX_ATTEMPTS
    now = timezone.now()
    delays = []
    for _ in range(reactions.MAX_ATTEMPTS):
        attempt = reactions.delivery_attempt(delivery_id, now=now)
        if attempt.retry_at is not None:
            delays.append(int((attempt.retry_at - now).total_seconds()))
            now = attempt.retry_at
    assert delays == [30, 60, 120, 240, 480, 960, 1920]
    delivery = ReactionDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("failed", reactions.MAX_ATTEMPTS)
    assert len(hook.received) == reactions.MAX_ATTEMPTS


def test_the_periodic_task_dispatches_dynamic_refresh_events_and_delivers(
    hook: Hook, django_capture_on_commit_callbacks: Any
) -> None:
    tagged = {"type": "field", "field": "contact.title", "op": "eq", "value": "CTO"}
    segment = seg.segment_create(actor=SYSTEM, name="CTOs", definition=tagged)
    reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=hook.url)
    Contact.objects.create(first_name="Cy", email="cy@hooks.example", title="CTO")
    assert seg.segment_refresh(segment_id=segment.pk) == (1, 0)
    # the immediate backend runs the delivery tasks the periodic run enqueues
    from django.test import override_settings

    with (
        override_settings(
            TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert reaction_tasks.segment_reactions_run.call() == 1
    assert [json.loads(b)["contact"]["email"] for _h, b in hook.received] == ["cy@hooks.example"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "Only http and https"),
        ("http://user:pw@example.com/x", "no user name or password"),
        ("https://@example.com/x", "no user name or password"),
        ("http://127.0.0.1:9/x", "private, loopback"),
        ("http://localhost/x", "private, loopback"),
        ("http://10.1.2.3/x", "private, loopback"),
        ("http://169.254.169.254/latest", "private, loopback"),
        ("http://[::1]/x", "private, loopback"),
        ("http://[::ffff:192.168.0.1]/x", "private, loopback"),
        ("http://0.0.0.0/x", "private, loopback"),
        ("http://[64:ff9b::7f00:1]/x", "private, loopback"),  # NAT64 to 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/x", "private, loopback"),  # NAT64 to 169.254.169.254
        ("http://[64:ff9b:1::a00:1]/x", "private, loopback"),  # local-use NAT64
        ("http://[2002:c0a8:1::]/x", "private, loopback"),  # 6to4 of 192.168.0.1
        ("http://[2002:7f00:1::1]/x", "private, loopback"),  # 6to4 of 127.0.0.1
        ("http://[::7f00:1]/x", "private, loopback"),  # IPv4-compatible 127.0.0.1
        ("http://[::10.0.0.1]/x", "private, loopback"),  # IPv4-compatible 10.0.0.1
        ("http://[::ffff:127.0.0.1]/x", "private, loopback"),
        ("javascript:alert(1)", "Only http and https"),
        ("http://exa mple.com/", "Not a valid URL"),
        ("http://example.com:99999/", "Not a valid URL"),
    ],
)
def test_webhook_urls_are_distrusted(url: str, message: str, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = ""
    segment = _static()
    with pytest.raises(InvalidInput, match=message):
        reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=url)
    assert not SegmentReaction.objects.exists()


def test_a_hook_saved_while_allowed_is_refused_at_delivery_when_private_is_not(
    hook: Hook, settings: Any
) -> None:
    segment = _static()
    reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=hook.url)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[_contact(1).pk])
    (delivery_id,) = reactions.reactions_dispatch()
    settings.WEBHOOK_ALLOW_PRIVATE = "0"
    assert reactions.delivery_attempt(delivery_id).status == "pending"
    assert "private" in ReactionDelivery.objects.get(pk=delivery_id).last_error
    assert hook.received == []


def test_entering_contacts_are_enrolled_in_a_sequence_by_a_flow_once(world: Any) -> None:
    rep = world.user("sales_rep")
    sequence = sequence_create(
        actor=Actor(user=rep),
        name="Welcome",
        steps=[{"kind": "email", "subject": "Hi {first_name}", "body": "Hello"}],
    )
    segment = _static()
    head = world.user("head")
    with pytest.raises(InvalidInput) as refused:
        reactions.reaction_create(
            actor=Actor(user=head), segment=segment, kind="sequence", sequence=sequence
        )
    assert refused.value.code == "use_flow"
    client = _login(head)
    page = client.post(
        f"/marketing/segments/{segment.pk}/reactions/add",
        {"kind": "sequence", "sequence": sequence.pk, "on_entered": "on"},
    )
    flow = Flow.objects.exclude(pk=sequence.flow_id).get()
    assert page.status_code == 302
    assert page["Location"] == f"/automation/{flow.pk}/"
    assert not SegmentReaction.objects.exists()  # no second engine: a flow, not a reaction
    a, b = _contact(1), _contact(2)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[a.pk, b.pk])
    members.members_remove(actor=SYSTEM, segment=segment, contact_ids=[b.pk])  # left: nothing
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[b.pk])  # enters again
    triggers.dispatch_all()
    runner.run_until_idle()
    triggers.dispatch_all()
    runner.run_until_idle()
    enrolments = Enrolment.objects.filter(flow_id=sequence.flow_id)
    assert sorted(enrolments.values_list("contact_id", flat=True)) == sorted([a.pk, b.pk])
    # a paused sequence: the step says so, nothing enrolled
    from tandem.sales.sequences import sequence_set_active

    sequence_set_active(actor=Actor(user=rep), sequence=sequence, active=False)
    c = _contact(3)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[c.pk])
    triggers.dispatch_all()
    runner.run_until_idle()
    assert not enrolments.filter(contact=c).exists()
    assert Enrolment.objects.get(flow=flow, contact=c).steps.get().outcome == (
        "“Welcome” is not active: skipped"
    )
    # the API refuses the kind with the reason
    secret = token_create(actor=Actor(user=head), user=head, name="t", scope="write")
    api = Client(headers={"Authorization": f"Bearer {secret.secret}"})
    answer = api.post(
        f"/api/v1/marketing/segments/{segment.pk}/reactions",
        {"kind": "sequence", "sequence_id": sequence.pk},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "automation flow" in answer.content.decode()


def _login(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_and_api_manage_reactions_and_show_the_secret_once(world: Any, hook: Hook) -> None:
    marketer = world.user("marketer")
    segment = _static()
    client = _login(marketer)
    page = client.post(
        f"/marketing/segments/{segment.pk}/reactions/add",
        {"kind": "webhook", "url": hook.url, "on_entered": "on"},
    )
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    reaction = SegmentReaction.objects.get()
    secret = reactions.decrypt_secret(reaction.secret_encrypted)
    assert secret is not None
    assert secret in page.content.decode()
    detail = client.get(f"/marketing/segments/{segment.pk}/").content.decode()
    assert hook.url.split("?")[0] in detail
    assert secret not in detail
    refused = client.post(
        f"/marketing/segments/{segment.pk}/reactions/add",
        {"kind": "webhook", "url": "ftp://x.example/", "on_entered": "on"},
        follow=True,
    )
    assert "Only http and https" in refused.content.decode()
    client.post(f"/marketing/segments/{segment.pk}/reactions/{reaction.pk}/pause")
    reaction.refresh_from_db()
    assert reaction.active is False
    assert (
        _login(world.user("sales_rep"))
        .post(f"/marketing/segments/{segment.pk}/reactions/{reaction.pk}/resume")
        .status_code
        == 404
    )

    secret_api = token_create(actor=Actor(user=marketer), user=marketer, name="t", scope="write")
    api = Client(headers={"Authorization": f"Bearer {secret_api.secret}"})
    made = api.post(
        f"/api/v1/marketing/segments/{segment.pk}/reactions",
        {"kind": "webhook", "url": hook.url, "on_left": True},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["secret"].startswith("whsec_")
    listed = api.get(f"/api/v1/marketing/segments/{segment.pk}/reactions").json()
    assert len(listed) == 2
    assert all("secret" not in r for r in listed)
    bad = api.post(
        f"/api/v1/marketing/segments/{segment.pk}/reactions",
        {"kind": "webhook", "url": "http://u:p@example.com/"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    gone = api.delete(f"/api/v1/marketing/segments/{segment.pk}/reactions/{made.json()['id']}")
    assert gone.status_code == 204
    assert SegmentReaction.objects.count() == 1


def test_https_hooks_verify_the_certificate(
    tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    settings.WEBHOOK_ALLOW_PRIVATE = "1"
    cert_file, key_file = self_signed_cert(tmp_path)
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        segment = _static()
        url = f"https://127.0.0.1:{server.server_address[1]}/hook"
        reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=url)
        members.members_add(actor=SYSTEM, segment=segment, contact_ids=[_contact(1).pk])
        (delivery_id,) = reactions.reactions_dispatch()
        now = timezone.now()
        assert reactions.delivery_attempt(delivery_id, now=now).status == "pending"
        assert "CERTIFICATE_VERIFY_FAILED" in ReactionDelivery.objects.get().last_error
        assert received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # now the certificate is trusted
        later = now + dt.timedelta(minutes=1)
        assert reactions.delivery_attempt(delivery_id, now=later).status == "done"
        assert len(received) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_static_list_change_is_delivered_right_after_commit(
    hook: Hook, django_capture_on_commit_callbacks: Any
) -> None:
    from django.test import override_settings

    segment = _static()
    reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=hook.url)
    with (
        override_settings(
            TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        members.members_add(actor=SYSTEM, segment=segment, contact_ids=[_contact(7).pk])
    assert [json.loads(b)["contact"]["email"] for _h, b in hook.received] == ["p7@hooks.example"]
    assert ReactionDelivery.objects.get().status == "done"
