"""Programmes of the field: product trainings, field trials, loyalty programmes (points, tiers,
rewards and trips) and transfers of value to healthcare professionals (medical compliance).

Invariants:
- `PointsEntry` is append-only: rows are only inserted (a correction is a new `reverse` entry);
  for every membership, `balance` equals the sum of its entries' `points`, each entry's
  `balance_after` is the running sum up to it, and neither is ever negative;
- an earning is unique per (membership, source key): the same won deal line, training or event
  attendance earns once however often it is offered;
- a certificate is reachable publicly only through its random `certificate_token` (192 bits);
- a transfer of value is recorded only after the organisation's rules for its country allowed it;
  a blocking rule refuses it and names itself;
- every write goes through the service modules (`loyalty`, `compliance`, `trainings`, `trials`);
  every read of account-bound rows through `tandem.core.access` (rules in `scopes.py`).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_token() -> str:
    return secrets.token_urlsafe(24)


# --- trainings --------------------------------------------------------------------------------


class SessionMode(models.TextChoices):
    ON_SITE = "on_site", _("On site")
    CENTRE = "centre", _("At a training centre")
    ONLINE = "online", _("Online")


class Curriculum(models.Model):
    product = models.ForeignKey("sales.Product", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    modules = models.TextField(_("modules (one a line)"), blank=True)
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=70, validators=[MaxValueValidator(100)]
    )
    valid_months = models.PositiveSmallIntegerField(
        _("certificate valid for (months)"), default=24, validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("curriculum")

    def __str__(self) -> str:
        return self.name


class TrainingSession(models.Model):
    curriculum = models.ForeignKey(Curriculum, on_delete=models.PROTECT, related_name="sessions")
    mode = models.CharField(_("mode"), max_length=10, choices=SessionMode.choices)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    location = models.CharField(_("place or link"), max_length=300, blank=True)
    host_account = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    capacity = models.PositiveIntegerField(_("capacity"), default=20)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.curriculum} {self.starts_at:%Y-%m-%d}"


class AttendanceStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("Did not come")


class Attendance(models.Model):
    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="attendances"
    )
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        "crm.Account", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AttendanceStatus.choices,
        default=AttendanceStatus.REGISTERED,
    )
    score = models.PositiveSmallIntegerField(
        _("assessment (%)"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    passed = models.BooleanField(default=False)
    certificate_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    certified_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "contact"], name="attendance_once_per_session"
            )
        ]
        indexes = [models.Index(fields=["expires_on", "reminder_sent_at"], name="cert_expiry")]

    def __str__(self) -> str:
        return f"{self.contact} @ {self.session}"


# --- field trials -----------------------------------------------------------------------------


class PlotArm(models.TextChoices):
    PRODUCT = "product", _("Product")
    USUAL = "usual", _("Farmer's usual practice")


class FieldTrial(models.Model):
    account = models.ForeignKey("crm.Account", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("sales.Product", on_delete=models.PROTECT, related_name="+")
    crop = models.CharField(_("crop"), max_length=100)
    season = models.PositiveSmallIntegerField(_("season (year)"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-season", "-id"]

    def __str__(self) -> str:
        return f"{self.product} / {self.crop} {self.season}"


class TrialPlot(models.Model):
    trial = models.ForeignKey(FieldTrial, on_delete=models.CASCADE, related_name="plots")
    arm = models.CharField(_("arm"), max_length=10, choices=PlotArm.choices)
    area_ha = models.DecimalField(_("area (ha)"), max_digits=10, decimal_places=3)
    sown_on = models.DateField(_("sown"))
    harvested_on = models.DateField(_("harvested"), null=True, blank=True)
    yield_t = models.DecimalField(
        _("yield (t)"), max_digits=12, decimal_places=3, null=True, blank=True
    )

    class Meta:
        ordering = ["trial_id", "arm", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(area_ha__gt=0), name="plot_area_positive")
        ]

    def __str__(self) -> str:
        return f"{self.get_arm_display()} {self.area_ha} ha"


# --- loyalty ----------------------------------------------------------------------------------


class EarnSource(models.TextChoices):
    PURCHASE = "purchase", _("Purchase (won deal line)")
    TRAINING = "training", _("Training completed")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event attendance")


class CapPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class LoyaltyProgramme(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    points_valid_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"), default=24, validators=[MinValueValidator(1)]
    )
    tier_window_months = models.PositiveSmallIntegerField(
        _("tiers count points of the last (months)"), default=12, validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class EarningRule(models.Model):
    programme = models.ForeignKey(LoyaltyProgramme, on_delete=models.CASCADE, related_name="rules")
    source = models.CharField(_("earns for"), max_length=10, choices=EarnSource.choices)
    points = models.PositiveIntegerField(
        _("points (per event, or per currency unit of a purchase)")
    )
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cap_points = models.PositiveIntegerField(_("cap (points per period)"), null=True, blank=True)
    cap_period = models.CharField(
        _("cap period"), max_length=8, choices=CapPeriod.choices, default=CapPeriod.YEAR
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["programme_id", "source", "id"]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.points}"


class Tier(models.Model):
    programme = models.ForeignKey(LoyaltyProgramme, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(_("name"), max_length=100)
    threshold = models.PositiveIntegerField(_("points earned to reach"))
    valid_months = models.PositiveSmallIntegerField(
        _("kept for (months) once reached"), default=12, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["programme_id", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "threshold"], name="tier_threshold_once")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    programme = models.ForeignKey(
        LoyaltyProgramme, on_delete=models.CASCADE, related_name="members"
    )
    account = models.ForeignKey("crm.Account", on_delete=models.CASCADE, related_name="+")
    country = models.CharField(_("country (ISO code)"), max_length=2)
    joined_at = models.DateTimeField(default=timezone.now)
    balance = models.IntegerField(default=0)
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier_expires_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["programme_id", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "account"], name="membership_once"),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="membership_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.programme}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    REVERSE = "reverse", _("Reversed")


class PointsEntry(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.IntegerField()
    occurred_at = models.DateTimeField(default=timezone.now)
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_key = models.CharField(max_length=80, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="reversals"
    )
    redemption = models.ForeignKey(
        "Redemption", null=True, blank=True, on_delete=models.RESTRICT, related_name="entries"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["membership_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "source_key"],
                condition=Q(kind="earn") & ~Q(source_key=""),
                name="earn_once_per_source",
            ),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="reversed_once"
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="entry_balance_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["membership", "kind", "occurred_at"], name="entry_kind_time")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"


class RewardKind(models.TextChoices):
    MERCHANDISE = "merchandise", _("Merchandise")
    SERVICE = "service", _("Service or discount")
    TRIP = "trip", _("Trip")


class Nature(models.TextChoices):
    """The nature of a benefit, as compliance rules and disclosure reports name it."""

    GIFT = "gift", _("Gift")
    MEAL = "meal", _("Food and beverage")
    TRAVEL = "travel", _("Travel and lodging (professional event)")
    LEISURE_TRAVEL = "leisure_travel", _("Leisure travel")
    FEE = "fee", _("Fee for service or consultancy")
    EDUCATION = "education", _("Education or registration fee")
    GRANT = "grant", _("Donation or grant")
    SAMPLE = "sample", _("Product sample")


class Reward(models.Model):
    programme = models.ForeignKey(
        LoyaltyProgramme, on_delete=models.CASCADE, related_name="rewards"
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=RewardKind.choices)
    nature = models.CharField(_("nature of the benefit"), max_length=16, choices=Nature.choices)
    points_cost = models.PositiveIntegerField(_("points (per traveller for a trip)"))
    unit_cost = models.DecimalField(
        _("cost to us (per traveller)"), max_digits=12, decimal_places=2, default=0
    )
    destination = models.CharField(_("destination"), max_length=200, blank=True)
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    capacity = models.PositiveIntegerField(_("places (travellers)"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["programme_id", "points_cost", "id"]

    def __str__(self) -> str:
        return self.name


class RedemptionStatus(models.TextChoices):
    REQUESTED = "requested", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Redemption(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    travellers = models.ManyToManyField("crm.Contact", blank=True, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    points = models.PositiveIntegerField()
    cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(
        max_length=10, choices=RedemptionStatus.choices, default=RedemptionStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reward} x{self.quantity}"


# --- medical compliance -----------------------------------------------------------------------


class RecipientKind(models.TextChoices):
    HCP = "hcp", _("Healthcare professional")
    HCO = "hco", _("Healthcare organisation")


class RuleEffect(models.TextChoices):
    BLOCK = "block", _("Forbidden")
    DISCLOSE = "disclose", _("Must be disclosed")


class ComplianceRule(models.Model):
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country (ISO code)"), max_length=2)
    nature = models.CharField(
        _("nature (blank: every kind)"), max_length=16, choices=Nature.choices, blank=True
    )
    recipient_kind = models.CharField(
        _("recipient (blank: both)"), max_length=3, choices=RecipientKind.choices, blank=True
    )
    effect = models.CharField(_("effect"), max_length=8, choices=RuleEffect.choices)
    reference = models.CharField(_("legal reference"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["country", "effect", "name", "id"]

    def __str__(self) -> str:
        return self.name


class TransferOfValue(models.Model):
    recipient_kind = models.CharField(max_length=3, choices=RecipientKind.choices)
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey("crm.Account", on_delete=models.PROTECT, related_name="+")
    country = models.CharField(max_length=2)
    nature = models.CharField(max_length=16, choices=Nature.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    occurred_on = models.DateField()
    description = models.CharField(max_length=300, blank=True)
    redemption = models.ForeignKey(
        Redemption, null=True, blank=True, on_delete=models.RESTRICT, related_name="transfers"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["country", "occurred_on"], name="tov_country_date")]
        verbose_name = _("transfer of value")
        verbose_name_plural = _("transfers of value")

    def __str__(self) -> str:
        return f"{self.get_nature_display()} {self.value} {self.currency}"
