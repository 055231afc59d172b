"""Every write to the customer record: one keyword-only, transactional function per operation.

Invariants:
- each create, update, delete and merge writes an AuditEntry in the same transaction;
- a function either stores all of its change or none of it (bad input raises InvalidInput first);
- `Contact.email` mirrors the primary `ContactEmail`; `Account.domains` mirrors `AccountDomain`;
- a merge moves every related row of the merged record to the survivor, then deletes it;
- `Contact.lifecycle_stage` is set when a contact is created and changed afterwards only by
  `contact_stage_write`, which only the leads app's lifecycle service calls (it writes the stage
  history and the timeline in the same transaction); `Contact.consent` is derived from the
  consent ledger and written only by `contact_consent_write` (`contacts_consent_write` for many),
  which only the ledger's services in tracking call. `contact_update` and the bulk writers
  refuse both fields (a test holds the callers to that).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext

from tandem.core.audit import (
    Actor,
    created_changes,
    created_changes_of_rows,
    diff,
    record_change,
    record_changes,
    snapshot,
)
from tandem.core.bulk import insert_rows
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, User
from tandem.crm.attributes import attribute_key as attribute_key
from tandem.crm.attributes import custom_attributes_ensure as custom_attributes_ensure
from tandem.crm.models import (
    Account,
    AccountDomain,
    AttributeTarget,
    ConsentState,
    Contact,
    ContactEmail,
    ContactPhone,
    Identity,
    Industry,
    LifecycleStage,
    Suppression,
    Tag,
    Touchpoint,
    contact_label,
)
from tandem.crm.privacy import ERASED_MESSAGE, suppressed_values
from tandem.crm.privacy import SUPPRESSED_MESSAGE as SUPPRESSED_MESSAGE
from tandem.crm.privacy import contact_erase as contact_erase
from tandem.crm.privacy import contact_erase_hook_register as contact_erase_hook_register
from tandem.crm.privacy import contact_export as contact_export
from tandem.crm.privacy import contact_rows_register as contact_rows_register
from tandem.crm.privacy import suppressed as suppressed
from tandem.crm.privacy import suppressed_emails as suppressed_emails
from tandem.crm.privacy import suppressed_segment_ids as suppressed_segment_ids
from tandem.crm.touchpoints import touchpoints_account_fill as touchpoints_account_fill
from tandem.crm.touchpoints import touchpoints_adopt as touchpoints_adopt
from tandem.crm.touchpoints import touchpoints_channel_update as touchpoints_channel_update
from tandem.crm.touchpoints import touchpoints_record_bulk as touchpoints_record_bulk
from tandem.crm.validation import (
    clean_custom,
    clean_domain,
    clean_email,
    clean_industry_attributes,
)

ACCOUNT_FIELDS = {
    "name",
    "domains",
    "industry",
    "industry_attributes",
    "region",
    "owner_id",
    "custom",
    "tags",
}
CONTACT_FIELDS = {
    "first_name",
    "last_name",
    "email",
    "emails",
    "phone",
    "title",
    "account_id",
    "owner_id",
    "custom",
    "tags",
}
# A new contact starts in a stage (a web form's subscriber, an import's customer); changing it
# later is a lifecycle move. Consent is never set here: it is derived from the consent ledger.
CONTACT_CREATE_FIELDS = CONTACT_FIELDS | {"lifecycle_stage"}
BULK_CHUNK = 2000  # ids per statement in the bulk writers (SQLite allows 32,766 parameters)
OWNED_ELSEWHERE = {
    "lifecycle_stage": "The stage changes only by a lifecycle move, which records its history "
    "(POST /api/v1/leads/contacts/{id}/lifecycle)",
    "consent": "Consent is derived from the consent ledger: record it or its withdrawal there "
    "(POST /api/v1/marketing/subscriptions/{key}/subscribe or .../unsubscribe)",
}


def _check_choice(field: str, value: str, choices: Iterable[str]) -> None:
    if value not in set(choices):
        raise InvalidInput({field: [f"{value!r} is not one of {', '.join(choices)}"]})


def _check_user(field: str, user_id: int | None) -> None:
    if user_id is not None and not User.objects.filter(pk=user_id, is_active=True).exists():
        raise InvalidInput({field: ["no such active user"]})


def _tags(names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({n.strip()[:60] for n in names if n and n.strip()})
    return [Tag.objects.get_or_create(name=name)[0] for name in cleaned]


def _clean_domains(domains: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    errors: list[str] = []
    for value in domains:
        try:
            domain = clean_domain(str(value))
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if domain not in cleaned:
            cleaned.append(domain)
    if errors:
        raise InvalidInput({"domains": errors})
    return cleaned


# --- accounts -------------------------------------------------------------------------------


def _clean_account(data: dict[str, Any], current: Account | None) -> dict[str, Any]:
    unknown = set(data) - ACCOUNT_FIELDS
    if unknown:
        raise InvalidInput({k: ["unknown field"] for k in sorted(unknown)})
    out = dict(data)
    if "name" in out:
        out["name"] = str(out["name"]).strip()
        if not out["name"]:
            raise InvalidInput({"name": ["is required"]})
        if len(out["name"]) > 200:
            raise InvalidInput({"name": ["at most 200 characters"]})
    elif current is None:
        raise InvalidInput({"name": ["is required"]})
    if "domains" in out:
        out["domains"] = _clean_domains(out["domains"] or [])
    industry = out.get("industry", current.industry if current else Industry.OTHER)
    _check_choice("industry", industry, Industry.values)
    if "industry_attributes" in out or "industry" in out:
        attrs = out.get(
            "industry_attributes",
            current.industry_attributes if current and industry == current.industry else {},
        )
        out["industry_attributes"] = clean_industry_attributes(industry, attrs or {})
    if "owner_id" in out:
        _check_user("owner_id", out["owner_id"])
    if "custom" in out:
        merged = {**(current.custom if current else {}), **(out["custom"] or {})}
        out["custom"] = clean_custom(AttributeTarget.ACCOUNT, merged)
    elif current is None:
        out["custom"] = clean_custom(AttributeTarget.ACCOUNT, {})
    return out


def _sync_domains(account: Account) -> None:
    AccountDomain.objects.filter(account=account).exclude(domain__in=account.domains).delete()
    existing = set(AccountDomain.objects.filter(account=account).values_list("domain", flat=True))
    AccountDomain.objects.bulk_create(
        [AccountDomain(account=account, domain=d) for d in account.domains if d not in existing]
    )


@transaction.atomic
def account_create(*, actor: Actor, **data: Any) -> Account:
    cleaned = _clean_account(data, None)
    tags = cleaned.pop("tags", None)
    account = Account.objects.create(**cleaned)
    _sync_domains(account)
    if tags:
        account.tags.set(_tags(tags))
    record_change(
        actor=actor, action="create", instance=account, changes=diff({}, snapshot(account))
    )
    return account


@transaction.atomic
def account_update(*, actor: Actor, account: Account, **data: Any) -> Account:
    account = Account.objects.select_for_update().get(pk=account.pk)
    cleaned = _clean_account(data, account)
    tags = cleaned.pop("tags", None)
    before = snapshot(account)
    for field, value in cleaned.items():
        setattr(account, field, value)
    account.save(update_fields=[*cleaned.keys(), "updated_at"] if cleaned else ["updated_at"])
    _sync_domains(account)
    changes = diff(before, snapshot(account))
    if tags is not None:
        old = sorted(account.tags.values_list("name", flat=True))
        account.tags.set(_tags(tags))
        new = sorted(account.tags.values_list("name", flat=True))
        if old != new:
            changes["tags"] = [old, new]
    changes.pop("updated_at", None)
    if changes:
        record_change(actor=actor, action="update", instance=account, changes=changes)
    return account


def _delete_or_refuse(instance: Account | Contact) -> None:
    """Delete `instance` with what it owns, or refuse when records that must be kept refer to it
    (transfers of value, loyalty ledgers and the like: PROTECT or RESTRICT), naming them."""
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as exc:
        found = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        kinds = sorted({str(type(row)._meta.verbose_name_plural) for row in found})
        raise InvalidInput(
            gettext("It cannot be deleted: records that must be kept refer to it (%(kinds)s).")
            % {"kinds": ", ".join(kinds)},
            code="protected",
        ) from None


@transaction.atomic
def account_delete(*, actor: Actor, account: Account) -> None:
    """Delete an account (refused with InvalidInput `protected` when kept records need it)."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    record_change(
        actor=actor, action="delete", instance=account, changes=diff(snapshot(account), {})
    )
    _delete_or_refuse(account)


