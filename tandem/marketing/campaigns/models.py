"""Campaigns and their cost lines.

Invariants:
- a campaign's `utm_code` is a unique slug; touchpoints belong to a campaign when their
  `campaign` field equals it (the same value tracked links carry as `utm_campaign`);
- the actual cost of a campaign is the sum of its cost lines (typed or imported), never a stored
  total, so it cannot drift from the lines;
- money is Decimal with two places; amounts are never negative.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CampaignChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    BLOG = "blog", _("Blog")
    VLOG = "vlog", _("Vlog")
    YOUTUBE = "youtube", _("YouTube")
    LINKEDIN = "linkedin", _("LinkedIn")
    FACEBOOK = "facebook", _("Facebook")
    VK = "vk", _("VK")
    TELEGRAM = "telegram", _("Telegram")
    WEBINAR = "webinar", _("Webinar")
    CONFERENCE = "conference", _("Conference")
    PAID_SEARCH = "paid_search", _("Paid search")
    PAID_SOCIAL = "paid_social", _("Paid social")
    OTHER = "other", _("Other")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    goal = models.CharField(_("goal"), max_length=500, blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, default=Decimal("0"))
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    utm_code = models.SlugField(_("UTM code"), max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("campaign")

    def __str__(self) -> str:
        return self.name


class CampaignCost(models.Model):
    class Source(models.TextChoices):
        TYPED = "typed", _("Typed")
        IMPORTED = "import", _("Imported")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs")
    channel = models.CharField(_("channel"), max_length=20, choices=CampaignChannel.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    incurred_on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.TYPED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incurred_on", "id"]
        verbose_name = _("campaign cost")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="campaign_cost_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.amount}"
