"""The shared customer record: accounts, contacts, their identities, and the unified timeline.

Invariants:
- `Contact.email` is the contact's primary address and always equals the `ContactEmail` row with
  `is_primary=True` (both written only by `crm.services`); addresses are stored lower-cased;
- touchpoints are append-only: services create them; the only later changes are re-pointing them
  to a surviving record on merge or identification, bot flags and channel reclassification;
- every read goes through `tandem.core.access.scoped`, never `Model.objects` directly in views.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tandem.core.models import Department


class Industry(models.TextChoices):
    AGRICULTURE = "agriculture", _("Agriculture")
    MEDICAL = "medical", _("Medical")
    ELECTRONICS = "electronics", _("Electronics")
    OTHER = "other", _("Other")


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    MQL = "mql", _("Marketing qualified lead")
    SAL = "sal", _("Sales accepted lead")
    SQL = "sql", _("Sales qualified lead")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    RECYCLED = "recycled", _("Recycled")
    DISQUALIFIED = "disqualified", _("Disqualified")


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    PENDING = "pending", _("Awaiting confirmation")
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")

    def __str__(self) -> str:
        return self.name


class AttributeTarget(models.TextChoices):
    CONTACT = "contact", _("Contact")
    ACCOUNT = "account", _("Account")


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes/no")
    CHOICE = "choice", _("Choice")


class CustomAttribute(models.Model):
    """An attribute an admin defines; values live in the record's `custom` JSON, validated."""

    target = models.CharField(_("applies to"), max_length=10, choices=AttributeTarget.choices)
    key = models.SlugField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=AttributeType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="uniq_attr_key")]
        ordering = ["target", "key"]
        verbose_name = _("custom attribute")

    def __str__(self) -> str:
        return self.label


class Account(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domains = models.JSONField(_("domains"), default=list, blank=True)
    industry = models.CharField(
        _("industry"), max_length=20, choices=Industry.choices, default=Industry.OTHER
    )
    industry_attributes = models.JSONField(_("industry attributes"), default=dict, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="accounts")
    custom = models.JSONField(default=dict, blank=True)
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_accounts"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name", "id"], name="account_name_id")]
        verbose_name = _("account")

    def __str__(self) -> str:
        return self.name


class AccountDomain(models.Model):
    """One row per domain of an account: for duplicate detection and `group` resolution."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domain_rows")
    domain = models.CharField(max_length=253, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "domain"], name="uniq_account_domain")
        ]

    def __str__(self) -> str:
        return self.domain


def contact_label(first_name: str, last_name: str, email: str, pk: object) -> str:
    """How a contact is named on pages: full name, else email, else its number."""
    return f"{first_name} {last_name}".strip() or email or f"#{pk}"


class Contact(models.Model):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(_("job title"), max_length=150, blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    consent = models.CharField(
        _("marketing consent"),
        max_length=10,
        choices=ConsentState.choices,
        default=ConsentState.UNKNOWN,
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    custom = models.JSONField(default=dict, blank=True)
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_contacts"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # set by `crm.privacy.contact_erase`: the row stays (its touchpoints keep campaign totals and
    # attribution credit) but holds no personal data any more
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="contact_created_id"),
            models.Index(fields=["last_name", "first_name", "id"], name="contact_name_id"),
            models.Index(fields=["owner", "-created_at", "-id"], name="contact_owner_created"),
        ]
        verbose_name = _("contact")

    def __str__(self) -> str:
        return contact_label(self.first_name, self.last_name, self.email, self.pk)


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(max_length=254, db_index=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "email"], name="uniq_contact_email")
        ]

    def __str__(self) -> str:
        return self.email


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    phone = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return self.phone


class Identity(models.Model):
    """An external id that resolves to a contact: Segment userId/anonymousId, aliases."""

    class Kind(models.TextChoices):
        USER_ID = "user_id", "userId"
        ANONYMOUS_ID = "anonymous_id", "anonymousId"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.CharField(max_length=200)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="uniq_identity")]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class Touchpoint(models.Model):
    """One row of the unified timeline: anything that happened between us and a customer."""

    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="touchpoints"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="touchpoints"
    )
    anonymous_id = models.CharField(max_length=200, blank=True, db_index=True)
    user_id = models.CharField(max_length=200, blank=True, db_index=True)  # Segment userId
    occurred_at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(_("channel"), max_length=40)
    department = models.CharField(_("department"), max_length=20, choices=Department.choices)
    kind = models.CharField(_("kind"), max_length=60)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    content = models.CharField(_("content"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="touchpoints",
    )
    properties = models.JSONField(default=dict, blank=True)
    is_bot = models.BooleanField(default=False)
    source = models.CharField(max_length=60, blank=True)
    message_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="tp_contact_time"),
            models.Index(fields=["account", "-occurred_at", "-id"], name="tp_account_time"),
        ]
        verbose_name = _("touchpoint")

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """A salted hash of an erased person's address, phone or Segment id.

    Invariants: only `crm.privacy` writes it; the value itself is never stored, only
    `privacy.suppression_digest(kind, value)` (HMAC-SHA256 keyed by PRIVACY_SUPPRESSION_SECRET,
    else SECRET_KEY); contact creation, imports, Segment identify, website forms and
    subscriptions consult it, so an erased person is not created or mailed again.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("email")
        PHONE = "phone", _("phone")
        USER_ID = "user_id", "userId"
        ANONYMOUS_ID = "anonymous_id", "anonymousId"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "digest"], name="uniq_suppression")]
        verbose_name = _("suppression")

    def __str__(self) -> str:
        return f"{self.kind}:{self.digest[:12]}"