# --- contacts -------------------------------------------------------------------------------


_CONTACT_LIMITS = {"first_name": 100, "last_name": 100, "phone": 40, "title": 150}


def _clean_contact_texts(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Trimmed, length-checked names/phone/title and the cleaned, de-duplicated emails (the
    first becomes `email`; all go to `_emails`), with the errors found: shared by
    `_clean_contact` (one record) and `contact_check` (many, without queries)."""
    out = dict(data)
    errors: dict[str, list[str]] = {}
    for name, limit in _CONTACT_LIMITS.items():
        if name in out:
            out[name] = str(out[name] or "").strip()
            if len(out[name]) > limit:
                errors[name] = [f"at most {limit} characters"]
    emails: list[str] = []
    raw_emails = list(out.pop("emails", None) or [])
    if out.get("email"):
        raw_emails.insert(0, out["email"])
    for raw in raw_emails:
        try:
            email = clean_email(str(raw))
        except ValueError as exc:
            errors.setdefault("email", []).append(f"{raw!r} {exc}")
            continue
        if email not in emails:
            emails.append(email)
    if "email" in out:
        out["email"] = emails[0] if emails else ""
    out["_emails"] = emails
    return out, errors


def _refuse_owned_elsewhere(data: dict[str, Any], allowed: set[str]) -> None:
    owned = {k: [OWNED_ELSEWHERE[k]] for k in sorted(OWNED_ELSEWHERE) if k in data}
    for name in allowed:
        owned.pop(name, None)
    if owned:
        raise InvalidInput(owned, code="owned_elsewhere")


def _clean_contact(data: dict[str, Any], current: Contact | None) -> dict[str, Any]:
    allowed = CONTACT_FIELDS if current is not None else CONTACT_CREATE_FIELDS
    _refuse_owned_elsewhere(data, allowed)
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput({k: ["unknown field"] for k in sorted(unknown)})
    out, errors = _clean_contact_texts(data)
    if "lifecycle_stage" in out:
        _check_choice("lifecycle_stage", out["lifecycle_stage"], LifecycleStage.values)
    if "owner_id" in out:
        _check_user("owner_id", out["owner_id"])
    if (
        out.get("account_id") is not None
        and not Account.objects.filter(pk=out["account_id"]).exists()
    ):
        errors["account_id"] = ["no such account"]
    if "custom" in out:
        merged = {**(current.custom if current else {}), **(out["custom"] or {})}
        out["custom"] = clean_custom(AttributeTarget.CONTACT, merged)
    elif current is None:
        out["custom"] = clean_custom(AttributeTarget.CONTACT, {})
    if current is not None and current.erased_at is not None:
        errors["__all__"] = [gettext(ERASED_MESSAGE)]
    if out["_emails"] and suppressed_values(Suppression.Kind.EMAIL, out["_emails"]):
        errors.setdefault("email", []).append(gettext(SUPPRESSED_MESSAGE))
    if (
        current is None
        and not (out.get("first_name") or out.get("last_name") or out.get("email"))
        and not errors
    ):
        errors["__all__"] = ["a contact needs a name or an email address"]
    if errors:
        raise InvalidInput(errors)
    return out


def _sync_emails(contact: Contact, extra: list[str]) -> None:
    wanted = ([contact.email] if contact.email else []) + [e for e in extra if e != contact.email]
    existing = set(ContactEmail.objects.filter(contact=contact).values_list("email", flat=True))
    ContactEmail.objects.bulk_create(
        [ContactEmail(contact=contact, email=e) for e in wanted if e not in existing]
    )
    ContactEmail.objects.filter(contact=contact).update(is_primary=False)
    if contact.email:
        ContactEmail.objects.filter(contact=contact, email=contact.email).update(is_primary=True)


@transaction.atomic
def contact_create(*, actor: Actor, **data: Any) -> Contact:
    cleaned = _clean_contact(data, None)
    emails = cleaned.pop("_emails")
    tags = cleaned.pop("tags", None)
    if emails and not cleaned.get("email"):
        cleaned["email"] = emails[0]
    contact = Contact.objects.create(**cleaned)
    _sync_emails(contact, emails)
    if contact.phone:
        ContactPhone.objects.create(contact=contact, phone=contact.phone)
    if tags:
        contact.tags.set(_tags(tags))
    record_change(
        actor=actor, action="create", instance=contact, changes=diff({}, snapshot(contact))
    )
    return contact


@transaction.atomic
def contact_update(*, actor: Actor, contact: Contact, **data: Any) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    cleaned = _clean_contact(data, contact)
    emails = cleaned.pop("_emails")
    tags = cleaned.pop("tags", None)
    before = snapshot(contact)
    for field, value in cleaned.items():
        setattr(contact, field, value)
    contact.save(update_fields=[*cleaned.keys(), "updated_at"])
    if emails:
        _sync_emails(contact, emails)
    if (
        "phone" in cleaned
        and contact.phone
        and not contact.phones.filter(phone=contact.phone).exists()
    ):
        ContactPhone.objects.create(contact=contact, phone=contact.phone)
    changes = diff(before, snapshot(contact))
    changes.pop("updated_at", None)
    if tags is not None:
        old = sorted(contact.tags.values_list("name", flat=True))
        contact.tags.set(_tags(tags))
        new = sorted(contact.tags.values_list("name", flat=True))
        if old != new:
            changes["tags"] = [old, new]
    if changes:
        record_change(actor=actor, action="update", instance=contact, changes=changes)
    return contact


def _write_one_field(actor: Actor, contact: Contact, field: str, value: str) -> Contact:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    before = getattr(locked, field)
    if before != value:
        setattr(locked, field, value)
        locked.save(update_fields=[field, "updated_at"])
        record_change(
            actor=actor, action="update", instance=locked, changes={field: [before, value]}
        )
    setattr(contact, field, value)
    return locked


@transaction.atomic
def contact_stage_write(*, actor: Actor, contact: Contact, stage: str) -> Contact:
    """Store the contact's new lifecycle stage (audited). The record half of a lifecycle move:
    only `tandem.leads`' lifecycle service calls it, with the stage history and the timeline
    row in the same transaction; anything else moves a contact through that service."""
    _check_choice("lifecycle_stage", stage, LifecycleStage.values)
    return _write_one_field(actor, contact, "lifecycle_stage", stage)


@transaction.atomic
def contact_consent_write(*, actor: Actor, contact: Contact, consent: str) -> Contact:
    """Store the contact's overall consent as derived from the consent ledger (audited): only
    the ledger's service in `tandem.tracking` calls it, in the transaction that appends the row."""
    _check_choice("consent", consent, ConsentState.values)
    return _write_one_field(actor, contact, "consent", consent)


@transaction.atomic
def contacts_consent_write(*, actor: Actor, consents: dict[int, str]) -> int:
    """`contact_consent_write` for many contacts at once (contact id -> consent derived from the
    ledger): the rows whose consent changes are locked, updated with one UPDATE per value (per
    chunk) and get one audit entry each, as `contact_consent_write` writes it. Only the ledger's
    bulk service in `tandem.tracking` calls it; returns how many contacts changed."""
    for value in set(consents.values()):
        _check_choice("consent", value, ConsentState.values)
    now = timezone.now()
    entries: list[tuple[str, Any, str, dict[str, Any]]] = []
    ids = sorted(consents)
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start : start + BULK_CHUNK]
        current = (
            Contact.objects.select_for_update()
            .filter(pk__in=chunk)
            .order_by("pk")
            .values_list("pk", "consent", "first_name", "last_name", "email")
        )
        if len(current) != len(chunk):
            raise InvalidInput({"__all__": ["no such contact"]})
        changed: dict[str, list[int]] = {}
        for pk, before, first, last, email in current:
            after = consents[pk]
            if before != after:
                changed.setdefault(after, []).append(pk)
                entries.append(
                    (
                        "update",
                        pk,
                        contact_label(first, last, email, pk),
                        {"consent": [before, after]},
                    )
                )
        for value, pks in changed.items():
            Contact.objects.filter(pk__in=pks).update(consent=value, updated_at=now)
    record_changes(actor=actor, model=Contact, entries=entries)
    return len(entries)


