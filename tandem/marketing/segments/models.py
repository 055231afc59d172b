"""Segments: filter definitions, static lists, materialised members, entered/left events, and
the reactions a marketer configures on them (with their deliveries).

A reaction turns the segment's `SegmentEvent` rows (entered/left) into work: enrol the contact in
a sales sequence, or POST the event to a webhook. See `segments/reactions.py`.

Invariants:
- a segment's definition is a validated filter tree (`segments.schema`); it is compiled from an
  allowlist, never from user text;
- `SegmentMembership` is the materialised member set as of the last refresh; every change to it
  appends a `SegmentEvent` (entered/left) in the same transaction: automation reads the events;
- a reaction reads its segment's events by id after its own cursor (`after_event_id`); a new
  reaction starts at the segment's latest event, so it never replays history;
- one `ReactionDelivery` per (reaction, event) (a unique constraint): the event's id is the
  idempotency key, so dispatching twice or retrying never duplicates the work;
- a webhook's secret (`whsec_<base64>`, Standard Webhooks) is stored encrypted (Fernet, key
  derived from SECRET_KEY) and shown once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (filter)")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    description = models.CharField(_("description"), max_length=500, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    definition = models.JSONField(_("filter"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    # Set when the filter can no longer be computed (a deleted custom attribute or referenced
    # segment...): why, and since when; cleared by the next successful refresh or edit.
    broken_reason = models.CharField(_("why it cannot be computed"), max_length=500, blank=True)
    broken_at = models.DateTimeField(_("broken since"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")

    def __str__(self) -> str:
        return self.name


class StaticMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="static_members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="uniq_static_member")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="uniq_segment_member")
        ]
        indexes = [models.Index(fields=["contact"], name="segmember_contact")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"


class SegmentEvent(models.Model):
    """Append-only: a contact entered or left a segment. Read by id order (a cursor)."""

    class Kind(models.TextChoices):
        ENTERED = "entered", _("entered")
        LEFT = "left", _("left")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["segment", "id"], name="segevent_segment_id")]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.kind} {self.segment_id}"


class SegmentReaction(models.Model):
    class Kind(models.TextChoices):
        SEQUENCE = "sequence", _("Enrol in a sequence")
        WEBHOOK = "webhook", _("Post to a webhook")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="reactions")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    on_entered = models.BooleanField(_("when a contact enters"), default=True)
    on_left = models.BooleanField(_("when a contact leaves"), default=False)
    sequence = models.ForeignKey(
        "sales.Sequence",
        verbose_name=_("sequence"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    url = models.CharField(_("webhook URL"), max_length=500, blank=True)
    secret_encrypted = models.TextField(blank=True)
    # Also send the X-Tandem-* headers of hooks made before Standard Webhooks (until rotated).
    legacy_signature = models.BooleanField(default=False)
    active = models.BooleanField(_("active"), default=True)
    after_event_id = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["segment_id", "id"]
        verbose_name = _("segment reaction")

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.kind}"


class ReactionDelivery(models.Model):
    """One event handed to one reaction: pending (maybe retrying), done, skipped or failed."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed (gave up)")

    reaction = models.ForeignKey(
        SegmentReaction, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(SegmentEvent, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Due time of the next attempt; while an attempt runs it is the attempt's lease expiry.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["reaction", "event"], name="uniq_reaction_event")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="reaction_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.reaction_id}:{self.event_id} {self.status}"
