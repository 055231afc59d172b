"""Stored attribution results: a cache row per (model, parameters, scope, data version).

Invariants:
- ``key`` is the SHA-256 of the canonical JSON of model, parameters, whose view of the data
  (``scope``) and the data version; one row per key (unique), so two requests computing the
  same run store it once;
- a row is never edited: new data means a new data version and so a new key;
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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("attribution run")

    def __str__(self) -> str:
        return f"{self.model} {self.created_at:%Y-%m-%d %H:%M}"


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