@transaction.atomic
def contact_delete(*, actor: Actor, contact: Contact) -> None:
    """Delete a contact (refused with InvalidInput `protected` when kept records need it)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    record_change(
        actor=actor, action="delete", instance=contact, changes=diff(snapshot(contact), {})
    )
    _delete_or_refuse(contact)


# --- duplicates and merge -------------------------------------------------------------------


def contact_duplicates_of(*, email: str, exclude_id: int | None = None) -> list[int]:
    qs = ContactEmail.objects.filter(email=email.strip().lower())
    if exclude_id is not None:
        qs = qs.exclude(contact_id=exclude_id)
    return sorted(set(qs.values_list("contact_id", flat=True)))


_CONTACT_FILL = ["first_name", "last_name", "email", "phone", "title", "account_id", "owner_id"]

# What apps above crm re-derive on the survivor of a merge, once its rows have moved (the consent
# ledger's `Contact.consent`): each registers one callable in its AppConfig.ready().
MergeHook = Callable[[Actor, Contact], None]
_merge_hooks: list[MergeHook] = []


def contact_merge_hook_register(hook: MergeHook) -> None:
    """Call `hook(actor, survivor)` inside every merge's transaction, after the rows moved."""
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)


@transaction.atomic
def contacts_merge(*, actor: Actor, survivor: Contact, merged: Contact) -> Contact:
    """Fold `merged` into `survivor`: the survivor's values win, blanks are filled from the
    other, and every related row (emails, phones, identities, tags, shares, touchpoints) moves.
    The moved touchpoints (without an account, or on the merged contact's) take the survivor's
    account, so they show on its account timeline too."""
    if survivor.pk == merged.pk:
        raise InvalidInput("a contact cannot be merged with itself")
    survivor = Contact.objects.select_for_update().get(pk=survivor.pk)
    merged = Contact.objects.select_for_update().get(pk=merged.pk)
    if survivor.erased_at is not None:  # its blanks would be filled with the other's data
        raise InvalidInput({"survivor": [gettext(ERASED_MESSAGE)]})
    before = snapshot(survivor)
    updated: list[str] = []
    for field in _CONTACT_FILL:
        if not getattr(survivor, field) and getattr(merged, field):
            setattr(survivor, field, getattr(merged, field))
            updated.append(field)
    survivor.custom = {**merged.custom, **survivor.custom}
    survivor.save(update_fields=[*updated, "custom", "updated_at"])

    taken = set(ContactEmail.objects.filter(contact=survivor).values_list("email", flat=True))
    ContactEmail.objects.filter(contact=merged, email__in=taken).delete()
    ContactEmail.objects.filter(contact=merged).update(contact=survivor, is_primary=False)
    _sync_emails(survivor, [])
    ContactPhone.objects.filter(contact=merged).update(contact=survivor)
    Identity.objects.filter(contact=merged).update(contact=survivor)
    moved = Touchpoint.objects.filter(contact=merged)
    if survivor.account_id is not None:
        # the person's touchpoints show on the survivor's account timeline: those moved that
        # had no account or the merged contact's, and the survivor's own without one
        moved.filter(Q(account__isnull=True) | Q(account_id=merged.account_id)).update(
            account_id=survivor.account_id
        )
        touchpoints_account_fill(contact_id=survivor.pk, account_id=survivor.account_id)
    moved.update(contact=survivor)
    survivor.tags.add(*merged.tags.all())
    survivor.shared_with.add(*merged.shared_with.all())
    _move_foreign_rows(merged, survivor)
    for hook in _merge_hooks:
        hook(actor, survivor)

    record_change(
        actor=actor,
        action="merge",
        instance=survivor,
        changes={**diff(before, snapshot(survivor)), "merged_id": [merged.pk, None]},
    )
    record_change(
        actor=actor, action="delete", instance=merged, changes={"merged_into": [None, survivor.pk]}
    )
    merged.delete()
    return survivor


