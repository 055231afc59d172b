"""Sources with write keys, channel rules, tracked links, forms, consent records, identity log.

Invariants:
- a write key is shown once; only its SHA-256 hash is stored; a revoked source authenticates
  nothing;
- channel rules are versioned: a rule set is never edited after it is published; the rule set with
  the highest version is the one in force; publishing a new one reclassifies past touchpoints;
- a `ReclassifyRun` records each reclassification (version, progress, status); at most one run
  per version is queued or running (partial unique constraint); only
  `tandem.tracking.reclassify` and `tandem.tracking.services` write it;
- a tracked link redirects only to the destination stored with it (no open redirect); its token
  is random (128 bits) and unguessable;
- consent records and identity conflicts are append-only (services create them, nothing edits).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.core.models import Department
from tandem.crm.models import Account, Contact


def hash_write_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Source(models.Model):
    """Where events come from: one website, blog, app or server, with its own write key."""

    class Kind(models.TextChoices):
        WEBSITE = "website", _("Website")
        BLOG = "blog", _("Blog")
        APP = "app", _("App")
        SERVER = "server", _("Server")

    PREFIX = "tdw_"

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WEBSITE)
    key_prefix = models.CharField(_("key starts with"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def new_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(24)


class ChannelRuleSet(models.Model):
    """One published version of the channel rules."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name = _("channel rule set")

    def __str__(self) -> str:
        return f"v{self.version}"


class ReclassifyRun(models.Model):
    """One pass of reclassification over the stored touchpoints under rule set `version` (0: the
    defaults). Progress is saved between chunks; `cancel_requested` is read between chunks."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        SUPERSEDED = "superseded", _("Stopped: newer rules were published")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    version = models.PositiveIntegerField(_("rules version"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total = models.PositiveBigIntegerField(_("touchpoints to check"), default=0)
    processed = models.PositiveBigIntegerField(_("touchpoints checked"), default=0)
    changed = models.PositiveBigIntegerField(_("touchpoints changed"), default=0)
    # The last touchpoint id visited: where a run taken over after its process died goes on.
    last_id = models.PositiveBigIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # heartbeat: saved after each chunk

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=models.Q(status__in=["queued", "running"]),
                name="uniq_active_reclassify_run",
            )
        ]
        verbose_name = _("reclassification run")

    def __str__(self) -> str:
        return f"reclassification {self.pk} (v{self.version})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, self.processed * 100 // self.total) if self.total else 0


class ChannelRule(models.Model):
    """First matching rule wins. Each non-empty pattern is a case-insensitive regular expression
    that must match (search) its input; empty patterns match anything."""

    ruleset = models.ForeignKey(ChannelRuleSet, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(_("position"))
    source_kind = models.CharField(_("source kind"), max_length=100, blank=True)
    utm_source = models.CharField(_("source (utm_source)"), max_length=300, blank=True)
    utm_medium = models.CharField(_("medium (utm_medium)"), max_length=300, blank=True)
    utm_campaign = models.CharField(_("campaign (utm_campaign)"), max_length=300, blank=True)
    referrer = models.CharField(_("referrer host"), max_length=300, blank=True)
    event = models.CharField(_("event"), max_length=300, blank=True)
    channel = models.CharField(_("channel"), max_length=40)
    department = models.CharField(_("department"), max_length=20, choices=Department.choices)

    class Meta:
        ordering = ["ruleset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "position"], name="uniq_rule_position")
        ]
        verbose_name = _("channel rule")

    def __str__(self) -> str:
        return f"{self.position}: {self.channel} / {self.department}"


class GroupBinding(models.Model):
    """A Segment groupId of a source, bound to a Tandem account."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    group_id = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "group_id"], name="uniq_group_binding")
        ]

    def __str__(self) -> str:
        return self.group_id


class IdentityConflict(models.Model):
    """A userId claimed by a second email: the first claim kept, this row for a human to review."""

    user_id = models.CharField(max_length=200, db_index=True)
    kept_contact = models.ForeignKey(
        Contact, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_email = models.CharField(max_length=254)
    message_id = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("identity conflict")

    def __str__(self) -> str:
        return f"{self.user_id} / {self.claimed_email}"


def new_link_token() -> str:
    return secrets.token_urlsafe(16)


class TrackedLink(models.Model):
    token = models.CharField(max_length=40, unique=True, default=new_link_token, editable=False)
    destination = models.URLField(_("destination"), max_length=2000)
    utm_source = models.CharField("utm_source", max_length=100, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=100, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=100, blank=True)
    utm_content = models.CharField("utm_content", max_length=100, blank=True)
    utm_term = models.CharField("utm_term", max_length=100, blank=True)
    sharer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shared by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shared_links",
    )
    is_trap = models.BooleanField(
        _("trap link"),
        default=False,
        help_text=_("Hidden in emails: only scanners click it, so its clicks are bots."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tracked link")

    def __str__(self) -> str:
        return f"/l/{self.token} → {self.destination[:80]}"


class Form(models.Model):
    """An embeddable form. `fields` is a list of {name, label, type, required}; `email` is
    always present. Consent wording is versioned by `consent_version` (changing the wording
    gives it a new version). `source` is where the form is placed; `redirect_url` where a
    visitor goes after a browser submission."""

    key = models.CharField(max_length=40, unique=True, default=new_link_token, editable=False)
    name = models.CharField(_("name"), max_length=200)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    consent_purpose = models.CharField(_("consent purpose"), max_length=100, blank=True)
    consent_wording = models.TextField(_("consent wording"), blank=True)
    consent_version = models.CharField(_("consent wording version"), max_length=40, blank=True)
    double_opt_in = models.BooleanField(_("double opt-in"), default=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    success_message = models.CharField(_("success message"), max_length=300, blank=True)
    source = models.ForeignKey(
        Source,
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="forms",
        help_text=_("The website or app the form is placed on."),
    )
    redirect_url = models.URLField(
        _("page after sending"),
        max_length=2000,
        blank=True,
        help_text=_("Where a visitor goes after a successful submission (http or https)."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("form")

    def __str__(self) -> str:
        return self.name


class AppendOnly(Exception):
    """Raised on an attempt to change or delete a consent record."""


class ConsentRecordQuerySet(models.QuerySet["ConsentRecord"]):
    """Refuses bulk changes except moving rows to another contact (a merge)."""

    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - {"contact", "contact_id"}:
            raise AppendOnly("consent records are append-only: record a new one instead")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("consent records are append-only; they go only with their contact")


class ConsentRecord(models.Model):
    """Append-only evidence of consent: what was agreed, when, from where.

    Invariants: a stored record is never changed or deleted through the ORM (`save` of a stored
    row, `delete`, and `QuerySet.update`/`delete` raise `AppendOnly`); a change of mind is a new
    record. The only exceptions: a merge moves rows to the surviving contact (an update of
    `contact` alone), and erasing a contact takes its records with it (the cascade).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Awaiting confirmation")
        GRANTED = "granted", _("Granted")
        CONFIRMED = "confirmed", _("Confirmed by email")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_records")
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL)
    purpose = models.CharField(max_length=100)
    wording = models.TextField(blank=True)
    wording_version = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=State.choices)
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("consent record")

    def __str__(self) -> str:
        return f"{self.purpose}: {self.state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("consent records are append-only: record a new one instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("consent records are append-only; they go only with their contact")
