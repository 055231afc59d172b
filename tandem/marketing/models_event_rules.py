"""Rules that turn event registrants into leads, and what each rule did to each registration.

Invariants:
- a rule belongs to one event, or (with no event) to every event of one kind; an event's own
  rule wins over its kind's rule (`events.rules.rule_for`);
- `EventLeadOutcome` is one row per registration, inserted before anything changes (unique on
  the registration): a registration is handled once, however often the rule runs, so a second
  run moves no stage and opens no second hand-off.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import Handoff, ScoringModel
from tandem.marketing.models_events import EventKind, MarketingEvent, Registration


class RegistrationStatus(models.TextChoices):
    """Where a registration stands; exactly one applies to each registration."""

    REGISTERED = "registered", _("Registered (no attendance recorded)")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("No-show")


def default_statuses() -> list[str]:
    return [RegistrationStatus.ATTENDED]


class EventLeadRule(models.Model):
    event = models.OneToOneField(
        MarketingEvent,
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="lead_rule",
    )
    event_kind = models.CharField(
        _("for every event of kind"), max_length=12, choices=EventKind.choices, blank=True
    )
    statuses = models.JSONField(_("qualifying statuses"), default=default_statuses)
    min_minutes = models.PositiveIntegerField(_("minimum minutes attended"), null=True, blank=True)
    min_score = models.FloatField(_("minimum score"), null=True, blank=True)
    scoring_model = models.ForeignKey(
        ScoringModel,
        verbose_name=_("score group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    stage = models.CharField(
        _("lifecycle stage to set"),
        max_length=20,
        choices=LifecycleStage.choices,
        blank=True,
        default=LifecycleStage.LEAD,
    )
    lead_source = models.CharField(_("lead source"), max_length=60, blank=True)
    handoff = models.BooleanField(_("hand off to sales"), default=False)
    auto = models.BooleanField(_("run after each attendance or badge import"), default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("event lead rule")
        constraints = [
            models.CheckConstraint(
                condition=(Q(event__isnull=False) & Q(event_kind=""))
                | (Q(event__isnull=True) & ~Q(event_kind="")),
                name="lead_rule_event_xor_kind",
            ),
            models.UniqueConstraint(
                fields=["event_kind"],
                condition=Q(event__isnull=True),
                name="uniq_lead_rule_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"lead rule {self.event_id or self.event_kind}"


class EventLeadOutcome(models.Model):
    registration = models.OneToOneField(
        Registration, on_delete=models.CASCADE, related_name="lead_outcome"
    )
    rule = models.ForeignKey(
        EventLeadRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="outcomes"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    moved_to = models.CharField(max_length=20, blank=True)
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_source = models.CharField(max_length=60, blank=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"lead outcome of registration {self.registration_id}"