def _move_foreign_rows(merged: Contact, survivor: Contact) -> None:
    """Re-point rows of other apps that refer to the merged contact (registered by those apps)."""
    for relation in Contact._meta.related_objects:
        model = relation.related_model
        if model in (ContactEmail, ContactPhone, Identity, Touchpoint, Contact):
            continue
        if relation.many_to_many or not relation.field.concrete:
            continue
        model._default_manager.filter(**{relation.field.name: merged}).update(
            **{relation.field.name: survivor}
        )


# --- the timeline ---------------------------------------------------------------------------


def touchpoint_record(
    *,
    channel: str,
    kind: str,
    department: str,
    contact: Contact | None = None,
    account: Account | None = None,
    occurred_at: dt.datetime | None = None,
    campaign: str = "",
    content: str = "",
    actor: User | None = None,
    properties: dict[str, Any] | None = None,
    source: str = "",
    is_bot: bool = False,
    anonymous_id: str = "",
    message_id: str | None = None,
) -> Touchpoint:
    """Append one touchpoint to the timeline. The account defaults to the contact's."""
    _check_choice("department", department, Department.values)
    if contact is None and account is None and not anonymous_id:
        raise InvalidInput("a touchpoint needs a contact, an account or an anonymous id")
    account_id: int | None
    if account is not None:
        account_id = account.pk
    else:
        account_id = contact.account_id if contact is not None else None
    return Touchpoint.objects.create(
        contact=contact,
        account_id=account_id,
        occurred_at=occurred_at or timezone.now(),
        channel=channel[:40],
        department=department,
        kind=kind[:60],
        campaign=campaign[:200],
        content=content[:200],
        actor=actor,
        properties=properties or {},
        source=source[:60],
        is_bot=is_bot,
        anonymous_id=anonymous_id[:200],
        message_id=message_id,
    )


