"""Stored attribution results: a cache row per (model, parameters, scope, data version).

Invariants:
- ``key`` is the SHA-256 of the canonical JSON of model, parameters, whose view of the data
  (``scope``) and the data version; one row per key (unique), so two requests computing the
  same run store it once;
- a row is never edited: new data means a new data version and so a new key;
- ``result`` is JSON produced by `tandem.attribution.services` (credits per dimension with
  bootstrap intervals, top paths, totals).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
