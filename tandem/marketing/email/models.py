"""Email: templates, sends (with their A/B test), one recipient row per message, suppressions.

Invariants:
- an `EmailRecipient` row is claimed (pending -> claimed) with a conditional UPDATE before its
  message is sent, then marked sent; a claimed row is never sent again, so nobody gets a
  message twice, even after a crash;
- a suppressed address (hard bounce, complaint, manual) is never mailed by a send.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact
from tandem.marketing.segments.models import Segment
from tandem.marketing.subscriptions.models import SubscriptionType


def new_token() -> str:
    return secrets.token_urlsafe(16)


class Suppression(models.Model):
    """An address no send may mail: hard bounce, spam complaint, or added by hand."""

    class Reason(models.TextChoices):
        BOUNCE = "bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Spam complaint")
        MANUAL = "manual", _("Added by hand")

    email = models.CharField(max_length=254, unique=True)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("suppressed address")

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"


class EmailTemplate(models.Model):
    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=300)
    html = models.TextField(_("HTML body"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("email template")

    def __str__(self) -> str:
        return self.name


class EmailSend(models.Model):
    """One mailing of a template to a segment for one subscription type.

    A/B test (`ab_test_percent` > 0 and `subject_b` and/or `template_b`): variant B is
    `subject_b` (else template A's subject) with `template_b`'s body (else template A's); the
    rest of the segment gets the winning variant's subject and body."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENDING = "sending", _("Sending")
        TESTING = "testing", _("A/B test running")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        INTERRUPTED = "interrupted", _("Interrupted")

    class WinnerRule(models.TextChoices):
        OPENS = "opens", _("Most unique opens")
        CLICKS = "clicks", _("Most unique clicks")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="sends")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="sends")
    subscription_type = models.ForeignKey(
        SubscriptionType, on_delete=models.PROTECT, related_name="sends"
    )
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    from_email = models.CharField(_("from address"), max_length=254)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    subject_b = models.CharField(_("subject B (A/B test)"), max_length=300, blank=True)
    template_b = models.ForeignKey(
        EmailTemplate,
        verbose_name=_("template B (A/B test)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sends_b",
    )
    ab_test_percent = models.PositiveSmallIntegerField(_("A/B test share (%)"), default=0)
    ab_winner_rule = models.CharField(
        _("winner rule"), max_length=10, choices=WinnerRule.choices, default=WinnerRule.OPENS
    )
    ab_wait_minutes = models.PositiveIntegerField(_("test duration (minutes)"), default=240)
    ab_winner = models.CharField(max_length=1, blank=True)
    # Set by the one run that enqueues the winner choice (conditional UPDATE): with several
    # workers per send, the follow-up task is enqueued once.
    ab_winner_scheduled = models.BooleanField(default=False)
    frequency_cap = models.PositiveSmallIntegerField(_("at most this many emails"), default=3)
    frequency_days = models.PositiveSmallIntegerField(_("per this many days"), default=7)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    # Why an interrupted send stopped (its task gave up: the last error, or its worker was lost).
    interrupted_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("email send")

    def __str__(self) -> str:
        return self.name


class EmailRecipient(models.Model):
    """One message of a send to one contact: the unit that is claimed, sent and tracked."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Being sent")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Interrupted (not resent)")

    send = models.ForeignKey(EmailSend, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    variant = models.CharField(max_length=1, blank=True)
    token = models.CharField(max_length=40, unique=True, default=new_token)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=30, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The worker whose run claimed the row ("" outside a worker): a claim of a worker that stopped
    # beating becomes "unknown" when the send runs again (never resent).
    claimed_by = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["send", "contact"], name="uniq_send_contact")
        ]
        indexes = [
            models.Index(fields=["send", "status", "id"], name="recipient_send_status"),
            models.Index(fields=["contact", "sent_at"], name="recipient_contact_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"