def contacts_search_q(term: str) -> Q:
    term = term.strip()
    return (
        Q(first_name__icontains=term)
        | Q(last_name__icontains=term)
        | Q(email__icontains=term)
        | Q(title__icontains=term)
    )


# --- many records at once (imports) ---------------------------------------------------------
#
# The functions below write what `account_create`/`account_update`/`contact_create`/
# `contact_update` write, for many records in a few statements: the same rows (ContactEmail,
# ContactPhone, AccountDomain) and one audit entry per record with the same content. Values are
# checked first by `contact_check`/`account_check` (the same rules and messages as the single
# functions, without a query per record); the bulk writers check owners and accounts again with
# one query each and refuse the whole batch (InvalidInput, nothing stored) if one is wrong.

BULK_CONTACT_FIELDS = CONTACT_FIELDS - {"custom", "tags"}
BULK_CONTACT_CREATE_FIELDS = CONTACT_CREATE_FIELDS - {"custom", "tags"}
BULK_ACCOUNT_FIELDS = ACCOUNT_FIELDS - {"custom", "tags"}
_STAGE_VALUES = frozenset(LifecycleStage.values)
_INDUSTRY_VALUES = frozenset(Industry.values)


def custom_defaults(target: str) -> dict[str, Any] | InvalidInput:
    """What `clean_custom(target, {})` gives a new record, or the error it raises: computed once
    for many new records."""
    try:
        return clean_custom(target, {})
    except InvalidInput as exc:
        return exc


