"""Webinars and conferences: events, registrations, invitations sent, reminders, and the rules
that turn registrants into leads (with what each rule did to each registration).

Invariants:
- an event's `uid` never changes; its `sequence` (RFC 5545 SEQUENCE) only grows: every change
  attendees must see (time, place, title, cancellation) raises it by one, and the invitation is
  re-sent with the new value;
- one registration per (event, email); a registration belongs to a contact;
- `InvitationSent` has one row per (registration, sequence, method): a row is inserted before the
  message is sent (deleted again if sending fails), so a retried task never mails the same
  version of an invitation twice;
- a reminder is claimed with a conditional UPDATE (`claimed_at` NULL -> now) before it is sent:
  two workers never send the same reminder;
- `attended` is NULL until attendance is known, then True (attended) or False (no-show);
- a lead rule belongs to one event, or (with no event) to every event of one kind; an event's own
  rule wins over its kind's rule (`events.rules.rule_for`);
- `EventLeadOutcome` is one row per registration, inserted before anything changes (unique on
  the registration): a registration is handled once, however often the rule runs, so a second
  run moves no stage and opens no second hand-off.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import Handoff, ScoringModel
from tandem.marketing.campaigns.models import Campaign


def new_uid() -> str:
    return f"{uuid.uuid4()}@tandem"


def default_reminders() -> list[int]:
    return [24, 1]


class EventKind(models.TextChoices):
    WEBINAR = "webinar", _("Webinar")
    CONFERENCE = "conference", _("Conference")


class MarketingEvent(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=12, choices=EventKind.choices)
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("registration address"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    location = models.CharField(_("location"), max_length=300, blank=True)
    join_url = models.URLField(_("join link"), max_length=1000, blank=True)
    organizer_name = models.CharField(_("organizer name"), max_length=100)
    organizer_email = models.EmailField(_("organizer email"))
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    reminder_hours = models.JSONField(_("reminders (hours before)"), default=default_reminders)
    uid = models.CharField(max_length=200, unique=True, default=new_uid, editable=False)
    sequence = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("event")

    def __str__(self) -> str:
        return self.title

    PHASES = {
        "upcoming": _("Upcoming"),
        "live": _("Live now"),
        "held": _("Held"),
        "cancelled": _("Cancelled"),
    }

    @property
    def phase(self) -> str:
        """Where the event is now: upcoming, live, held (its end has passed) or cancelled; the
        stored status says only scheduled or cancelled, the clock says the rest."""
        if self.status == self.Status.CANCELLED:
            return "cancelled"
        now = timezone.now()
        if self.ends_at <= now:
            return "held"
        return "live" if self.starts_at <= now else "upcoming"

    @property
    def phase_label(self) -> str:
        return str(self.PHASES[self.phase])


class Registration(models.Model):
    class Source(models.TextChoices):
        PAGE = "page", _("Registration page")
        IMPORT = "import", _("Attendance import")
        BADGE = "badge", _("Badge scan")
        STAFF = "staff", _("Added by staff")

    event = models.ForeignKey(
        MarketingEvent, on_delete=models.CASCADE, related_name="registrations"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="event_registrations"
    )
    email = models.CharField(_("email"), max_length=254)
    name = models.CharField(_("name"), max_length=200, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PAGE)
    registered_at = models.DateTimeField(default=timezone.now)
    attended = models.BooleanField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["registered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "email"], name="uniq_event_registration")
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.event_id}"


class InvitationSent(models.Model):
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="invitations"
    )
    sequence = models.PositiveIntegerField()
    method = models.CharField(max_length=10)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "sequence", "method"], name="uniq_invitation_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.sequence} to {self.registration_id}"


class EventReminder(models.Model):
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="reminders"
    )
    hours_before = models.PositiveIntegerField()
    due_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "hours_before"], name="uniq_reminder_per_offset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hours_before} h before, registration {self.registration_id}"


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
