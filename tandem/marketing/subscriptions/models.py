"""Subscription types and where each consent-ledger row came from.

Invariants:
- the consent ledger is ONE table, `tracking.ConsentRecord` (append-only; its `purpose` is a
  `SubscriptionType.key`); marketing adds where each row came from in `ConsentSource`
  (one row per ledger row, written in the same transaction);
- a subscription type named by the ledger is archived (`active` False), never deleted.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tandem.tracking.models import ConsentRecord


class SubscriptionType(models.Model):
    """What someone can subscribe to: newsletter, product news, events…"""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    wording = models.TextField(_("consent wording"), blank=True)
    wording_version = models.CharField(_("wording version"), max_length=40, default="1")
    double_opt_in = models.BooleanField(_("double opt-in"), default=True)
    # Archived types take no new subscriptions and are not offered to sends; they are kept
    # (never deleted once the ledger names them) so withdrawals and history still resolve.
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("subscription type")

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the current language (the seeded defaults are in the catalogue)."""
        return gettext(self.name) if self.name else ""


class ConsentSource(models.Model):
    """Where a ledger row came from (form, preference centre, unsubscribe link, complaint…)."""

    record = models.OneToOneField(
        ConsentRecord, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    source = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.source