def contact_check(
    data: dict[str, Any],
    *,
    creating: bool,
    custom: dict[str, Any] | InvalidInput | None = None,
    active_user_ids: set[int] | None = None,
) -> dict[str, Any]:
    """The values `contact_create` (creating) or `contact_update` would store, or the same
    InvalidInput they raise, without queries: the owner is checked against `active_user_ids`
    when given, `account_id` is left to the caller, a new contact's custom values are `custom`
    (from `custom_defaults`). `custom` and `tags` are not accepted here."""
    allowed = BULK_CONTACT_CREATE_FIELDS if creating else BULK_CONTACT_FIELDS
    _refuse_owned_elsewhere(data, allowed)
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput({k: ["unknown field"] for k in sorted(unknown)})
    out, errors = _clean_contact_texts(data)
    if "lifecycle_stage" in out and out["lifecycle_stage"] not in _STAGE_VALUES:
        _check_choice("lifecycle_stage", out["lifecycle_stage"], LifecycleStage.values)
    owner = out.get("owner_id")
    if owner is not None and active_user_ids is not None and owner not in active_user_ids:
        raise InvalidInput({"owner_id": ["no such active user"]})
    if creating:
        if isinstance(custom, InvalidInput):
            raise InvalidInput(custom.errors)
        out["custom"] = dict(custom or {})
        if not (out.get("first_name") or out.get("last_name") or out.get("email")) and not errors:
            errors["__all__"] = ["a contact needs a name or an email address"]
    if errors:
        raise InvalidInput(errors)
    return out


def account_check(
    data: dict[str, Any],
    *,
    current: Account | None,
    custom: dict[str, Any] | InvalidInput | None = None,
    active_user_ids: set[int] | None = None,
) -> dict[str, Any]:
    """The values `account_create` (`current` None) or `account_update` would store, or the same
    InvalidInput, without queries (see `contact_check`)."""
    unknown = set(data) - BULK_ACCOUNT_FIELDS
    if unknown:
        raise InvalidInput({k: ["unknown field"] for k in sorted(unknown)})
    out = dict(data)
    if "name" in out:
        out["name"] = str(out["name"]).strip()
        if not out["name"]:
            raise InvalidInput({"name": ["is required"]})
        if len(out["name"]) > 200:
            raise InvalidInput({"name": ["at most 200 characters"]})
    elif current is None:
        raise InvalidInput({"name": ["is required"]})
    if "domains" in out:
        out["domains"] = _clean_domains(out["domains"] or [])
    industry = out.get("industry", current.industry if current else Industry.OTHER)
    if industry not in _INDUSTRY_VALUES:
        _check_choice("industry", industry, Industry.values)
    if "industry_attributes" in out or "industry" in out:
        attrs = out.get(
            "industry_attributes",
            current.industry_attributes if current and industry == current.industry else {},
        )
        out["industry_attributes"] = clean_industry_attributes(industry, attrs or {})
    owner = out.get("owner_id")
    if owner is not None and active_user_ids is not None and owner not in active_user_ids:
        raise InvalidInput({"owner_id": ["no such active user"]})
    if current is None:
        if isinstance(custom, InvalidInput):
            raise InvalidInput(custom.errors)
        out["custom"] = dict(custom or {})
    return out


