"""Reactions a marketer configures on a segment, and their deliveries (imported by `models`).

A reaction turns the segment's `SegmentEvent` rows (entered/left) into work: enrol the contact in
a sales sequence, or POST the event to a webhook. See `segments/reactions.py`.

Invariants:
- a reaction reads its segment's events by id after its own cursor (`after_event_id`); a new
  reaction starts at the segment's latest event, so it never replays history;
- one `ReactionDelivery` per (reaction, event) (a unique constraint): the event's id is the
  idempotency key, so dispatching twice or retrying never duplicates the work;
- a webhook's secret is stored encrypted (Fernet, key derived from SECRET_KEY) and shown once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SegmentReaction(models.Model):
    class Kind(models.TextChoices):
        SEQUENCE = "sequence", _("Enrol in a sequence")
        WEBHOOK = "webhook", _("Post to a webhook")

    segment = models.ForeignKey(
        "marketing.Segment", on_delete=models.CASCADE, related_name="reactions"
    )
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
    event = models.ForeignKey("marketing.SegmentEvent", on_delete=models.CASCADE, related_name="+")
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
