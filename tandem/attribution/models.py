"""Stored attribution results: a cache row per (model, parameters, scope, data version), which is
also the background job that computes it.

Invariants:
- ``key`` is the SHA-256 of the canonical JSON of model, parameters, whose view of the data
  (``scope``) and the data version; one row per key (unique), so two requests for the same run
  find the same row: one job computes it, and it is stored once;
- a row is queued (asked for, ``result`` empty), running (a worker claimed it with a
  conditional UPDATE; ``progress_done`` of ``progress_total`` bootstrap replicates done,
  ``updated_at`` its heartbeat), done (``result`` written once, never edited afterwards) or
  failed (``error`` says why, in the asker's language; asking again queues it again); new data
  means a new data version and so a new key and row;
- ``result`` is JSON produced by `tandem.attribution.services` (credits per dimension with
  bootstrap intervals, top paths, totals).
- a `CreditAdjustment` is the head's decision about one deal's credit per department (shares
  that sum to 1, one per department of `tandem.core.models.Department`); it is written only by
  `services.credit_adjustment_record`, in the transaction of the dispute decision it cites, and
  never edited: a later decision about the same deal adds a row, and the newest one counts.
  Reports show it beside the model's credit; the stored runs are never changed by it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.core.models import Department


class AttributionRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Computing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    key = models.CharField(max_length=64, unique=True)
    model = models.CharField(_("model"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict)
    scope = models.CharField(max_length=40)
    data_version = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    result = models.JSONField(default=dict)
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DONE
    )
    progress_done = models.PositiveIntegerField(_("replicates done"), default=0)
    progress_total = models.PositiveIntegerField(_("replicates"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # heartbeat while running

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("attribution run")

    def __str__(self) -> str:
        return f"{self.model} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        """How far the computation is, 0 to 100 (100 only when done)."""
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))


class CreditAdjustment(models.Model):
    """The head's share of one deal's credit per department, decided in a dispute."""

    deal = models.ForeignKey(
        "sales.Deal", on_delete=models.CASCADE, related_name="credit_adjustments"
    )
    dispute = models.ForeignKey(
        "leads.Dispute", on_delete=models.CASCADE, related_name="credit_adjustments"
    )
    shares = models.JSONField(_("shares by department"), default=dict)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("credit adjustment")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.shares}"

    @property
    def share_rows(self) -> list[tuple[str, float]]:
        """(department label, share) of the departments with a share, for pages."""
        labels = dict(Department.choices)
        return [(str(labels.get(d, d)), float(v)) for d, v in self.shares.items() if v]
