"""Content assets: blog posts, vlogs, YouTube videos, whitepapers, case studies, decks, price lists.

Invariants:
- an asset's `key` is a unique slug; its engagement is the touchpoints whose `content` equals
  it (views, downloads, and clicks on its tracked links, which carry it as `utm_content`);
- the asset's tracked link is created through tracking's link service and points at the
  asset's URL with utm_campaign (the campaign's code), utm_content (the key) and utm_source;
- sales reads the same library (`scopes.content_rule`): reps view, marketing changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.marketing.campaigns.models import Campaign
from tandem.tracking.models import TrackedLink


class AssetKind(models.TextChoices):
    BLOG_POST = "blog_post", _("Blog post")
    VLOG = "vlog", _("Vlog")
    YOUTUBE_VIDEO = "youtube_video", _("YouTube video")
    WHITEPAPER = "whitepaper", _("Whitepaper")
    CASE_STUDY = "case_study", _("Case study")
    DECK = "deck", _("Deck")
    PRICE_LIST = "price_list", _("Price list")


# The touchpoint channel of each kind's engagement (tracking's channel rules use the same names).
KIND_CHANNEL = {
    AssetKind.BLOG_POST: "blog",
    AssetKind.VLOG: "vlog",
    AssetKind.YOUTUBE_VIDEO: "youtube",
}


class ContentAsset(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=AssetKind.choices)
    title = models.CharField(_("title"), max_length=200)
    key = models.SlugField(_("content key"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=1000, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assets",
    )
    tracked_link = models.ForeignKey(
        TrackedLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    archived = models.BooleanField(_("archived"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("content asset")

    def __str__(self) -> str:
        return self.title

    @property
    def channel(self) -> str:
        return KIND_CHANNEL.get(AssetKind(self.kind), "content")
