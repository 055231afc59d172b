"""Leads: stage history, scoring, routing, hand-offs with an SLA, notifications and disputes.

Invariants:
- a contact has at most one open `StageHistory` row (left_at is null): the stage it is in now;
  rows are written only by `tandem.leads.lifecycle`, never edited except to close them;
- `ContactScore` has one row per (contact, scoring model); rows are upserted set-based;
- a contact has at most one open `Handoff` (pending or accepted), enforced by a unique constraint;
- `RepCapacity.open_count` counts the rep's open hand-offs; it is changed only with conditional
  `UPDATE`s (`F()` expressions), never read-modify-write;
- a `Dispute` is decided at most once; its decision is never edited. Its effect (a credit
  adjustment, a recycled lead, a new owner) is made in the decision's transaction
  (`tandem.leads.disputes`); `new_owner` records whom an ownership decision gave the record.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact, Industry, LifecycleStage

# Timeline rows that record a change of the record (a stage move, a dispute opened or decided)
# rather than a contact with the customer: scoring, lead quality and the first-contact clock
# leave them out (attribution leaves out their kinds).
RECORD_CHANNELS = ("lifecycle", "dispute")

# --- lifecycle ------------------------------------------------------------------------------


class StageHistory(models.Model):
    """One stay of a contact in a lifecycle stage: when it began, when it ended, who and why."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.CharField(_("stage"), max_length=20, choices=LifecycleStage.choices)
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["contact", "entered_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(left_at__isnull=True), name="one_open_stage"
            )
        ]
        indexes = [models.Index(fields=["stage", "entered_at"], name="stage_entered")]
        verbose_name = _("stage history")

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.stage} from {self.entered_at:%Y-%m-%d}"


# --- scoring --------------------------------------------------------------------------------


class ScoringModel(models.Model):
    """A score group for one product line: its rules, its MQL threshold and its decay."""

    name = models.CharField(_("name"), max_length=100)
    product_line = models.CharField(_("product line"), max_length=100, blank=True, unique=True)
    mql_threshold = models.FloatField(_("MQL threshold"), default=50)
    half_life_days = models.FloatField(_("engagement half-life (days)"), default=30)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["product_line", "id"]
        verbose_name = _("scoring model")

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    FIT = "fit", _("Fit")
    ENGAGEMENT = "engagement", _("Engagement")


class RuleField(models.TextChoices):
    CONDITION = "condition", _("Condition")
    ACCOUNT_INDUSTRY = "account.industry", _("Account industry")
    ACCOUNT_REGION = "account.region", _("Account region")
    ACCOUNT_ATTRIBUTE = "account.attribute", _("Account industry attribute")
    CONTACT_TITLE = "contact.title", _("Contact job title")
    TOUCHPOINT_KIND = "touchpoint.kind", _("Touchpoint kind")


class RuleOperator(models.TextChoices):
    EQUALS = "equals", _("equals")
    CONTAINS = "contains", _("contains")
    AT_LEAST = "at_least", _("at least")


class ScoreRule(models.Model):
    """Points for a fit condition (once) or for each matching touchpoint (decaying).

    A fit rule made on the scoring page is a `condition`: one leaf of the segment builder's
    filter (a contact or account field, a custom attribute or a tag), validated by marketing's
    segment schema; `field` is then "condition". Older fit rules name a `field` directly.
    """

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=12, choices=RuleKind.choices)
    field = models.CharField(_("field"), max_length=30, choices=RuleField.choices)
    key = models.CharField(_("attribute key"), max_length=50, blank=True)
    operator = models.CharField(
        _("operator"), max_length=10, choices=RuleOperator.choices, default=RuleOperator.EQUALS
    )
    value = models.CharField(_("value"), max_length=200)
    channel = models.CharField(_("channel (engagement only)"), max_length=40, blank=True)
    condition = models.JSONField(_("condition"), default=dict, blank=True)
    points = models.FloatField(_("points"))

    class Meta:
        ordering = ["scoring_model", "kind", "id"]
        verbose_name = _("score rule")

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value}: {self.points:+g}"


