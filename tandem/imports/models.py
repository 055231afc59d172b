"""Import jobs and what each imported row did.

Invariants:
- an `ImportJob` holds its file (under MEDIA_ROOT), the column mapping (column index as text ->
  target field) and its progress; only `tandem.imports.services` writes it;
- an `ImportRow` exists for every record a real run created or updated, with the values the
  updated fields had before, so an undo can delete what was created and restore what was changed;
- the per-row report (`report`) lists `[row number, field, message]` for every rejected row;
- an `ImportChunk` is written in the same transaction as the records of its rows (real runs
  only): the rows a run has committed are exactly those of the job's chunks, which is where an
  interrupted import resumes (`run_number` tells a resumed run's task from the dead one's).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    ACCOUNTS = "accounts", _("Accounts")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    CHECKED = "checked", _("Dry run done")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("File could not be read")
    UNDONE = "undone", _("Undone")
    INTERRUPTED = "interrupted", pgettext_lazy("import status", "Interrupted")


class ImportJob(models.Model):
    kind = models.CharField(_("kind"), max_length=10, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    mapping = models.JSONField(_("mapping"), default=dict)
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_jobs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    # Columns that map to no field are kept as custom attributes (defined as optional text).
    keep_unmapped = models.BooleanField(
        _("keep unmapped columns as custom attributes"), default=False
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    report = models.JSONField(default=list, blank=True)
    # Each start or resume is a new run; its task carries the number and does nothing once a
    # newer run exists.
    run_number = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # beaten while a run goes
    interrupted_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.original_name}"


class ImportRow(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    model = models.CharField(max_length=20)  # "contact" or "account"
    object_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    before = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "row_number"])]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.action} {self.model} {self.object_id}"


class ImportChunk(models.Model):
    """The rows `first_row`..`last_row` of a real run, committed together with their records."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    first_row = models.PositiveIntegerField()
    last_row = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)  # rejected rows
    report = models.JSONField(default=list, blank=True)  # [row number, field, message]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "first_row"], name="uniq_import_chunk_start")
        ]

    def __str__(self) -> str:
        return f"rows {self.first_row}-{self.last_row}"
