"""Reactions to entering and leaving a segment: post to a webhook. (Enrolling who enters in a
sales sequence is an automation flow now: `sequence_flow_create`.)

A marketer adds reactions on the segment's page (or the API). `reactions_dispatch` reads each
active reaction's new `SegmentEvent` rows (by id, after the reaction's cursor) and creates one
`ReactionDelivery` per (reaction, event); `delivery_attempt` does the work of one delivery.
Both run as tasks (`segments.tasks`): dispatch after a static list changes and every minute
(`marketing.segment_reactions_run`, which also re-enqueues due retries), so a dynamic segment's
refresh is reacted to within a minute of it.

Webhooks follow the Standard Webhooks specification (standardwebhooks.com):
- the body is JSON `{"type": "segment.entered"|"segment.left", "timestamp", "data": {"segment":
  {"id", "name"}, "contact": {"id", "email", "first_name", "last_name"}}}` plus, for receivers
  written before, the same facts at the top level (`id` = the event id, `occurred_at`,
  `segment`, `contact`); the same bytes on every attempt;
- headers `webhook-id` (`msg_<event id>`: the idempotency key, the same on every attempt),
  `webhook-timestamp` (Unix seconds of this attempt: each attempt is signed afresh, so a
  receiver may refuse old timestamps) and `webhook-signature: v1,<base64 HMAC-SHA256 of
  "<id>.<timestamp>.<body>">`, keyed with the base64-decoded part of the `whsec_<base64>`
  secret;
- hooks created before Standard Webhooks (`legacy_signature`) also get `X-Tandem-Event-Id`,
  `X-Tandem-Event` and `X-Tandem-Signature: sha256=<hex HMAC-SHA256 of the body>` with the
  same key (their old secret was re-encoded by migration 0012 as `whsec_` + base64 of the old
  text, so both signatures use the key their receiver already holds); rotating the secret
  ends the legacy headers;
- the secret is shown once, when the hook is created or its secret is rotated, and
  stored encrypted (Fernet; key derived from SECRET_KEY; SECRET_KEY_FALLBACKS still decrypt), so
  it can sign but is never displayed again; rotating SECRET_KEY without keeping the old one in
  the fallbacks makes the secrets unreadable (deliveries then fail: rotate the hook's secret);
- ordering per subscriber (per webhook reaction): deliveries are made in event order. A delivery is
  attempted only when every earlier delivery of its reaction is finished (done, skipped or
  failed after `MAX_ATTEMPTS`), so a receiver that fails holds back the later events until it
  answers or the earlier one is given up;
- URLs are distrusted: http or https only, no user name or password in them, and the host must
  resolve only to public addresses (private, loopback, link-local, multicast and reserved ones
  are refused) unless `WEBHOOK_ALLOW_PRIVATE=1`; this is checked when the hook is saved and again
  at each attempt, and the request goes to the address that was checked (no second DNS lookup);
  redirects are not followed;
- a 2xx answer is success; anything else (or no answer within 10 s) is retried with exponential
  backoff (30 s, 1, 2, 4 … minutes, at most 6 h between attempts) up to `MAX_ATTEMPTS`, then the
  delivery is marked failed. An attempt holds its delivery for a lease (the timeout plus a
  margin), so two workers never post the same delivery at once and a worker that dies mid-way
  leaves it to be retried.

Sequences: there is one engine. "Enrol entering contacts in a sequence" is an automation flow
(trigger "entering a segment", one step "enrol in another flow or sequence" into the sequence's
flow), made by `sequence_flow_create`; `reaction_create` refuses the kind "sequence" with the
reason. Reactions of that kind made before were turned into such flows and paused by
automation's migration 0004; they stay as history, and a delivery of one is skipped.
Webhook reactions stay here, as they are: signed deliveries in order, with retries, are this
module's work, not a flow's.

Invariants:
- a new reaction starts at its segment's latest event: history is not replayed;
- one delivery per (reaction, event) (unique constraint): dispatching twice or a retried task
  never does the work twice (a webhook receiver may still see an event twice after a lost
  answer: at least once, deduplicate by `webhook-id`);
- per webhook reaction, no delivery is attempted while an earlier one (lower event id) is
  pending;
- every write to a reaction is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.automation import services as automation
from tandem.automation.models import Flow
from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.webhooks import (
    TIMEOUT,
    check_url,
    decrypt_secret,
    encrypt_secret,
    post,
    secret_new,
    signed_headers,
)
from tandem.crm.models import Contact
from tandem.marketing.models import ReactionDelivery, Segment, SegmentEvent, SegmentReaction
from tandem.sales.models import Sequence

MAX_ATTEMPTS = 8
LEASE = dt.timedelta(seconds=TIMEOUT * 3 + 30)
FIRST_DELAY = 30
MAX_DELAY = 6 * 3600
DISPATCH_BATCH = 1000


# --- secrets, signatures, URLs: tandem.core.webhooks (shared with automation flows) ---------

# --- configuring reactions ------------------------------------------------------------------


@dataclass
class Created:
    reaction: SegmentReaction
    secret: str  # the webhook secret, shown once


def _clean(
    *, kind: str, on_entered: bool, on_left: bool, sequence: Sequence | None, url: str
) -> dict[str, Any]:
    if kind == SegmentReaction.Kind.SEQUENCE:
        raise InvalidInput(
            {
                "kind": [
                    _(
                        "Enrolling who enters a segment in a sequence is an automation flow: "
                        "create a flow triggered by “Entering a segment” with the step “Enrol in "
                        "another flow or sequence” (the segment's page makes it for you)."
                    )
                ]
            },
            code="use_flow",
        )
    if kind not in SegmentReaction.Kind.values:
        raise InvalidInput({"kind": [_("Choose a webhook.")]})
    if not on_entered and not on_left:
        raise InvalidInput({"on_entered": [_("React to entering, leaving or both.")]})
    check_url(url)
    return {"sequence": None, "url": url.strip(), "on_entered": on_entered, "on_left": on_left}


def _latest_event_id(segment_id: int) -> int:
    latest = SegmentEvent.objects.filter(segment_id=segment_id).aggregate(m=Max("pk"))["m"]
    return int(latest or 0)


@transaction.atomic
def reaction_create(
    *,
    actor: Actor,
    segment: Segment,
    kind: str,
    on_entered: bool = True,
    on_left: bool = False,
    sequence: Sequence | None = None,
    url: str = "",
) -> Created:
    data = _clean(kind=kind, on_entered=on_entered, on_left=on_left, sequence=sequence, url=url)
    secret = ""
    if kind == SegmentReaction.Kind.WEBHOOK:
        secret = secret_new()
        data["secret_encrypted"] = encrypt_secret(secret)
    Segment.objects.select_for_update().filter(pk=segment.pk).first()  # no event slips between
    reaction = SegmentReaction.objects.create(
        segment=segment,
        kind=kind,
        created_by=actor.user,
        after_event_id=_latest_event_id(segment.pk),
        **data,
    )
    record_change(
        actor=actor,
        action="create",
        instance=reaction,
        changes=snapshot(reaction, ["segment", "kind", "on_entered", "on_left", "sequence", "url"]),
    )
    return Created(reaction, secret)


def sequence_flow_create(*, actor: Actor, segment: Segment, sequence: Sequence) -> Flow:
    """The automation flow that enrols every contact entering `segment` in `sequence` (from the
    next entry on: history is not replayed). Only who may enrol in the sequence (its owner, a
    head of sales, an admin) may make it: the emails go out in the owner's name."""
    if actor.user is not None and not (
        scoped(actor.user, Sequence, "change").filter(pk=sequence.pk).exists()
    ):
        raise InvalidInput(
            {"sequence": [_("Only the sequence's owner, a head of sales or an admin may.")]},
            code="forbidden",
        )
    if sequence.flow is None:
        raise InvalidInput({"sequence": [_("This sequence has no flow to run it.")]})
    return automation.flow_from_segment_create(
        actor=actor, segment_id=segment.pk, segment_name=segment.name, target=sequence.flow
    )


