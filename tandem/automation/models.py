"""Flows, their immutable published versions, enrolments and what each step did.

Invariants:
- a `FlowVersion` with `published_at` set is never changed again (services refuse it); an
  enrolment keeps the version it started on for its whole life;
- a flow with `managed_by` set (a sales sequence's) changes its graph, versions, status and
  settings only through the managing app's service: the builder and the API refuse;
- one `StepRun` per (enrolment, seq): `seq` counts the steps an enrolment has run, and the runner
  writes the row in the transaction that moves the enrolment past the step, so a step's side
  effects (the rows it writes, the message it queues) happen at most once;
- one `FlowMessage` per step run: an email or webhook is queued in the step's transaction and
  delivered after commit by claiming it (queued -> sending); a message found "sending" after its
  lease is marked "unknown" and never sent again;
- one enrolment per (flow, contact, trigger_key): replaying a trigger never enrols twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact


class FlowStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class Reentry(models.TextChoices):
    ONCE = "once", _("Once per contact")
    AFTER_EXIT = "after_exit", _("Again after leaving the flow")
    ALWAYS = "always", _("Every time the trigger fires")


class ManagedBy(models.TextChoices):
    """Who keeps a flow's definition when it is not the automation builder: the graph, its
    publishing, its status and its settings change only through that app's service."""

    NOBODY = "", _("the automation builder")
    SALES_SEQUENCE = "sales.sequence", _("a sales sequence")


class Flow(models.Model):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=FlowStatus.choices, default=FlowStatus.DRAFT
    )
    reentry = models.CharField(
        _("re-entry"), max_length=12, choices=Reentry.choices, default=Reentry.ONCE
    )
    holdout_percent = models.PositiveSmallIntegerField(_("holdout (%)"), default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    live_version = models.ForeignKey(
        "FlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the Standard Webhooks secret signing the flow's webhooks (in and out), encrypted
    # (tandem.core.webhooks.encrypt_secret); read it with services.flow_webhook_secret
    webhook_secret = models.CharField(max_length=300, blank=True)
    # set when another app keeps the flow's definition (a sales sequence's steps): the builder
    # and the API then show it read-only, and automation's services refuse to change it unless
    # that app's service calls them saying so (`manager=`)
    managed_by = models.CharField(max_length=40, blank=True, default="", choices=ManagedBy.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("flow")

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField(default=dict)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="automation_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.number}"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    EXITED = "exited", _("Exited")
    HELD_OUT = "held_out", _("Held out")
    FAILED = "failed", _("Failed")


class Enrolment(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="enrolments")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="enrolments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=EnrolmentStatus.choices)
    node = models.CharField(max_length=40, blank=True)
    seq = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # a "wait for an event" step: the touchpoint kind, since when, and whether it was seen
    waiting_for = models.CharField(max_length=60, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    event_seen = models.BooleanField(default=False)
    failures = models.PositiveSmallIntegerField(default=0)
    trigger_key = models.CharField(max_length=80)
    is_test = models.BooleanField(default=False)
    enrolled_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    goal_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "contact", "trigger_key"], name="automation_enrol_once_per_trigger"
            ),
            models.UniqueConstraint(
                fields=["flow", "contact"],
                condition=Q(status="active"),
                name="automation_one_active_enrolment",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                condition=Q(status="active"),
                name="automation_enrolment_due",
            ),
            models.Index(fields=["contact", "flow"], name="automation_enrolment_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}/{self.contact_id} at {self.node or '-'}"


class StepRun(models.Model):
    """One step an enrolment ran (the history, and the idempotency record of its effects)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    node = models.CharField(max_length=40)
    kind = models.CharField(max_length=20)
    outcome = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["enrolment", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "seq"], name="automation_step_once")
        ]
        indexes = [models.Index(fields=["node"], name="automation_steprun_node")]

    def __str__(self) -> str:
        return f"{self.enrolment_id}#{self.seq} {self.node}: {self.outcome}"


class MessageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (worker lost while sending)")


class FlowMessage(models.Model):
    """An email or a webhook call a step queued; delivered after commit (see the runner)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Webhook")

    step = models.OneToOneField(StepRun, on_delete=models.CASCADE, related_name="message")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    state = models.CharField(
        max_length=10, choices=MessageState.choices, default=MessageState.QUEUED
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["state", "created_at"], name="automation_message_state"),
            models.Index(fields=["contact", "created_at"], name="automation_message_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}: {self.state}"


class TriggerCursor(models.Model):
    """How far a flow's trigger has read its source (the last id seen)."""

    flow = models.OneToOneField(Flow, on_delete=models.CASCADE, related_name="cursor")
    last_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.flow_id}@{self.last_id}"


class Policy(models.Model):
    """The organisation's automation rules across all flows (one row)."""

    emails_per_window = models.PositiveSmallIntegerField(_("emails per contact"), default=3)
    window_days = models.PositiveSmallIntegerField(_("in days"), default=7)
    quiet_start = models.PositiveSmallIntegerField(_("quiet hours from (hour)"), default=21)
    quiet_end = models.PositiveSmallIntegerField(_("quiet hours until (hour)"), default=8)

    class Meta:
        verbose_name = _("automation policy")

    def __str__(self) -> str:
        cap = f"{self.emails_per_window}/{self.window_days}d"
        return f"{cap}, quiet {self.quiet_start}-{self.quiet_end}"

    @classmethod
    def current(cls) -> Policy:
        return cls.objects.get_or_create(pk=1)[0]
