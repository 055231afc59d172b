"""Subscription types (create, edit, archive, delete while unused) and subscribing by API.

Invariants:
- a type's `key` is what the consent ledger stores (`ConsentRecord.purpose`): once a ledger row
  or a send names it, the key cannot change and the type cannot be deleted, only archived;
- an archived type takes no new subscriptions (withdrawals still work) and is not offered to
  sends or in the preference centre (unless the person is subscribed, so they can leave);
- subscribing records the wording the person saw: the caller names its version and it must be
  the type's current one; the row's IP and user agent are the request's;
- subscribing someone already subscribed appends nothing; with double opt-in the ledger gets a
  "pending" row and the confirmation email (`consent.subscribe`), then "confirmed" on the link;
- every write is audited in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.models import EmailSend, SubscriptionType
from tandem.tracking.models import ConsentRecord

KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
FIELDS = ("key", "name", "description", "wording", "wording_version", "double_opt_in", "active")
LIMITS = {"name": 100, "description": 300, "wording_version": 40, "wording": 5000}


def in_use(subscription: SubscriptionType) -> bool:
    """Does the ledger or a send name this type? (Then it is archived, never deleted.)"""
    return (
        ConsentRecord.objects.filter(purpose=subscription.key).exists()
        or EmailSend.objects.filter(subscription_type=subscription).exists()
    )


def _clean(data: dict[str, Any], current: SubscriptionType | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for name in ("key", "name", "description", "wording", "wording_version"):
        if name not in data:
            continue
        value = str(data[name] if data[name] is not None else "").strip()
        limit = LIMITS.get(name, 50)
        if len(value) > limit:
            errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
        out[name] = value
    for name in ("double_opt_in", "active"):
        if name in data:
            out[name] = bool(data[name])
    if "key" in out:
        key = out["key"]
        if not KEY_RE.match(key):
            errors["key"] = [
                _("Lower-case letters, digits, - and _, starting with a letter (at most 50).")
            ]
        elif current is not None and key != current.key and in_use(current):
            errors["key"] = [_("The consent ledger uses this key: it cannot change.")]
        elif (
            SubscriptionType.objects.filter(key=key)
            .exclude(pk=current.pk if current is not None else 0)
            .exists()
        ):
            errors["key"] = [_("Another subscription type has this key.")]
    if (current is None or "name" in out) and not out.get("name", ""):
        errors["name"] = [_("This field is required.")]
    if current is None and "key" not in out:
        errors["key"] = [_("This field is required.")]
    if "wording_version" in out and not out["wording_version"]:
        errors["wording_version"] = [_("This field is required.")]
    if errors:
        raise InvalidInput(errors)
    return out


@transaction.atomic
def type_create(*, actor: Actor, **data: Any) -> SubscriptionType:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise InvalidInput({name: [_("Unknown field.")] for name in sorted(unknown)})
    cleaned = _clean(data, None)
    subscription = SubscriptionType(**cleaned)
    subscription.save()
    record_change(
        actor=actor, action="create", instance=subscription, changes=snapshot(subscription)
    )
    return subscription


@transaction.atomic
def type_update(*, actor: Actor, subscription: SubscriptionType, **data: Any) -> SubscriptionType:
    """Change the fields given (others are kept)."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise InvalidInput({name: [_("Unknown field.")] for name in sorted(unknown)})
    subscription = SubscriptionType.objects.select_for_update().get(pk=subscription.pk)
    before = snapshot(subscription)
    for name, value in _clean(data, subscription).items():
        setattr(subscription, name, value)
    subscription.save()
    changes = diff(before, snapshot(subscription))
    if changes:
        record_change(actor=actor, action="update", instance=subscription, changes=changes)
    return subscription


def type_archive(*, actor: Actor, subscription: SubscriptionType, active: bool) -> SubscriptionType:
    return type_update(actor=actor, subscription=subscription, active=active)


@transaction.atomic
def type_delete(*, actor: Actor, subscription: SubscriptionType) -> None:
    """Delete a type nobody ever subscribed to and no send used (else: archive it)."""
    subscription = SubscriptionType.objects.select_for_update().get(pk=subscription.pk)
    if in_use(subscription):
        raise InvalidInput(
            _("Consent records or sends refer to this subscription type: archive it instead.")
        )
    record_change(
        actor=actor, action="delete", instance=subscription, changes=snapshot(subscription)
    )
    subscription.delete()


# --- subscribing by API ---------------------------------------------------------------------


@dataclass
class Change:
    state: str  # the contact's state for the type afterwards ("" = never asked)
    changed: bool  # did this call append a ledger row?
    confirmation_sent: bool = False
    record_id: int | None = None


@transaction.atomic
def subscribe_contact(
    *,
    actor: Actor,
    subscription: SubscriptionType,
    contact: Contact,
    wording_version: str,
    source: str = "api",
    ip: str = "",
    user_agent: str = "",
    confirm_base: str,
) -> Change:
    """Subscribe a contact to a type, following the type's double opt-in."""
    if not subscription.active:
        raise InvalidInput(_("This subscription type is archived: it takes no new subscribers."))
    if wording_version != subscription.wording_version:
        raise InvalidInput(
            {
                "wording_version": [
                    _("The current wording is version %(v)s: show it and send that version.")
                    % {"v": subscription.wording_version}
                ]
            }
        )
    if contact.erased_at is not None:
        raise InvalidInput({"contact": [_("This contact was erased at the person's request.")]})
    if subscription.double_opt_in and not contact.email:
        raise InvalidInput(
            {"contact": [_("Double opt-in needs an email address to send the confirmation to.")]}
        )
    Contact.objects.select_for_update().filter(pk=contact.pk).first()  # one subscribe at a time
    state = consent.consent_state(contact_id=contact.pk, purpose=subscription.key)
    if state in consent.SUBSCRIBED:
        return Change(state=state, changed=False)
    record = consent.subscribe(
        contact=contact,
        subscription=subscription,
        source=source,
        ip=ip,
        user_agent=user_agent,
        confirm_base=confirm_base,
    )
    record_change(
        actor=actor,
        action="update",
        instance=contact,
        changes={"subscription": [subscription.key, record.state], "consent_record": record.pk},
    )
    pending = record.state == ConsentRecord.State.PENDING
    return Change(state=record.state, changed=True, confirmation_sent=pending, record_id=record.pk)


@transaction.atomic
def unsubscribe_contact(
    *,
    actor: Actor,
    subscription: SubscriptionType,
    contact: Contact,
    source: str = "api",
    ip: str = "",
    user_agent: str = "",
) -> Change:
    """Withdraw consent for one type (also a pending one); idempotent."""
    Contact.objects.select_for_update().filter(pk=contact.pk).first()
    state = consent.consent_state(contact_id=contact.pk, purpose=subscription.key)
    if state in ("", ConsentRecord.State.WITHDRAWN):
        return Change(state=state, changed=False)
    appended = consent.unsubscribe(
        contact=contact, subscriptions=[subscription], source=source, ip=ip, user_agent=user_agent
    )
    record_change(
        actor=actor,
        action="update",
        instance=contact,
        changes={"subscription": [subscription.key, ConsentRecord.State.WITHDRAWN]},
    )
    return Change(state=ConsentRecord.State.WITHDRAWN, changed=bool(appended))