AUDITED = ["kind", "on_entered", "on_left", "sequence", "url", "active"]


@transaction.atomic
def reaction_set_active(*, actor: Actor, reaction: SegmentReaction, active: bool) -> None:
    """Pause or resume. Resuming starts from the latest event: nothing missed is replayed."""
    reaction = SegmentReaction.objects.select_for_update().get(pk=reaction.pk)
    before = snapshot(reaction, AUDITED)
    reaction.active = active
    if active:
        reaction.after_event_id = _latest_event_id(reaction.segment_id)
    reaction.save(update_fields=["active", "after_event_id"])
    record_change(
        actor=actor,
        action="update",
        instance=reaction,
        changes=diff(before, snapshot(reaction, AUDITED)),
    )


@transaction.atomic
def reaction_rotate_secret(*, actor: Actor, reaction: SegmentReaction) -> str:
    """A new secret for a webhook (returned once; the old one stops signing at once). A hook
    that still sent the legacy X-Tandem-* headers sends Standard Webhooks headers only from now."""
    reaction = SegmentReaction.objects.select_for_update().get(pk=reaction.pk)
    if reaction.kind != SegmentReaction.Kind.WEBHOOK:
        raise InvalidInput(_("Only webhooks have a secret."))
    secret = secret_new()
    reaction.secret_encrypted = encrypt_secret(secret)
    reaction.legacy_signature = False
    reaction.save(update_fields=["secret_encrypted", "legacy_signature"])
    record_change(
        actor=actor, action="update", instance=reaction, changes={"secret": ["***", "***"]}
    )
    return secret


