"""Sales enablement: the collateral library, shares with buyers and their views, ratings,
content requests, the voice of the customer, and marketers who join sales meetings.

Invariants:
- an asset's `key` is a unique slug and is the `content` of every touchpoint about it (shares,
  buyer views, joint touches), so attribution and marketing's engagement read it like any content;
- an asset's versions are numbered 1, 2, … without gaps (unique per asset); a share points at the
  version current when it was made, so the buyer sees what the rep sent;
- an expired asset (`expires_on` before today in the organisation's time zone) cannot be shared;
- a share's `token` is random (not derived from ids) and unique; the public viewer knows nothing
  else about the share;
- a buyer's view is one `ShareView` row whose touchpoint (kind `collateral_viewed`, actor = the
  rep who shared) is written once when the view opens; seconds per page are counted on
  `ShareViewPage` rows with `F()` increments and each ping is capped;
- a voice-of-the-customer tag names its source by (kind, id) once per theme (unique), and counts
  only when a person has confirmed it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.crm.models import Account, Contact, Industry


class AssetKind(models.TextChoices):
    CASE_STUDY = "case_study", _("Case study")
    DECK = "deck", _("Deck")
    PRICE_LIST = "price_list", _("Price list")
    PRODUCT_SHEET = "product_sheet", _("Product sheet")
    VIDEO = "video", _("Video")
    OTHER = "other", _("Other")


class SalesStage(models.TextChoices):
    DISCOVERY = "discovery", _("Discovery")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    ONBOARDING = "onboarding", _("Onboarding")


class Persona(models.TextChoices):
    ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
    TECHNICAL_BUYER = "technical_buyer", _("Technical buyer")
    USER = "user", _("User")
    CHAMPION = "champion", _("Champion")


class Language(models.TextChoices):
    EN = "en", _("English")
    RU = "ru", _("Russian")


class Asset(models.Model):
    key = models.SlugField(_("key"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), max_length=4000, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=AssetKind.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    product = models.CharField(_("product"), max_length=120, blank=True)
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, blank=True)
    stage = models.CharField(_("stage"), max_length=20, choices=SalesStage.choices, blank=True)
    persona = models.CharField(_("persona"), max_length=20, choices=Persona.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    search_text = models.TextField(blank=True)  # stems of title/description, both languages
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("collateral asset")

    def __str__(self) -> str:
        return self.title

    def is_expired(self, today: object) -> bool:
        return self.expires_on is not None and self.expires_on < today  # type: ignore[operator]


class AssetVersion(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    url = models.URLField(_("file address"), max_length=2000)
    pages = models.PositiveSmallIntegerField(_("pages"), default=1)
    note = models.CharField(_("what changed"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "number"], name="enablement_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.asset} v{self.number}"


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Share(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="shares")
    version = models.ForeignKey(AssetVersion, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=40, unique=True, default=new_token)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.asset} → {self.contact}"


class ShareView(models.Model):
    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="views")
    visit = models.CharField(max_length=40, unique=True, default=new_token)
    touchpoint_id = models.BigIntegerField(null=True)
    opened_at = models.DateTimeField(default=timezone.now)
    seconds = models.PositiveIntegerField(default=0)
    is_bot = models.BooleanField(default=False)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"{self.share} ({self.opened_at:%Y-%m-%d})"


class ShareViewPage(models.Model):
    view = models.ForeignKey(ShareView, on_delete=models.CASCADE, related_name="pages")
    page = models.PositiveSmallIntegerField()
    seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["page"]
        constraints = [
            models.UniqueConstraint(fields=["view", "page"], name="enablement_page_once")
        ]

    def __str__(self) -> str:
        return f"page {self.page}: {self.seconds} s"


class RatingReason(models.TextChoices):
    WRONG_INDUSTRY = "wrong_industry", _("Wrong industry")
    OUTDATED_PRICE = "outdated_price", _("Outdated price")
    TOO_TECHNICAL = "too_technical", _("Too technical")
    MISSING_LANGUAGE = "missing_language", _("Missing language")
    TOO_LONG = "too_long", _("Too long")
    CONVINCING = "convincing", _("Convincing for buyers")
    OTHER = "other", _("Other")


class Rating(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="ratings")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stars = models.PositiveSmallIntegerField(_("stars"))
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stars__gte=1, stars__lte=5), name="enablement_stars_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.asset}: {self.stars}"


class RequestStatus(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    PLANNED = "planned", _("Planned")
    DELIVERED = "delivered", _("Delivered")
    DECLINED = "declined", _("Declined")


class ContentRequest(models.Model):
    title = models.CharField(_("what is needed"), max_length=200)
    detail = models.TextField(_("detail"), max_length=2000, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=AssetKind.choices, blank=True)
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.NEW
    )
    due_on = models.DateField(_("due on"), null=True, blank=True)
    asset = models.ForeignKey(Asset, null=True, on_delete=models.SET_NULL, related_name="requests")
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ThemeKind(models.TextChoices):
    OBJECTION = "objection", _("Objection")
    PAIN = "pain", _("Pain point")
    COMPETITOR = "competitor", _("Competitor")
    FEATURE_REQUEST = "feature_request", _("Feature request")


class Theme(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=ThemeKind.choices)
    name = models.CharField(_("name"), max_length=120, unique=True)
    keywords = models.CharField(
        _("keywords (English and Russian, comma-separated)"), max_length=1000, blank=True
    )
    answers = models.ManyToManyField(Asset, blank=True, related_name="answers_themes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class SourceKind(models.TextChoices):
    NOTE = "note", _("Call or meeting note")
    VISIT = "visit", _("Visit report")
    LOSS = "loss", _("Lost-deal reason")
    DISPUTE = "dispute", _("Dispute thread")
    INSIGHT = "insight", _("Marketer's insight")


class TagStatus(models.TextChoices):
    SUGGESTED = "suggested", _("Suggested")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


class VocTag(models.Model):
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="tags")
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    source_id = models.BigIntegerField()
    account = models.ForeignKey(Account, null=True, on_delete=models.SET_NULL, related_name="+")
    excerpt = models.CharField(max_length=300)
    said_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=TagStatus.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-said_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["theme", "source_kind", "source_id"], name="enablement_tag_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.theme}: {self.excerpt[:40]}"


class JointKind(models.TextChoices):
    CALL = "call", _("Sales call")
    MEETING = "meeting", _("Meeting")
    VISIT = "field_visit", _("Field visit")


class JointStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    DONE = "done", _("Done")


class JointTouch(models.Model):
    marketer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=JointKind.choices)
    planned_at = models.DateTimeField(_("planned at"))
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=JointStatus.choices, default=JointStatus.REQUESTED
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-planned_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.account}"


class InsightNote(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    joint = models.ForeignKey(
        JointTouch, null=True, on_delete=models.SET_NULL, related_name="insights"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("what you learned"), max_length=4000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text[:60]
