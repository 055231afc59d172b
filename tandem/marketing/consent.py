"""Subscriptions and consent on the ONE ledger, `tracking.ConsentRecord` (append-only).

A contact is subscribed to a subscription type when the latest ledger row whose `purpose` is the
type's key is "granted" or "confirmed". Tracking's forms write the same rows (purpose = the
form's consent purpose), so a form with purpose "newsletter" subscribes to the newsletter type.

Invariants:
- rows are only appended, through the ledger's one service (`tracking.services.consent_record`,
  which also derives the contact's overall `consent`), each with a `ConsentSource` saying where
  it came from;
- withdrawal needs no more than consent did: one click (unsubscribe link, one-click POST) or one
  form; it takes effect at once: sends check the ledger right before each message;
- double opt-in: a "pending" row until the signed link is opened, which appends "confirmed";
  this module is the ONE confirmation path: marketing's subscribe and the API, and tracking's
  website forms (through the `WebsiteFormOptIn` provider registered with tracking in
  `MarketingConfig.ready`) send the same email and `confirm_link` checks
  every link, including links signed by tracking's former implementation (its salt is still
  accepted for as long as such a link is valid, CONFIRM_MAX_AGE);
- a confirmation link is refused when it is forged, older than CONFIRM_MAX_AGE, or superseded
  (the person withdrew after asking): withdrawing must not be undone by an old email.
"""

from __future__ import annotations

import logging
from typing import Literal

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from tandem.crm.models import Contact
from tandem.marketing.models import ConsentSource, SubscriptionType
from tandem.tracking.models import ConsentRecord
from tandem.tracking.services import consent_record, consent_state

log = logging.getLogger("tandem.marketing")
CONFIRM_SALT = "tandem.marketing.optin"
LEGACY_SALTS = ("tandem.tracking.consent",)  # links sent by tracking's own implementation
CONFIRM_MAX_AGE = 14 * 86400
SUBSCRIBED = {ConsentRecord.State.GRANTED, ConsentRecord.State.CONFIRMED}


def is_subscribed(*, contact_id: int, purpose: str) -> bool:
    return consent_state(contact_id=contact_id, purpose=purpose) in SUBSCRIBED


def _append(
    *,
    contact: Contact,
    subscription: SubscriptionType,
    state: str,
    source: str,
    ip: str = "",
    user_agent: str = "",
) -> ConsentRecord:
    return _append_purpose(
        contact=contact,
        purpose=subscription.key,
        wording=subscription.wording,
        wording_version=subscription.wording_version,
        state=state,
        source=source,
        ip=ip,
        user_agent=user_agent,
    )


def _append_purpose(
    *,
    contact: Contact,
    purpose: str,
    state: str,
    source: str,
    wording: str = "",
    wording_version: str = "",
    ip: str = "",
    user_agent: str = "",
) -> ConsentRecord:
    record = consent_record(
        contact=contact,
        purpose=purpose,
        wording=wording,
        wording_version=wording_version,
        state=state,
        ip=ip,
        user_agent=user_agent,
    )
    ConsentSource.objects.create(record=record, source=source[:40])
    return record


@transaction.atomic
def subscribe(
    *,
    contact: Contact,
    subscription: SubscriptionType,
    source: str,
    ip: str = "",
    user_agent: str = "",
    confirm_base: str = "",
    proven: bool = False,
) -> ConsentRecord:
    """Record consent. With double opt-in (and an address not already proven, as it is when the
    person came from a link in their own email) the row is "pending" and a confirmation email
    goes out after commit."""
    pending = subscription.double_opt_in and not proven
    state = ConsentRecord.State.PENDING if pending else ConsentRecord.State.GRANTED
    record = _append(
        contact=contact,
        subscription=subscription,
        state=state,
        source=source,
        ip=ip,
        user_agent=user_agent,
    )
    if pending and contact.email:
        request_confirmation(
            record_id=record.pk,
            email=contact.email,
            name=subscription.display_name,
            confirm_base=confirm_base,
        )
    return record


