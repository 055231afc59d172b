"""Social posts (LinkedIn, Facebook, YouTube, VK, Odnoklassniki, Telegram), their statistics
(imported from an export or pulled from the network's API) and the connections to the networks.

Invariants:
- a post's link is a tracked link (utm_source = the network, utm_medium social, utm_campaign =
  the campaign's code, utm_content = the post's key), so clicks become touchpoints;
- a post is published at most once: it is claimed (scheduled -> publishing) with a conditional
  UPDATE before its adapter is called;
- without credentials for its network a due post becomes `manual` ("manual publishing
  needed"); nothing calls a network without credentials;
- one statistics row per post: an import or a pull replaces the numbers it has (latest wins);
- one connection per network; its secrets are stored encrypted (`social.secrets`), never in
  clear text and never in an audit entry; only their last four characters are shown back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.marketing.campaigns.models import Campaign
from tandem.tracking.models import TrackedLink


class Network(models.TextChoices):
    LINKEDIN = "linkedin", _("LinkedIn")
    FACEBOOK = "facebook", _("Facebook")
    YOUTUBE = "youtube", _("YouTube")
    VK = "vk", _("VK")
    OK = "ok", _("Odnoklassniki")
    TELEGRAM = "telegram", _("Telegram")


class SocialPost(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHING = "publishing", _("Publishing")
        MANUAL = "manual", _("Manual publishing needed")
        PUBLISHED = "published", _("Published")
        FAILED = "failed", _("Failed")

    network = models.CharField(_("network"), max_length=12, choices=Network.choices)
    text = models.TextField(_("text"), max_length=5000)
    link_url = models.URLField(_("link"), max_length=2000, blank=True)
    tracked_link = models.ForeignKey(
        TrackedLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_posts",
    )
    scheduled_at = models.DateTimeField(_("publish at"), null=True, blank=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(_("post id on the network"), max_length=200, blank=True)
    external_url = models.URLField(_("post address"), max_length=2000, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at", "id"]
        verbose_name = _("social post")
        indexes = [models.Index(fields=["network", "external_id"], name="social_post_external")]

    def __str__(self) -> str:
        return f"{self.network}: {self.text[:40]}"

    @property
    def key(self) -> str:
        return f"{self.network}-post-{self.pk}"


class SocialPostStats(models.Model):
    post = models.OneToOneField(SocialPost, on_delete=models.CASCADE, related_name="stats")
    impressions = models.PositiveBigIntegerField(_("impressions"), default=0)
    clicks = models.PositiveBigIntegerField(_("clicks"), default=0)
    reactions = models.PositiveBigIntegerField(_("reactions"), default=0)
    imported_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.post_id}: {self.impressions}/{self.clicks}/{self.reactions}"


class SocialConnection(models.Model):
    """Credentials of one network, entered on the connections page (they win over settings)."""

    network = models.CharField(_("network"), max_length=12, choices=Network.choices, unique=True)
    account_id = models.CharField(_("account, page or group id"), max_length=200)
    display_name = models.CharField(_("name"), max_length=200, blank=True)
    application_key = models.CharField(_("application key"), max_length=200, blank=True)
    credentials = models.TextField(blank=True)  # Fernet token of a JSON object of the secrets
    secret_hint = models.CharField(max_length=8, blank=True)  # the token's last four characters
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    credentials_changed_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    check_ok = models.BooleanField(null=True)
    check_message = models.CharField(max_length=500, blank=True)
    stats_pulled_at = models.DateTimeField(null=True, blank=True)
    stats_error = models.CharField(max_length=500, blank=True)
    stats_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["network"]
        verbose_name = _("social network connection")

    def __str__(self) -> str:
        return f"{self.network}: {self.display_name or self.account_id}"
