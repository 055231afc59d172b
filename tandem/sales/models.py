"""Pipelines, deals, products and price lists, quotes, and sequences (cadences) of sales work.

Invariants:
- money is `Decimal` with two places; a deal's currency is an ISO 4217 code; a quote's lines are in
  the quote's currency; a line taken from a price list keeps that list, its price and its tax rate
  as they were on the day (later changes to the list do not rewrite it);
- a deal is in exactly one stage of its own pipeline; `status` follows the stage's kind (an open
  stage: open; the won stage: won; a lost stage: lost) and `closed_at` is set exactly when closed;
- `DealStageVisit` rows of one deal do not overlap: the one with `left_at IS NULL` is the current
  stage; time in a stage is `left_at - entered_at`;
- a quote is reachable publicly only through a signed token that embeds its `public_nonce`; an
  accepted quote keeps who accepted it, when and from which address, and is never edited after;
- an enrolment performs each step at most once: the worker claims a step with a conditional UPDATE
  of `next_step`, and the rows a step creates (task, email) are unique per (enrolment, step);
- every write goes through `tandem.sales.services`; every read through `tandem.core.access`.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    CLOSED = "closed", _("Closed")
    OMITTED = "omitted", _("Omitted")


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class DealSource(models.TextChoices):
    REP = "rep", _("Sales rep")
    SELF_SERVICE = "self_service", _("Self-service")


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
    CHAMPION = "champion", _("Champion")
    INFLUENCER = "influencer", _("Influencer")
    USER = "user", _("User")
    TECHNICAL_BUYER = "technical_buyer", _("Technical buyer")
    BLOCKER = "blocker", _("Blocker")
    OTHER = "other", _("Other")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


# --- pipelines ------------------------------------------------------------------------------


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    quote_viewed_stage = models.ForeignKey(
        "sales.Stage",
        verbose_name=_("stage when a buyer first views a quote"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("pipeline")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_pipeline"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"))
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN
    )
    forecast_category = models.CharField(
        _("forecast category"),
        max_length=12,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )

    class Meta:
        ordering = ["pipeline_id", "position", "id"]
        verbose_name = _("stage")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_stage_name"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.probability}%)"


class LossReason(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("loss reason")

    def __str__(self) -> str:
        return self.name


# --- products -------------------------------------------------------------------------------


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    self_service = models.BooleanField(_("buyers may request a price online"), default=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product")

    def __str__(self) -> str:
        return self.name


class PriceList(models.Model):
    """Prices in one currency with one tax rate, offered from `valid_from` to `valid_until`
    (both days included, in the organisation's calendar; blank = open-ended). An archived
    (inactive) list, or one outside its dates, is not offered for new deal or quote lines."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    currency = models.CharField(_("currency"), max_length=3)
    is_default = models.BooleanField(_("default for its currency"), default=False)
    tax_percent = models.DecimalField(
        _("tax (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["currency", "name"]
        verbose_name = _("price list")
        constraints = [
            models.UniqueConstraint(
                fields=["currency"], condition=Q(is_default=True), name="one_default_per_currency"
            ),
            models.CheckConstraint(
                condition=Q(tax_percent__gte=0) & Q(tax_percent__lte=100),
                name="price_list_tax_percent",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="price_list_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    @staticmethod
    def valid_on(day: object) -> Q:
        """The lists offered on `day` (a date): active, and the day within their dates."""
        return (
            Q(active=True)
            & (Q(valid_from__isnull=True) | Q(valid_from__lte=day))
            & (Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        )


class Price(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="prices")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product"], name="uniq_price"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} @ {self.unit_price}"


# --- deals ----------------------------------------------------------------------------------


class Deal(models.Model):
    name = models.CharField(_("name"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    account = models.ForeignKey(
        "crm.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_deals",
    )
    amount = models.DecimalField(_("amount"), default=Decimal("0"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    price_list = models.ForeignKey(
        PriceList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    close_date = models.DateField(_("expected close date"), null=True, blank=True)
    forecast_category = models.CharField(
        _("forecast category (override)"),
        max_length=12,
        choices=ForecastCategory.choices,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN
    )
    loss_reason = models.ForeignKey(
        LossReason, null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    loss_note = models.TextField(_("loss note"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        _("source"), max_length=20, choices=DealSource.choices, default=DealSource.REP
    )
    stage_entered_at = models.DateTimeField(default=timezone.now)
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_deals"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="deal_created_id"),
            models.Index(fields=["owner", "status", "close_date"], name="deal_owner_close"),
            models.Index(fields=["pipeline", "stage"], name="deal_pipeline_stage"),
        ]
        verbose_name = _("deal")

    def __str__(self) -> str:
        return self.name


class DealContact(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="deal_contacts")
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="deal_roles")
    role = models.CharField(
        _("buying role"), max_length=20, choices=BuyingRole.choices, default=BuyingRole.OTHER
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "contact"], name="uniq_deal_contact")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} ({self.role})"


class DealLine(models.Model):
    """A product on a deal; the deal's amount is the sum of its lines when it has any."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    price_list = models.ForeignKey(
        PriceList,
        verbose_name=_("price list"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    tax_percent = models.DecimalField(
        _("tax (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class DealStageVisit(models.Model):
    """One stay of a deal in a stage: the stage history."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_visits")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["entered_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal"], condition=Q(left_at__isnull=True), name="one_current_stage_visit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} in {self.stage_id} from {self.entered_at:%Y-%m-%d %H:%M}"


# --- quotes ---------------------------------------------------------------------------------


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    VIEWED = "viewed", _("Viewed")
    ACCEPTED = "accepted", _("Accepted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Quote(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="quotes")
    number = models.CharField(_("number"), max_length=30, unique=True)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT
    )
    expires_at = models.DateTimeField(_("valid until"))
    notes = models.TextField(_("notes"), blank=True)
    public_nonce = models.CharField(max_length=64, default=new_nonce, editable=False)
    subtotal = models.DecimalField(default=Decimal("0"), max_digits=14, decimal_places=2)
    tax_total = models.DecimalField(default=Decimal("0"), max_digits=14, decimal_places=2)
    total = models.DecimalField(default=Decimal("0"), max_digits=14, decimal_places=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    first_viewed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_name = models.CharField(max_length=200, blank=True)
    accepted_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote")

    def __str__(self) -> str:
        return self.number

    def is_expired(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.status != QuoteStatus.ACCEPTED and self.expires_at <= moment  # type: ignore[operator]


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price_list = models.ForeignKey(
        PriceList,
        verbose_name=_("price list"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    tax_percent = models.DecimalField(
        _("tax (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    net = models.DecimalField(max_digits=14, decimal_places=2)
    tax = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class QuoteQuestion(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="questions")
    name = models.CharField(max_length=200)
    text = models.TextField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["asked_at", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.text[:50]}"


# --- sequences ------------------------------------------------------------------------------


class StepKind(models.TextChoices):
    EMAIL = "email", _("Automatic email")
    CALL = "call", _("Call")
    LINKEDIN = "linkedin", _("Message on LinkedIn")
    WAIT = "wait", _("Wait")


class Sequence(models.Model):
    name = models.CharField(_("name"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sequences",
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # the automation flow that runs it (one runner: automation's); its versions are the
    # sequence's published step lists
    flow = models.OneToOneField(
        "automation.Flow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sequence",
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("sequence")

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(_("kind"), max_length=10, choices=StepKind.choices)
    wait_days = models.PositiveSmallIntegerField(_("business days to wait"), default=0)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)

    class Meta:
        ordering = ["sequence_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="uniq_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.get_kind_display()}"


# Enrolments before sequences ran on automation flows: kept as history (read only). Every
# enrolment since is an automation enrolment of the sequence's flow.
class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FINISHED = "finished", _("Finished")
    STOPPED = "stopped", _("Stopped")
    # carried over to an automation flow by automation's migration 0003 (the flow runs it now)
    MOVED = "moved", _("Moved to a flow")


class StopReason(models.TextChoices):
    REPLIED = "replied", _("Replied")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Email bounced")
    MANUAL = "manual", _("Stopped by a rep")
    NO_EMAIL = "no_email", _("No email address")


class Enrolment(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrolments")
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.CASCADE, related_name="sequence_enrolments"
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrolments",
    )
    status = models.CharField(
        max_length=10, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    next_step = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        indexes = [models.Index(fields=["status", "next_run_at"], name="enrolment_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(status="active"),
                name="one_active_enrolment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.sequence_id} ({self.status})"


class TaskKind(models.TextChoices):
    CALL = "call", _("Call")
    LINKEDIN = "linkedin", _("Message on LinkedIn")
    TODO = "todo", _("To do")


class SalesTask(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_tasks"
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="sales_tasks"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    step = models.ForeignKey(
        SequenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=300)
    due_on = models.DateField(_("due"))
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["owner", "done_at", "due_on"], name="task_owner_due")]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step"], name="uniq_task_per_step")
        ]

    def __str__(self) -> str:
        return self.title
