"""Shared goals of the revenue team: revenue, pipeline and MQLs per quarter or month.

Invariants:
- a goal covers one whole fiscal quarter or calendar month: `starts_on` is the period's first
  day and `ends_on` its last (inclusive), both derived by `tandem.insights.services`;
- one goal per (kind, period, start, team); a goal without a team is the joint goal of the whole
  revenue team (unique on its own, since NULLs are never equal in a unique index);
- a rep's quota is a revenue goal with a `user` (and no team), one per (period, start, user); its
  progress is the revenue the rep owns in deals won in the period;
- targets are not negative; an MQL target is a whole number; money is in the organisation's
  currency;
- every write goes through `tandem.insights.services` and is audited.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class GoalKind(models.TextChoices):
    REVENUE = "revenue", _("Revenue won")
    PIPELINE = "pipeline", _("Open pipeline")
    MQL = "mql", _("MQLs delivered")


class GoalPeriod(models.TextChoices):
    QUARTER = "quarter", _("Quarter")
    MONTH = "month", _("Month")


class Goal(models.Model):
    kind = models.CharField(_("goal"), max_length=10, choices=GoalKind.choices)
    period = models.CharField(_("period"), max_length=10, choices=GoalPeriod.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    team = models.ForeignKey(
        "core.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="goals",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep (quota)"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quotas",
    )
    target = models.DecimalField(_("target"), max_digits=16, decimal_places=2)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_on", "kind", "team_id", "id"]
        verbose_name = _("goal")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period", "starts_on", "team"],
                condition=Q(team__isnull=False),
                name="one_team_goal",
            ),
            models.UniqueConstraint(
                fields=["kind", "period", "starts_on"],
                condition=Q(team__isnull=True, user__isnull=True),
                name="one_joint_goal",
            ),
            models.UniqueConstraint(
                fields=["kind", "period", "starts_on", "user"],
                condition=Q(user__isnull=False),
                name="one_user_goal",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(team__isnull=True, kind="revenue"),
                name="quota_is_a_rep_revenue_goal",
            ),
            models.CheckConstraint(condition=Q(target__gte=Decimal("0")), name="goal_not_negative"),
        ]
        indexes = [models.Index(fields=["starts_on", "ends_on"], name="goal_period")]

    def __str__(self) -> str:
        return f"{self.kind} {self.period} {self.starts_on:%Y-%m-%d}: {self.target}"
