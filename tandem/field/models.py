"""Field work: visits to accounts, their reports and attachments, recurring visit plans per
account tier, and the offline sync log.

Invariants:
- a visit's `uuid` is made by the client (the offline web app) or the server; it is unique,
  so a visit filed twice is stored once;
- `version` counts the changes of a visit (1 when created); a change made against an older
  version is a conflict, shown and never silently applied (`services.visit_report_save`);
- a completed visit has exactly one touchpoint of the field department (`touchpoint_id` is set
  once, in the transaction that completes it);
- a sync operation (`SyncOperation.uuid`, from the client's queue) is applied at most once; a
  replay answers with the outcome recorded the first time;
- an account has at most one visit plan; its tier says how often it is visited;
- a follow-up is exactly one sales task on its rep's "My tasks" (`FollowUp.task`), made in the
  same transaction; the task alone holds its title, due day and done state.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    CHECKED_IN = "checked_in", _("Checked in")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class VisitTier(models.Model):
    """A tier of accounts and how often each is visited ("A: every 14 days")."""

    code = models.CharField(_("tier"), max_length=10, unique=True)
    every_days = models.PositiveIntegerField(_("visit every (days)"))
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class VisitPlan(models.Model):
    """A key account, its tier and the rep who visits it."""

    account = models.OneToOneField(
        "crm.Account", on_delete=models.CASCADE, related_name="visit_plan"
    )
    tier = models.ForeignKey(VisitTier, on_delete=models.PROTECT, related_name="plans")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visit_plans"
    )
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    opens = models.TimeField(_("opens"), null=True, blank=True)
    closes = models.TimeField(_("closes"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tier__code", "account__name"]

    def __str__(self) -> str:
        return f"{self.account_id} ({self.tier_id})"


class RepBase(models.Model):
    """Where a rep's working day starts and ends, and its hours (for routes)."""

    rep = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="field_base"
    )
    lat = models.FloatField(_("latitude"))
    lon = models.FloatField(_("longitude"))
    day_start = models.TimeField(_("day starts"), default="08:00")
    day_end = models.TimeField(_("day ends"), default="18:00")

    def __str__(self) -> str:
        return f"base of {self.rep_id}"


class Visit(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey("crm.Account", on_delete=models.CASCADE, related_name="visits")
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="field_visits"
    )
    planned_start = models.DateTimeField(_("planned start"), db_index=True)
    planned_end = models.DateTimeField(_("planned end"))
    status = models.CharField(
        _("status"), max_length=12, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    check_in_at = models.DateTimeField(null=True, blank=True)
    check_in_lat = models.FloatField(null=True, blank=True)
    check_in_lon = models.FloatField(null=True, blank=True)
    check_out_at = models.DateTimeField(null=True, blank=True)
    check_out_lat = models.FloatField(null=True, blank=True)
    check_out_lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)  # the site, for routes
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=20, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    report = models.JSONField(_("report"), default=dict, blank=True)  # reports.IndustryReport
    deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    touchpoint = models.ForeignKey(
        "crm.Touchpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # not Django's "field_visit": that is also the name of a channel and a touchpoint kind,
        # which the raw-SQL guard (core/tests/test_import_rules.py) would take for the table
        db_table = "field_visits"
        ordering = ["planned_start", "id"]
        indexes = [
            models.Index(fields=["rep", "planned_start"], name="visit_rep_start"),
            models.Index(fields=["account", "status", "check_out_at"], name="visit_account_done"),
        ]

    def __str__(self) -> str:
        return f"visit {self.uuid}"


class FollowUp(models.Model):
    """A task a visit leaves for its rep. Its home is the rep's "My tasks": ``task`` is the sales
    task made with it (`services.visit_report_save`, one transaction). Its title, due day and
    whether it is done are the task's, read from there and never stored here."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="follow_ups")
    task = models.OneToOneField(
        "sales.SalesTask", on_delete=models.CASCADE, related_name="field_follow_up"
    )

    class Meta:
        ordering = ["task__due_on", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return self.task.title

    @property
    def due_on(self) -> dt.date:
        return self.task.due_on

    @property
    def done_at(self) -> dt.datetime | None:
        return self.task.done_at


class Attachment(models.Model):
    """A photo or document of a visit, checked by size and by its content (not its name)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="field/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


class SyncOperation(models.Model):
    """One operation from an offline client's queue, applied once (see the module)."""

    uuid = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    visit = models.ForeignKey(Visit, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid}"