@transaction.atomic
def reaction_delete(*, actor: Actor, reaction: SegmentReaction) -> None:
    record_change(
        actor=actor,
        action="delete",
        instance=reaction,
        changes=snapshot(reaction, ["segment", *AUDITED]),
    )
    reaction.delete()


# --- dispatching and delivering -------------------------------------------------------------


def _dispatch_one(reaction_id: int) -> tuple[list[int], int]:
    """Turn the reaction's next events into deliveries; returns (new delivery ids, events read)."""
    with transaction.atomic():
        reaction = (
            SegmentReaction.objects.select_for_update().filter(pk=reaction_id, active=True).first()
        )
        if reaction is None:
            return [], 0
        events = list(
            SegmentEvent.objects.filter(
                segment_id=reaction.segment_id, pk__gt=reaction.after_event_id
            )
            .order_by("pk")
            .values_list("pk", "kind")[:DISPATCH_BATCH]
        )
        if not events:
            return [], 0
        wanted = {
            kind
            for kind, on in (("entered", reaction.on_entered), ("left", reaction.on_left))
            if on
        }
        chosen = [pk for pk, kind in events if kind in wanted]
        now = timezone.now()
        ReactionDelivery.objects.bulk_create(
            [
                ReactionDelivery(reaction=reaction, event_id=pk, next_attempt_at=now)
                for pk in chosen
            ],
            ignore_conflicts=True,
        )
        reaction.after_event_id = events[-1][0]
        reaction.save(update_fields=["after_event_id"])
        created = list(
            ReactionDelivery.objects.filter(
                reaction=reaction, event_id__in=chosen, status=ReactionDelivery.Status.PENDING
            ).values_list("pk", flat=True)
        )
        return created, len(events)


def reactions_dispatch(*, segment_id: int | None = None) -> list[int]:
    """Create the deliveries for every active reaction (of one segment, or all); returns the
    ids of the pending deliveries created (the caller enqueues their attempts)."""
    reactions = SegmentReaction.objects.filter(active=True)
    if segment_id is not None:
        reactions = reactions.filter(segment_id=segment_id)
    created: list[int] = []
    for reaction_id in list(reactions.order_by("pk").values_list("pk", flat=True)):
        while True:
            batch, seen = _dispatch_one(reaction_id)
            created.extend(batch)
            if seen < DISPATCH_BATCH:
                break
    return created


def _waits_in_line() -> Q:
    """A webhook delivery behind an earlier (lower event id) pending one of the same reaction.
    (Sequence enrolments are independent of each other: they do not wait.)"""
    earlier = ReactionDelivery.objects.filter(
        reaction_id=OuterRef("reaction_id"),
        status=ReactionDelivery.Status.PENDING,
        event_id__lt=OuterRef("event_id"),
    )
    return Q(reaction__kind=SegmentReaction.Kind.WEBHOOK) & Q(Exists(earlier))