def _check_references(owner_ids: set[int], account_ids: set[int]) -> None:
    if owner_ids:
        found = set(
            User.objects.filter(pk__in=owner_ids, is_active=True).values_list("pk", flat=True)
        )
        if owner_ids - found:
            raise InvalidInput({"owner_id": ["no such active user"]})
    if account_ids:
        found = set(Account.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
        if account_ids - found:
            raise InvalidInput({"account_id": ["no such account"]})


_CONTACT_COLUMNS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "account_id",
    "owner_id",
    "lifecycle_stage",
    "consent",
    "custom",
    "erased_at",
    "created_at",
    "updated_at",
]


@transaction.atomic
def contacts_bulk_create(*, actor: Actor, contacts: list[dict[str, Any]]) -> list[int]:
    """Create many contacts from values checked by `contact_check(creating=True)`, each as
    `contact_create` stores it (primary ContactEmail, ContactPhone, one audit entry); returns
    their ids in order."""
    if not contacts:
        return []
    _check_references(
        {c["owner_id"] for c in contacts if c.get("owner_id") is not None},
        {c["account_id"] for c in contacts if c.get("account_id") is not None},
    )
    emails_in = {e for c in contacts for e in [c.get("email"), *(c.get("_emails") or [])] if e}
    if suppressed_values(Suppression.Kind.EMAIL, emails_in):
        raise InvalidInput({"email": [gettext(SUPPRESSED_MESSAGE)]})
    now = timezone.now()
    stamp = now.isoformat()
    lead, unknown = str(LifecycleStage.LEAD), str(ConsentState.UNKNOWN)
    rows: list[tuple[Any, ...]] = []
    for c in contacts:
        emails = c.get("_emails") or []
        rows.append(
            (
                c.get("first_name", ""),
                c.get("last_name", ""),
                c.get("email") or (emails[0] if emails else ""),
                c.get("phone", ""),
                c.get("title", ""),
                c.get("account_id"),
                c.get("owner_id"),
                c.get("lifecycle_stage", lead),
                unknown,
                c.get("custom") or {},
                None,
                now,
                now,
            )
        )
    ids = insert_rows(Contact, _CONTACT_COLUMNS, rows, with_ids=True)

    def email_rows() -> Iterator[tuple[Any, ...]]:
        for pk, c, row in zip(ids, contacts, rows, strict=True):
            email = row[2]
            if email:
                yield (pk, email, True)
            for extra in c.get("_emails") or []:
                if extra != email:
                    yield (pk, extra, False)

    changes = created_changes_of_rows(Contact, ["id", *_CONTACT_COLUMNS])

    def entries() -> Iterator[tuple[str, Any, str, dict[str, Any]]]:
        for pk, row in zip(ids, rows, strict=True):
            name = f"{row[0]} {row[1]}".strip()
            yield "create", pk, name or row[2] or f"#{pk}", changes((pk, *row[:-2], stamp, stamp))

    insert_rows(ContactEmail, ["contact_id", "email", "is_primary"], email_rows())
    insert_rows(
        ContactPhone,
        ["contact_id", "phone", "kind"],
        [(pk, row[3], "") for pk, row in zip(ids, rows, strict=True) if row[3]],
    )
    record_changes(actor=actor, model=Contact, entries=entries())
    return ids