def confirmation_token(record_id: int) -> str:
    return signing.dumps({"r": record_id}, salt=CONFIRM_SALT)


def request_confirmation(*, record_id: int, email: str, name: str, confirm_base: str) -> str:
    """Email the signed confirmation link for a pending ledger row once the current transaction
    commits (never for one that rolls back); returns the link."""
    link = confirm_base + confirmation_token(record_id)
    transaction.on_commit(lambda: _send_confirmation(email, name, link))
    return link


def _send_confirmation(email: str, name: str, link: str) -> None:
    try:
        send_mail(
            subject=_("Please confirm your subscription"),
            message=_(
                "Confirm your subscription to %(name)s by opening this link:\n\n%(link)s\n\n"
                "If it was not you, ignore this email: nothing will be sent to you."
            )
            % {"name": name, "link": link},
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    except OSError:
        log.exception("opt-in confirmation to %s not sent", email)


Outcome = Literal["confirmed", "already", "invalid", "expired", "superseded"]


def _load(signed: str) -> tuple[int | None, Outcome | None]:
    expired = False
    for salt in (CONFIRM_SALT, *LEGACY_SALTS):
        try:
            data = signing.loads(signed, salt=salt, max_age=CONFIRM_MAX_AGE)
        except signing.SignatureExpired:
            expired = True
            continue
        except signing.BadSignature:
            continue
        record_id = data.get("r") if isinstance(data, dict) else None
        return (record_id, None) if isinstance(record_id, int) else (None, "invalid")
    return None, "expired" if expired else "invalid"


def _pending_of(signed: str, *, lock: bool) -> tuple[Outcome | None, ConsentRecord | None]:
    """The pending ledger row a double opt-in link names, or why the link confirms nothing."""
    record_id, refused = _load(signed)
    if record_id is None:
        return refused or "invalid", None
    rows = ConsentRecord.objects.filter(pk=record_id)
    pending = (rows.select_for_update() if lock else rows).first()
    if pending is None or pending.state != ConsentRecord.State.PENDING:
        return "invalid", None
    latest = (
        ConsentRecord.objects.filter(contact_id=pending.contact_id, purpose=pending.purpose)
        .order_by("-at", "-id")
        .first()
    )
    if latest is not None and latest.state in SUBSCRIBED:
        return "already", None
    withdrawn = latest is not None and latest.state == ConsentRecord.State.WITHDRAWN
    if withdrawn and latest is not None and (latest.at, latest.pk) > (pending.at, pending.pk):
        return "superseded", None
    return None, pending


def confirm_check(*, signed: str) -> Outcome | Literal["pending"]:
    """What opening a double opt-in link would do, writing nothing: "pending" when a person's
    click on the confirmation page would confirm it. Email link scanners open links with GET, so
    only the page's button (a POST) confirms."""
    refused, _pending = _pending_of(signed, lock=False)
    return refused or "pending"


@transaction.atomic
def confirm_link(*, signed: str, ip: str = "", user_agent: str = "") -> Outcome:
    """Confirm a double opt-in link (the confirmation page's button): append "confirmed" once
    (a copy of the pending row's purpose, wording, version and form, with the confirmer's IP and
    user agent) and grant the contact's marketing consent. Again changes nothing ("already")."""
    refused, pending = _pending_of(signed, lock=True)
    if pending is None:
        return refused or "invalid"
    record = consent_record(
        contact=Contact.objects.get(pk=pending.contact_id),
        form=pending.form,
        purpose=pending.purpose,
        wording=pending.wording,
        wording_version=pending.wording_version,
        state=ConsentRecord.State.CONFIRMED,
        ip=ip,
        user_agent=user_agent,
    )
    ConsentSource.objects.create(record=record, source="double_opt_in")
    return "confirmed"


def confirm(*, signed: str, ip: str = "", user_agent: str = "") -> bool:
    """True when the link is good (confirmed now or before); False for a forged, old or
    superseded link."""
    return confirm_link(signed=signed, ip=ip, user_agent=user_agent) in {"confirmed", "already"}


@transaction.atomic
def unsubscribe(
    *,
    contact: Contact,
    subscriptions: list[SubscriptionType] | None = None,
    source: str,
    ip: str = "",
    user_agent: str = "",
) -> int:
    """Withdraw consent for these types (all types when None); returns rows appended.
    Withdrawing everything, or the last type the contact was still subscribed to, also
    withdraws every other purpose the ledger holds for the contact (a website form's), so the
    contact's overall consent becomes "withdrawn": someone who leaves their only subscription
    wants no more marketing, and the record must not go on saying "granted"."""
    types = (
        list(subscriptions) if subscriptions is not None else list(SubscriptionType.objects.all())
    )
    appended = 0
    for subscription in types:
        state = consent_state(contact_id=contact.pk, purpose=subscription.key)
        if state == ConsentRecord.State.WITHDRAWN:
            continue
        _append(
            contact=contact,
            subscription=subscription,
            state=ConsentRecord.State.WITHDRAWN,
            source=source,
            ip=ip,
            user_agent=user_agent,
        )
        appended += 1
    everything = subscriptions is None or not any(subscriptions_of(contact.pk).values())
    if everything:
        keys = set(SubscriptionType.objects.values_list("key", flat=True))
        others = (
            ConsentRecord.objects.filter(contact=contact)
            .exclude(purpose__in=keys)
            .order_by("purpose")
            .values_list("purpose", flat=True)
            .distinct()
        )
        for purpose in list(others):
            if (
                consent_state(contact_id=contact.pk, purpose=purpose)
                != ConsentRecord.State.WITHDRAWN
            ):
                _append_purpose(
                    contact=contact,
                    purpose=purpose,
                    state=ConsentRecord.State.WITHDRAWN,
                    source=source,
                    ip=ip,
                    user_agent=user_agent,
                )
                appended += 1
    return appended


def subscriptions_of(contact_id: int) -> dict[str, bool]:
    """Subscription type key -> subscribed, for the preference centre."""
    return {
        t.key: is_subscribed(contact_id=contact_id, purpose=t.key)
        for t in SubscriptionType.objects.all()
    }


class WebsiteFormOptIn:
    """Double opt-in for tracking's website forms (`tracking.services.DoubleOptIn`): the same
    email and link as subscriptions; registered with tracking in `MarketingConfig.ready`."""

    def requires_confirmation(self, purpose: str) -> bool:
        return SubscriptionType.objects.filter(key=purpose, double_opt_in=True).exists()

    def purpose_name(self, purpose: str) -> str:
        subscription = SubscriptionType.objects.filter(key=purpose).first()
        return subscription.display_name if subscription else ""

    def request_confirmation(
        self, *, record_id: int, email: str, name: str, confirm_base: str
    ) -> str:
        return request_confirmation(
            record_id=record_id, email=email, name=name, confirm_base=confirm_base
        )

    def confirm(self, *, signed: str, ip: str, user_agent: str) -> bool:
        return confirm(signed=signed, ip=ip, user_agent=user_agent)


class LedgerPurposes:
    """Subscription types as the consent ledger's purposes, and where its rows came from
    (`tracking.consent.ConsentPurposes`); registered with tracking in `MarketingConfig.ready`."""

    def choices(self) -> list[tuple[str, str]]:
        return [(t.key, t.display_name) for t in SubscriptionType.objects.filter(active=True)]

    def names(self, keys: list[str]) -> dict[str, str]:
        return {t.key: t.display_name for t in SubscriptionType.objects.filter(key__in=keys)}

    def record_sources(self, record_ids: list[int]) -> dict[int, str]:
        rows = ConsentSource.objects.filter(record_id__in=record_ids)
        return dict(rows.values_list("record_id", "source"))