def deliveries_due(*, limit: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Pending deliveries whose (retry or lease) time has come and that are first in line for
    their reaction: a lost task is picked up again."""
    return list(
        ReactionDelivery.objects.filter(
            status=ReactionDelivery.Status.PENDING, next_attempt_at__lte=now or timezone.now()
        )
        .exclude(_waits_in_line())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def backoff(attempt: int) -> dt.timedelta:
    """Delay after failed attempt number `attempt` (1-based): 30 s doubling, capped at 6 h."""
    return dt.timedelta(seconds=min(FIRST_DELAY * 2 ** max(attempt - 1, 0), MAX_DELAY))


def webhook_body(reaction: SegmentReaction, event: SegmentEvent) -> bytes:
    contact = Contact.objects.filter(pk=event.contact_id).first()
    data = {
        "segment": {"id": reaction.segment_id, "name": reaction.segment.name},
        "contact": {
            "id": event.contact_id,
            "email": contact.email if contact else "",
            "first_name": contact.first_name if contact else "",
            "last_name": contact.last_name if contact else "",
        },
    }
    occurred_at = event.at.isoformat()
    payload = {
        "type": f"segment.{event.kind}",
        "timestamp": occurred_at,
        "data": data,
        # the earlier shape, kept for receivers written before Standard Webhooks
        "id": event.pk,
        "occurred_at": occurred_at,
        **data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Attempt:
    status: str  # the delivery's status afterwards, or "busy" (not due, not first in line, or
    # another worker has it)
    retry_at: dt.datetime | None = None


def next_in_line(delivery_id: int) -> int | None:
    """The reaction's next pending delivery after this finished one (to attempt at once)."""
    finished = ReactionDelivery.objects.filter(pk=delivery_id).values("reaction_id", "event_id")
    row = finished.first()
    if row is None:
        return None
    return (
        ReactionDelivery.objects.filter(
            reaction_id=row["reaction_id"],
            status=ReactionDelivery.Status.PENDING,
            event_id__gt=row["event_id"],
        )
        .order_by("event_id")
        .values_list("pk", flat=True)
        .first()
    )


def _finish(delivery_id: int, status: str, **fields: Any) -> None:
    ReactionDelivery.objects.filter(pk=delivery_id).update(status=status, **fields)


def delivery_attempt(delivery_id: int, *, now: dt.datetime | None = None) -> Attempt:
    """Claim a due pending delivery that is first in line for its reaction (conditional UPDATE:
    attempts + 1, lease) and do its work."""
    now = now or timezone.now()
    claimed = (
        ReactionDelivery.objects.filter(
            pk=delivery_id, status=ReactionDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .exclude(_waits_in_line())
        .update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    )
    if not claimed:
        return Attempt("busy")
    delivery = ReactionDelivery.objects.select_related("reaction__segment", "event").get(
        pk=delivery_id
    )
    if delivery.reaction.kind != SegmentReaction.Kind.WEBHOOK:  # a sequence: a flow now
        _finish(
            delivery.pk, ReactionDelivery.Status.SKIPPED, last_error="moved to an automation flow"
        )
        return Attempt(ReactionDelivery.Status.SKIPPED)
    return _post(delivery, now)


def _post(delivery: ReactionDelivery, now: dt.datetime) -> Attempt:
    reaction = delivery.reaction
    body = webhook_body(reaction, delivery.event)
    secret = decrypt_secret(reaction.secret_encrypted)
    error = ""
    status_code: int | None = None
    if secret is None:
        error = "secret unreadable (SECRET_KEY changed): rotate the hook's secret"
    else:
        headers = signed_headers(
            secret=secret,
            event_id=delivery.event_id,
            event_type=f"segment.{delivery.event.kind}",
            body=body,
            at=timezone.now(),
            legacy=reaction.legacy_signature,
        )
        try:
            status_code = post(check_url(reaction.url), body, headers)
        except InvalidInput as exc:
            error = exc.message
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= status_code < 300:
                _finish(
                    delivery.pk,
                    ReactionDelivery.Status.DONE,
                    response_status=status_code,
                    done_at=timezone.now(),
                    last_error="",
                )
                return Attempt(ReactionDelivery.Status.DONE)
            error = f"HTTP {status_code}"
    attempts = delivery.attempts
    if attempts >= MAX_ATTEMPTS:
        _finish(
            delivery.pk,
            ReactionDelivery.Status.FAILED,
            response_status=status_code,
            last_error=error[:300],
        )
        return Attempt(ReactionDelivery.Status.FAILED)
    retry_at = now + backoff(attempts)
    _finish(
        delivery.pk,
        ReactionDelivery.Status.PENDING,
        response_status=status_code,
        last_error=error[:300],
        next_attempt_at=retry_at,
    )
    return Attempt(ReactionDelivery.Status.PENDING, retry_at)
