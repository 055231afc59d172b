"""Standard Webhooks deliveries, checked by the `standardwebhooks` reference package on a real
HTTP server: fresh timestamps per attempt, event order per subscriber (a failing receiver holds
back the later events), and hooks made before the standard keep verifying after the migration."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib
import json
import secrets
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tandem.core.audit import Actor
from tandem.crm.models import Contact
from tandem.marketing.models import ReactionDelivery, SegmentReaction
from tandem.marketing.segments import members, reactions
from tandem.marketing.segments import services as seg
from tandem.marketing.segments import tasks as reaction_tasks
from tandem.marketing.tests.test_segment_reactions import Hook, hook  # noqa: F401

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _contacts(n: int) -> list[Contact]:
    return [
        Contact.objects.create(first_name=f"C{i}", email=f"c{i}@order.example") for i in range(n)
    ]


def test_a_new_secret_is_whsec_base64_of_32_bytes() -> None:
    secret = reactions.secret_new()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_each_attempt_is_signed_afresh_and_verifies_with_the_reference_package(
    hook: Hook,  # noqa: F811
) -> None:
    segment = seg.segment_create(actor=SYSTEM, name="Fresh", kind="static")
    secret = reactions.reaction_create(
        actor=SYSTEM, segment=segment, kind="webhook", url=hook.url
    ).secret
    (contact,) = _contacts(1)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[contact.pk])
    (delivery_id,) = reactions.reactions_dispatch()
    hook.statuses = [502]
    assert reactions.delivery_attempt(delivery_id).status == "pending"
    later = timezone.now() + dt.timedelta(minutes=5)
    assert reactions.delivery_attempt(delivery_id, now=later).status == "done"
    (h1, b1), (h2, b2) = hook.received
    assert b1 == b2
    assert h1["webhook-id"] == h2["webhook-id"]  # the idempotency key survives a retry
    receiver = Webhook(secret)
    assert receiver.verify(b1, h1)["type"] == "segment.entered"
    assert receiver.verify(b2, h2)["data"]["contact"]["email"] == "c0@order.example"
    body = json.loads(b2)
    assert set(body) >= {"type", "timestamp", "data"}
    tampered = b2.replace(b"c0@order", b"c9@order")
    with pytest.raises(WebhookVerificationError):
        receiver.verify(tampered, h2)
    with pytest.raises(WebhookVerificationError):  # a signature of someone else's secret
        Webhook(reactions.secret_new()).verify(b2, h2)


def test_deliveries_to_one_subscriber_arrive_in_event_order_behind_a_failure(
    hook: Hook,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    segment = seg.segment_create(actor=SYSTEM, name="Ordered", kind="static")
    reactions.reaction_create(
        actor=SYSTEM, segment=segment, kind="webhook", url=hook.url, on_left=True
    )
    people = _contacts(3)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[p.pk for p in people])
    members.members_remove(actor=SYSTEM, segment=segment, contact_ids=[people[0].pk])
    ids = sorted(reactions.reactions_dispatch())
    assert len(ids) == 4
    hook.statuses = [500]
    now = timezone.now()
    # only the first in line is due; the others wait behind it, whoever asks for them
    assert reactions.deliveries_due(now=now) == [ids[0]]
    assert reactions.delivery_attempt(ids[0], now=now).status == "pending"
    assert [reactions.delivery_attempt(pk, now=now).status for pk in ids[1:]] == ["busy"] * 3
    assert reactions.deliveries_due(now=now + dt.timedelta(minutes=1)) == [ids[0]]
    # the retry succeeds; the task hands on to the next deliveries in event order
    later = timezone.now() + dt.timedelta(minutes=1)
    ReactionDelivery.objects.filter(pk=ids[0]).update(next_attempt_at=later - dt.timedelta(1))
    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        assert reaction_tasks.reaction_deliver.call(ids[0]) == "done"
    assert (
        list(ReactionDelivery.objects.order_by("pk").values_list("status", flat=True))
        == ["done"] * 4
    )
    events = [json.loads(body) for _h, body in hook.received]
    sent = [(e["type"], e["data"]["contact"]["id"]) for e in events[1:]]
    assert sent == [
        ("segment.entered", people[0].pk),
        ("segment.entered", people[1].pk),
        ("segment.entered", people[2].pk),
        ("segment.left", people[0].pk),
    ]
    assert [e["id"] for e in events[1:]] == sorted(e["id"] for e in events[1:])


def test_a_given_up_delivery_lets_the_next_ones_go(hook: Hook) -> None:  # noqa: F811
    segment = seg.segment_create(actor=SYSTEM, name="Give up", kind="static")
    reactions.reaction_create(actor=SYSTEM, segment=segment, kind="webhook", url=hook.url)
    people = _contacts(2)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[p.pk for p in people])
    first, second = sorted(reactions.reactions_dispatch())
    hook.statuses = [500] * reactions.MAX_ATTEMPTS
    now = timezone.now()
    for _ in range(reactions.MAX_ATTEMPTS):
        attempt = reactions.delivery_attempt(first, now=now)
        now = attempt.retry_at or now
    assert ReactionDelivery.objects.get(pk=first).status == "failed"
    assert reactions.next_in_line(first) == second
    assert reactions.delivery_attempt(second, now=now).status == "done"


def _migration() -> Any:
    return importlib.import_module("tandem.marketing.migrations.0012_webhook_standard_secrets")


def test_a_hook_made_before_the_standard_keeps_its_receiver_working(
    hook: Hook,  # noqa: F811
) -> None:
    segment = seg.segment_create(actor=SYSTEM, name="Old", kind="static")
    reaction = reactions.reaction_create(
        actor=SYSTEM, segment=segment, kind="webhook", url=hook.url
    ).reaction
    old_secret = "whsec_" + secrets.token_urlsafe(32)  # the form hooks were given before
    SegmentReaction.objects.filter(pk=reaction.pk).update(
        secret_encrypted=reactions.encrypt_secret(old_secret)
    )
    _migration()._reencode(django_apps, None)
    reaction.refresh_from_db()
    assert reaction.legacy_signature is True
    stored = reactions.decrypt_secret(reaction.secret_encrypted)
    assert stored == "whsec_" + base64.b64encode(old_secret.encode()).decode()
    assert old_secret not in reaction.secret_encrypted  # still encrypted

    (contact,) = _contacts(1)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[contact.pk])
    (delivery_id,) = reactions.reactions_dispatch()
    assert reactions.delivery_attempt(delivery_id).status == "done"
    headers, body = hook.received[-1]
    # the receiver's old check, with the old secret text, still passes
    expected = "sha256=" + hmac.new(old_secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-tandem-signature"], expected)
    assert headers["x-tandem-event-id"] == str(json.loads(body)["id"])
    # and the Standard Webhooks headers verify with the re-encoded secret
    assert Webhook(stored).verify(body, headers)["id"] == json.loads(body)["id"]

    # rotating ends the legacy headers
    new_secret = reactions.reaction_rotate_secret(actor=SYSTEM, reaction=reaction)
    members.members_remove(actor=SYSTEM, segment=segment, contact_ids=[contact.pk])
    SegmentReaction.objects.filter(pk=reaction.pk).update(on_left=True)
    members.members_add(actor=SYSTEM, segment=segment, contact_ids=[_contacts(2)[1].pk])
    for pk in sorted(reactions.reactions_dispatch()):
        assert reactions.delivery_attempt(pk).status == "done"
    for headers, body in hook.received[-2:]:
        assert "x-tandem-signature" not in headers
        assert Webhook(new_secret).verify(body, headers)["data"]["segment"]["id"] == segment.pk

    # the migration runs backwards too: the old text comes back
    SegmentReaction.objects.filter(pk=reaction.pk).update(
        legacy_signature=True, secret_encrypted=reactions.encrypt_secret(stored)
    )
    _migration()._decode(django_apps, None)
    reaction.refresh_from_db()
    assert reactions.decrypt_secret(reaction.secret_encrypted) == old_secret