class ContactScore(models.Model):
    """A contact's current scores in one score group.

    Few indexes on purpose: every rescoring rewrites every row, and each index is written too.
    The unique (contact, scoring_model) serves lookups by contact; a group's rows are found by
    a sequential scan, which a full rescoring does anyway. On PostgreSQL the table keeps free
    space in each page (fillfactor 50), so a rescoring updates rows in place (HOT updates).
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    fit = models.FloatField(_("fit"), default=0)
    engagement = models.FloatField(_("engagement"), default=0)
    total = models.FloatField(_("score"), default=0)
    probability = models.FloatField(_("conversion probability"), null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "scoring_model"], name="uniq_contact_score")
        ]
        verbose_name = _("contact score")

    def __str__(self) -> str:
        return f"{self.contact_id}/{self.scoring_model_id}: {self.total:g}"


class PredictiveModel(models.Model):
    """A trained conversion model for a score group: linear, calibrated, with its test AUC.

    `params` holds plain numbers only (no pickles): feature names, scaler means and scales, and
    per calibration fold the linear coefficients, intercept and sigmoid (a, b). The probability
    is the mean over folds of 1 / (1 + exp(a * (w·z + c) + b)) with z the scaled features.
    """

    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="predictive_models"
    )
    trained_at = models.DateTimeField(default=timezone.now)
    auc = models.FloatField(_("AUC"), null=True, blank=True)
    n_train = models.PositiveIntegerField(default=0)
    n_test = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    split_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict)
    # [{"predicted", "observed", "count", "positives"}] per decile of the test set's predictions
    calibration = models.JSONField(default=list, blank=True)
    # the probabilities it would give today's contacts: {"contacts", "bins": [{"low", ...}]}
    distribution = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scoring_model"], condition=Q(is_current=True), name="one_current_model"
            )
        ]
        verbose_name = _("predictive model")

    def __str__(self) -> str:
        return f"{self.scoring_model_id} @ {self.trained_at:%Y-%m-%d %H:%M}"


class ScoringJob(models.Model):
    """A rescoring or a training of one score group, run by a worker; its state and progress are
    saved as it goes, so a page or API request answers at once with where it stands.

    At most one queued or running job of each kind per group (a unique constraint): asking
    again while one is active gets that one. Only `tandem.leads.scoring.jobs` writes these rows.
    """

    class Kind(models.TextChoices):
        RESCORE = "rescore", _("Rescoring")
        TRAIN = "train", _("Training")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    result = models.JSONField(default=dict, blank=True)
    predictive_model = models.ForeignKey(
        PredictiveModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # heartbeat: saved at each stage

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scoring_model", "kind"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_scoring_job",
            )
        ]
        verbose_name = _("scoring job")

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of {self.scoring_model_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


# --- routing --------------------------------------------------------------------------------


class Territory(models.Model):
    """Where a lead goes when its account has no owner: by region and industry (blank = any)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="territories"
    )
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")

    def __str__(self) -> str:
        return self.name


class RepCapacity(models.Model):
    """A rep's share of round-robin routing (weight) and how many open hand-offs they take."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_capacity"
    )
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    capacity = models.PositiveIntegerField(_("capacity (open hand-offs)"), default=20)
    open_count = models.PositiveIntegerField(default=0)
    assigned_total = models.PositiveIntegerField(default=0)
    is_available = models.BooleanField(_("available"), default=True)

    class Meta:
        verbose_name = _("rep capacity")
        verbose_name_plural = _("rep capacities")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.open_count}/{self.capacity}"


class HandoffPolicy(models.Model):
    """The service level both sides agreed: hours are business hours. One row (pk=1)."""

    accept_within_hours = models.FloatField(
        _("accept or reject within (business hours)"), default=4
    )
    first_contact_within_hours = models.FloatField(
        _("first contact within (business hours)"), default=8
    )
    max_escalations = models.PositiveSmallIntegerField(
        _("re-routes before the head decides"), default=2
    )

    class Meta:
        verbose_name = _("hand-off policy")

    def __str__(self) -> str:
        return f"{self.accept_within_hours:g} h / {self.first_contact_within_hours:g} h"

    @classmethod
    def current(cls) -> HandoffPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class MqlTarget(models.Model):
    """Marketing's side of the agreement: MQLs to deliver in a month."""

    month = models.DateField(_("month (first day)"), unique=True)
    target = models.PositiveIntegerField(_("MQLs to deliver"))

    class Meta:
        ordering = ["-month"]
        verbose_name = _("MQL target")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.target}"


# --- hand-off -------------------------------------------------------------------------------


class HandoffStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for acceptance")
    ACCEPTED = "accepted", _("Accepted")
    CONTACTED = "contacted", _("Contacted")
    REJECTED = "rejected", _("Rejected")


OPEN_HANDOFF = [HandoffStatus.PENDING, HandoffStatus.ACCEPTED]


class HandoffTrigger(models.TextChoices):
    MQL = "mql", _("Reached the MQL score")
    QUOTE_REQUEST = "quote_request", _("Requested a quote")
    MANUAL = "manual", _("Handed over by marketing")