@transaction.atomic
def contacts_bulk_update(*, actor: Actor, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """Apply many `contact_update(contact=..., **data)` calls, in order (a contact may appear
    more than once): one audit entry per call that changed something, emails and phones synced
    as `contact_update` does, the final values saved with one bulk UPDATE."""
    if not changes:
        return
    contacts = Contact.objects.select_for_update().in_bulk({pk for pk, _data in changes})
    if len(contacts) != len({pk for pk, _data in changes}):
        raise InvalidInput({"__all__": ["no such contact"]})
    owners = {d["owner_id"] for _pk, d in changes if d.get("owner_id") is not None}
    _check_references(
        set(owners), {d["account_id"] for _pk, d in changes if d.get("account_id") is not None}
    )
    now = timezone.now()
    fields: set[str] = set()
    synced: dict[int, list[str]] = {}
    phones: list[tuple[int, str]] = []
    entries: list[tuple[str, Any, str, dict[str, Any]]] = []
    for pk, data in changes:
        contact = contacts[pk]
        cleaned = contact_check(data, creating=False, active_user_ids=owners)
        emails = cleaned.pop("_emails")
        before = snapshot(contact)
        for name, value in cleaned.items():
            setattr(contact, name, value)
        contact.updated_at = now
        fields.update(cleaned)
        if emails:
            synced[pk] = emails
        if "phone" in cleaned and contact.phone:
            phones.append((pk, contact.phone))
        diffs = diff(before, snapshot(contact))
        diffs.pop("updated_at", None)
        if diffs:
            entries.append(("update", pk, str(contact), diffs))
    Contact.objects.bulk_update(
        [contacts[pk] for pk in dict.fromkeys(pk for pk, _data in changes)],
        sorted(fields | {"updated_at"}),
        batch_size=500,
    )
    for pk, emails in synced.items():
        _sync_emails(contacts[pk], emails)
    if phones:
        have = set(
            ContactPhone.objects.filter(contact_id__in={pk for pk, _p in phones}).values_list(
                "contact_id", "phone"
            )
        )
        wanted = [p for p in dict.fromkeys(phones) if p not in have]
        insert_rows(ContactPhone, ["contact_id", "phone", "kind"], [(*p, "") for p in wanted])
    record_changes(actor=actor, model=Contact, entries=entries)


_ACCOUNT_COLUMNS = [
    "name",
    "domains",
    "industry",
    "industry_attributes",
    "region",
    "owner_id",
    "custom",
    "created_at",
    "updated_at",
]


@transaction.atomic
def accounts_bulk_create(
    *,
    actor: Actor,
    accounts: list[dict[str, Any]],
    tags: list[list[str]] | None = None,
) -> list[int]:
    """Create many accounts from values checked by `account_check(current=None)`, each as
    `account_create` stores it (AccountDomain rows, one audit entry; with `tags`, each
    account's tag names, in the order of `accounts`); returns their ids."""
    if not accounts:
        return []
    if tags is not None and len(tags) != len(accounts):
        raise ValueError("tags must name the tags of each account")
    _check_references({a["owner_id"] for a in accounts if a.get("owner_id") is not None}, set())
    now = timezone.now()
    rows = [
        (
            a["name"],
            a.get("domains") or [],
            a.get("industry", Industry.OTHER),
            a.get("industry_attributes") or {},
            a.get("region", ""),
            a.get("owner_id"),
            a.get("custom") or {},
            now,
            now,
        )
        for a in accounts
    ]
    ids = insert_rows(Account, _ACCOUNT_COLUMNS, rows, with_ids=True)
    domain_rows = [(pk, d) for pk, row in zip(ids, rows, strict=True) for d in row[1]]
    insert_rows(AccountDomain, ["account_id", "domain"], domain_rows)
    entries: list[tuple[str, Any, str, dict[str, Any]]] = []
    for pk, row in zip(ids, rows, strict=True):
        values = dict(zip(_ACCOUNT_COLUMNS, row, strict=True))
        values["id"] = pk
        entries.append(("create", pk, row[0], created_changes(Account, values)))
    record_changes(actor=actor, model=Account, entries=entries)
    if tags:
        by_name = {t.name: t.pk for t in _tags({n for names in tags for n in names})}
        through = Account.tags.through
        through.objects.bulk_create(
            (
                through(account_id=pk, tag_id=by_name[name])
                for pk, names in zip(ids, tags, strict=True)
                for name in sorted({n.strip()[:60] for n in names if n and n.strip()})
            ),
            batch_size=2000,
        )
    return ids


@transaction.atomic
def accounts_bulk_update(*, actor: Actor, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """Apply many `account_update(account=..., **data)` calls in order (see
    `contacts_bulk_update`)."""
    if not changes:
        return
    accounts = Account.objects.select_for_update().in_bulk({pk for pk, _data in changes})
    if len(accounts) != len({pk for pk, _data in changes}):
        raise InvalidInput({"__all__": ["no such account"]})
    owners = {d["owner_id"] for _pk, d in changes if d.get("owner_id") is not None}
    _check_references(set(owners), set())
    now = timezone.now()
    fields: set[str] = set()
    entries: list[tuple[str, Any, str, dict[str, Any]]] = []
    for pk, data in changes:
        account = accounts[pk]
        cleaned = account_check(data, current=account, active_user_ids=owners)
        before = snapshot(account)
        for name, value in cleaned.items():
            setattr(account, name, value)
        account.updated_at = now
        fields.update(cleaned)
        if "domains" in cleaned:
            _sync_domains(account)
        diffs = diff(before, snapshot(account))
        diffs.pop("updated_at", None)
        if diffs:
            entries.append(("update", pk, str(account), diffs))
    Account.objects.bulk_update(
        [accounts[pk] for pk in dict.fromkeys(pk for pk, _data in changes)],
        sorted(fields | {"updated_at"}),
        batch_size=500,
    )
    record_changes(actor=actor, model=Account, entries=entries)
