"""Organisation, people, roles, audit log and API tokens.

Invariants:
- there is exactly one Organisation row (pk=1); `Organisation.current()` creates it on first use;
- an AuditEntry is written in the same transaction as the change it records, and never edited;
- API tokens are stored only as SHA-256 hashes of the secret; the secret is shown once.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Department(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    FIELD = "field", _("Field")
    SELF_SERVICE = "self_service", _("Self-service")


class Role(models.TextChoices):
    HEAD = "head", _("Head of sales & marketing")
    MARKETER = "marketer", _("Marketer")
    SALES_REP = "sales_rep", _("Sales rep")
    FIELD_REP = "field_rep", _("Field rep")
    ADMIN = "admin", _("Admin")


TEAM_DEPARTMENTS = [
    (Department.MARKETING.value, Department.MARKETING.label),
    (Department.SALES.value, Department.SALES.label),
    (Department.FIELD.value, Department.FIELD.label),
]


def default_business_hours() -> dict[str, list[list[str]]]:
    workday = [["09:00", "18:00"]]
    return {
        "mon": workday,
        "tue": workday,
        "wed": workday,
        "thu": workday,
        "fri": workday,
        "sat": [],
        "sun": [],
    }


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200, default="My company")
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    language = models.CharField(
        _("default language"),
        max_length=8,
        default="en",
        choices=[("en", _("English")), ("ru", _("Russian"))],
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        _("fiscal year starts in month"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    business_hours = models.JSONField(_("business hours"), default=default_business_hours)
    require_admin_two_factor = models.BooleanField(
        _("require two-factor sign-in for admins"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organisation")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> Organisation:
        org, _created = cls.objects.get_or_create(pk=1)
        return org


class Holiday(models.Model):
    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class Team(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    department = models.CharField(_("department"), max_length=20, choices=TEAM_DEPARTMENTS)
    region = models.CharField(_("region"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES_REP)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=[("en", _("English")), ("ru", _("Russian"))],
    )

    class Meta:
        verbose_name = _("user")

    def __str__(self) -> str:
        """People are shown by name: the full name, the username only when there is none."""
        return self.get_full_name() or self.username

    @property
    def sees_everything(self) -> bool:
        from tandem.core.access import can  # the permission model is built on this module

        return can(self, "see_every_record")

    @property
    def department(self) -> str | None:
        if self.role == Role.MARKETER:
            return Department.MARKETING
        if self.role == Role.SALES_REP:
            return Department.SALES
        if self.role == Role.FIELD_REP:
            return Department.FIELD
        return self.team.department if self.team else None


class LoginAttempt(models.Model):
    """Failed logins per username, for lockout; rows older than the window are ignored."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} at {self.at:%Y-%m-%d %H:%M}"


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        MERGE = "merge", _("merged")
        EXPORT = "export", _("exported")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        "core.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    model = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_id"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.action} {self.model} #{self.object_id}"


class ApiTokenScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token acting as its user, limited by scope. Only the hash is stored."""

    PREFIX = "tdm_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(
        max_length=10, choices=ApiTokenScope.choices, default=ApiTokenScope.READ
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ScheduledRun(models.Model):
    """When a periodic task (settings.PERIODIC_TASKS) next falls due; see tandem.core.schedule."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.next_run_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """A task worker's sign of life: `tandem worker` writes `seen_at` every few seconds (a thread
    beside the task it runs), so a worker killed without a word stops beating and the tasks it
    held are released (tandem.core.task_recovery)."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)
    queues = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.worker_id})"


class ExportJob(models.Model):
    """A large export made by a worker (tandem.core.export_jobs): who asked, which list with which
    filters, the format, how far it is, and the file once written.

    Invariants: only the person who asked may see it or download its file; at most one queued or
    running job per person, list, filters and format (``key``, a unique constraint over active
    jobs): asking again gets that one; the file lives under ``TANDEM_VAR_DIR/exports`` until
    ``expires_at``, when the periodic ``core.exports_expire`` deletes it (status expired); the
    headers are written in ``language`` and times in ``time_zone``, both taken at request time.
    Only `tandem.core.export_jobs` writes these rows.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Writing the file")
        DONE = "done", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="export_jobs")
    key = models.CharField(max_length=64)
    kind = models.CharField(_("list"), max_length=60)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    format = models.CharField(_("format"), max_length=10)
    language = models.CharField(_("language"), max_length=10)
    time_zone = models.CharField(_("time zone"), max_length=64)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    file_name = models.CharField(max_length=200, blank=True)  # under TANDEM_VAR_DIR/exports
    download_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # heartbeat while running
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_export_job",
            )
        ]
        verbose_name = _("export")

    def __str__(self) -> str:
        return f"{self.kind} {self.format} {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))


class RecoveryCode(models.Model):
    """One of a user's two-factor recovery codes (`core.recovery_codes`): only an HMAC-SHA256 of
    the code is stored, never the code. Belongs to the user's django-otp StaticDevice, which is
    the device a session signed in with a recovery code is verified by."""

    device = models.ForeignKey(
        "otp_static.StaticDevice", on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("recovery code")

    def __str__(self) -> str:
        return f"recovery code {self.pk} ({'used' if self.used_at else 'unused'})"