class RoutedBy(models.TextChoices):
    ACCOUNT_OWNER = "account_owner", _("Account owner")
    TERRITORY = "territory", _("Territory")
    ROUND_ROBIN = "round_robin", _("Round-robin")
    HEAD = "head", _("Assigned by the head")
    NOBODY = "nobody", _("No rep available")


class RejectionReason(models.TextChoices):
    NOT_A_FIT = "not_a_fit", _("Not our customer profile")
    NO_BUDGET = "no_budget", _("No budget")
    NO_NEED = "no_need", _("No need or interest")
    BAD_DATA = "bad_data", _("Wrong or missing contact data")
    DUPLICATE = "duplicate", _("Duplicate")
    ALREADY_CUSTOMER = "already_customer", _("Already a customer or in a deal")
    COMPETITOR = "competitor", _("Competitor or student")
    TOO_EARLY = "too_early", _("Too early: nurture further")
    OTHER = "other", _("Other")


class RejectionOutcome(models.TextChoices):
    RECYCLE = "recycle", _("Recycle into nurture")
    DISQUALIFY = "disqualify", _("Disqualify")


class Handoff(models.Model):
    """A lead handed from marketing to a sales rep, with its service-level clocks."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="handoffs")
    scoring_model = models.ForeignKey(
        ScoringModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=HandoffTrigger.choices)
    note = models.CharField(_("note"), max_length=1000, blank=True)
    source_ref = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
    )
    routed_by = models.CharField(_("routed by"), max_length=20, choices=RoutedBy.choices)
    territory = models.ForeignKey(
        Territory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("handed over"), default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    accept_due_at = models.DateTimeField(_("accept by"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    first_contact_due_at = models.DateTimeField(_("first contact by"), null=True, blank=True)
    contacted_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected"), null=True, blank=True)
    rejection_reason = models.CharField(
        _("rejection reason"), max_length=20, choices=RejectionReason.choices, blank=True
    )
    rejection_note = models.CharField(_("rejection note"), max_length=1000, blank=True)
    rejection_outcome = models.CharField(
        _("returned as"), max_length=12, choices=RejectionOutcome.choices, blank=True
    )
    breaches = models.PositiveSmallIntegerField(_("SLA breaches"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=Q(status__in=["pending", "accepted"]),
                name="one_open_handoff",
            )
        ]
        indexes = [
            models.Index(fields=["assigned_to", "status"], name="handoff_rep_status"),
            models.Index(fields=["status", "accept_due_at"], name="handoff_accept_due"),
            models.Index(fields=["status", "first_contact_due_at"], name="handoff_contact_due"),
        ]
        verbose_name = _("hand-off")

    def __str__(self) -> str:
        return f"{self.contact} → {self.assigned_to or '—'} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_HANDOFF

    @property
    def due_at(self) -> object:
        if self.status == HandoffStatus.PENDING:
            return self.accept_due_at
        if self.status == HandoffStatus.ACCEPTED:
            return self.first_contact_due_at
        return None


class HandoffEvent(models.Model):
    """What happened to a hand-off: routed, accepted, rejected, breached, re-routed."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.handoff_id}: {self.kind}"


# --- notifications --------------------------------------------------------------------------


class Notification(models.Model):
    """An in-app message to one user; the text is rendered in the recipient's language."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_notifications"
    )
    kind = models.CharField(max_length=30)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]
        verbose_name = _("notification")

    def __str__(self) -> str:
        return self.text


# --- disputes -------------------------------------------------------------------------------


class DisputeSubject(models.TextChoices):
    LEAD_QUALITY = "lead_quality", _("Lead quality")
    HANDOFF = "handoff", _("Hand-off")
    DEAL_CREDIT = "deal_credit", _("Credit for a deal")
    OWNERSHIP = "ownership", _("Ownership")


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DECIDED = "decided", _("Decided")


class DisputeOutcome(models.TextChoices):
    UPHELD = "upheld", _("Upheld: the disputing side is right")
    DISMISSED = "dismissed", _("Dismissed")
    SPLIT = "split", _("Split")


class Dispute(models.Model):
    """A disagreement between marketing and sales about a record, mediated by the head."""

    subject = models.CharField(_("about"), max_length=20, choices=DisputeSubject.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    target_label = models.CharField(_("record"), max_length=200)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(_("summary"), max_length=500)
    status = models.CharField(
        _("status"), max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="disputes"
    )
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=DisputeOutcome.choices, blank=True
    )
    decision = models.TextField(_("decision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    new_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("new owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="dispute_target")]
        verbose_name = _("dispute")

    def __str__(self) -> str:
        return f"{self.get_subject_display()}: {self.target_label}"


class DisputeMessage(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("message"))
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.body[:40]}"
