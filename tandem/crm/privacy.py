"""A person's privacy rights: the full export of their data, its erasure, and the suppression
that keeps an erased person from being created or mailed again.

Invariants:
- the rows of a person are found by walking Django's model graph, never by a list: every model
  with a foreign key, one-to-one or generic relation to `Contact`, then (transitively) every model
  whose rows those rows own (a CASCADE foreign key to them), plus the audit entries about any of
  those rows. Rows that name a contact without a relation (an import's row report) come from the
  owning app through `contact_rows_register`. A new model is in the export and the erasure
  without a change here (a test fails if a model related to `Contact` is missing);
- `contact_erase` is the one way to erase: one transaction, audited, idempotent. The contact row
  and its touchpoints stay (channel, department, kind, campaign, content, time, value and the
  keys reclassification reads), so campaign totals and attribution credit do not change; what
  could name the person goes: names, addresses, phones, titles, custom values, tags, shares,
  identities, IP addresses, user agents, Segment ids, and every text or JSON value of the
  person's rows and audit entries that holds their address, phone or name. The person's email
  addresses and phones are also removed from every other row of every table (a sweep), so a
  database dump holds none of them; another contact with one of the person's addresses is the
  same person (the duplicate rule) and is erased with it, while another contact's phone (a
  shared switchboard) is left alone;
- what stays is a `Suppression` row per address, phone and Segment id: HMAC-SHA256 of the
  normalised value keyed by `settings.PRIVACY_SUPPRESSION_SECRET` (default: SECRET_KEY). Contact
  creation (`contact_create`, `contacts_bulk_create`), imports, Segment identify, website forms and
  subscriptions ask `suppressed` first, so the person is not re-created or re-identified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from tandem.core.audit import Actor, record_change, snapshot
from tandem.core.models import AuditEntry
from tandem.crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Identity,
    Suppression,
)

ERASED = "[erased]"
SUPPRESSED_MESSAGE = gettext_noop(
    "This address belongs to a person who asked to be erased; it cannot be added again"
)
ERASED_MESSAGE = gettext_noop("This contact was erased at the person's request")
# Rows that only describe the person: deleted on erasure (nothing counts them).
_DELETED_ON_ERASE: tuple[type[models.Model], ...] = (ContactEmail, ContactPhone, Identity)
# Columns and JSON keys that hold personal data whatever their value.
PERSONAL_NAMES = frozenset(
    {
        "ip",
        "user_agent",
        "useragent",
        "anonymous_id",
        "anonymousid",
        "user_id",
        "userid",
        "traits",
        "context",
        "email",
        "claimed_email",
        "name",
        "accepted_name",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "phone",
        "address",
        "notes",
    }
)
# The records of contacts: never swept; a contact holding the address is erased whole.
_CONTACT_RECORDS: tuple[type[models.Model], ...] = (Contact, ContactEmail, ContactPhone)
# Models whose own rows are never a person's data (the suppression itself).
_NOT_PERSONAL: tuple[type[models.Model], ...] = (Suppression,)
_MAX_DEPTH = 3
# Columns an aggregate counts by: never changed by erasure (campaign totals, attribution).
_KEPT: dict[str, frozenset[str]] = {
    "crm.Touchpoint": frozenset(
        {"channel", "department", "kind", "campaign", "content", "source", "message_id"}
    ),
}

# --- suppression ------------------------------------------------------------------------------


def _secret() -> bytes:
    secret = getattr(settings, "PRIVACY_SUPPRESSION_SECRET", "") or settings.SECRET_KEY
    return str(secret).encode()


def _normalised(kind: str, value: str) -> str:
    value = value.strip()
    if kind == Suppression.Kind.EMAIL:
        return value.lower()
    if kind == Suppression.Kind.PHONE:
        return re.sub(r"[^\d+]", "", value)
    return value


def suppression_digest(kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of the normalised value: the only trace an erased person leaves."""
    message = f"tandem.crm.suppression:{kind}:{_normalised(kind, value)}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def suppressed_values(kind: str, values: Iterable[str]) -> set[str]:
    """Those of `values` (of one kind) that belong to an erased person: one query."""
    by_digest = {suppression_digest(kind, v): v for v in values if v and v.strip()}
    if not by_digest:
        return set()
    found = Suppression.objects.filter(kind=kind, digest__in=list(by_digest)).values_list(
        "digest", flat=True
    )
    return {by_digest[d] for d in found}


def suppressed_emails(emails: Iterable[str]) -> set[str]:
    """Those of `emails` (cleaned addresses) that belong to an erased person: one query."""
    return suppressed_values(Suppression.Kind.EMAIL, emails)


def suppressed_segment_ids(
    user_ids: Iterable[str], anonymous_ids: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(userIds, anonymousIds) among those given that belong to an erased person: one query."""
    asked = {
        (Suppression.Kind.USER_ID, suppression_digest(Suppression.Kind.USER_ID, v)): v
        for v in user_ids
        if v
    }
    asked |= {
        (Suppression.Kind.ANONYMOUS_ID, suppression_digest(Suppression.Kind.ANONYMOUS_ID, v)): v
        for v in anonymous_ids
        if v
    }
    if not asked:
        return set(), set()
    q = Q()
    for kind in (Suppression.Kind.USER_ID, Suppression.Kind.ANONYMOUS_ID):
        digests = [d for k, d in asked if k == kind]
        if digests:
            q |= Q(kind=kind, digest__in=digests)
    users: set[str] = set()
    anonymous: set[str] = set()
    for found, digest in Suppression.objects.filter(q).values_list("kind", "digest"):
        key = (Suppression.Kind(found), digest)
        (users if found == Suppression.Kind.USER_ID else anonymous).add(asked[key])
    return users, anonymous


def suppressed(
    *, email: str = "", phone: str = "", user_id: str = "", anonymous_id: str = ""
) -> bool:
    """Whether any of the given values belongs to an erased person."""
    asked = [
        (Suppression.Kind.EMAIL, email),
        (Suppression.Kind.PHONE, phone),
        (Suppression.Kind.USER_ID, user_id),
        (Suppression.Kind.ANONYMOUS_ID, anonymous_id),
    ]
    q = Q()
    for kind, value in asked:
        if value and value.strip():
            q |= Q(kind=kind, digest=suppression_digest(kind, value))
    return bool(q) and Suppression.objects.filter(q).exists()


# --- the person's rows ------------------------------------------------------------------------

# What apps above crm do first when a person is erased (tracking withdraws their consent in the
# ledger); each registers one callable in its AppConfig.ready().
EraseHook = Callable[[Actor, Contact], None]
_erase_hooks: list[EraseHook] = []


def contact_erase_hook_register(hook: EraseHook) -> None:
    """Call `hook(actor, contact)` inside every erasure's transaction, before anything goes."""
    if hook not in _erase_hooks:
        _erase_hooks.append(hook)


RowsOf = Callable[[int], models.QuerySet[Any]]
_registered: dict[str, RowsOf] = {}


def contact_rows_register(label: str, rows_of: RowsOf) -> None:
    """Rows of a model that name a contact without a relation (`rows_of(contact_id)`), for the
    export and the erasure; registered by the owning app in its AppConfig.ready()."""
    _registered[label] = rows_of


def register_admin_log() -> None:
    """Django admin's log names a changed contact by content type and id (no relation)."""
    from django.contrib.admin.models import LogEntry

    def rows_of(contact_id: int) -> models.QuerySet[Any]:
        contact_type = ContentType.objects.get_for_model(Contact)
        return LogEntry.objects.filter(content_type=contact_type, object_id=str(contact_id))

    contact_rows_register("admin.LogEntry", rows_of)


@dataclass
class PersonRows:
    """Every row of the person by model label (the contact itself under `crm.Contact`)."""

    rows: dict[str, list[models.Model]] = field(default_factory=dict)

    def add(self, model: type[models.Model], found: Iterable[models.Model]) -> list[models.Model]:
        have = self.rows.setdefault(model._meta.label, [])
        seen = {row.pk for row in have}
        new = [row for row in found if row.pk not in seen]
        have.extend(new)
        return new


def related_models() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every concrete relation to `Contact`: foreign keys, one-to-one,
    and generic foreign keys (the field named by its content type)."""
    out: list[tuple[type[models.Model], str]] = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            to_contact = f.concrete and f.related_model is Contact and not f.many_to_many
            if isinstance(f, GenericForeignKey) or to_contact:
                out.append((model, f.name))
    return out


def _owned_children(model: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """(model, field) of the relations whose rows die with a row of `model` (CASCADE)."""
    out = []
    for rel in model._meta.related_objects:
        if rel.many_to_many or not rel.field.concrete:
            continue
        if rel.on_delete is models.CASCADE and rel.related_model is not Contact:
            out.append((rel.related_model, rel.field.name))
    return out


def person_rows(contact: Contact) -> PersonRows:
    """The contact and every row that refers to it or is owned by such a row (see Invariants)."""
    found = PersonRows()
    found.add(Contact, [contact])
    contact_type = ContentType.objects.get_for_model(Contact)
    frontier: list[tuple[type[models.Model], list[models.Model]]] = []
    for model, name in related_models():
        if model in _NOT_PERSONAL:
            continue
        f = model._meta.get_field(name)
        if isinstance(f, GenericForeignKey):
            query = {f.ct_field: contact_type, f.fk_field: contact.pk}
        else:
            query = {name: contact}
        new = found.add(model, model._base_manager.filter(**query).order_by("pk"))
        frontier.append((model, new))
    for rows_of in _registered.values():
        registered = rows_of(contact.pk).order_by("pk")
        found.add(registered.model, registered)
    depth = 0
    while frontier and depth < _MAX_DEPTH:
        depth += 1
        next_frontier = []
        for model, parents in frontier:
            if not parents:
                continue
            for child, name in _owned_children(model):
                new = []
                for pks in _chunks([r.pk for r in parents]):
                    rows = child._base_manager.filter(**{f"{name}__in": pks}).order_by("pk")
                    new += found.add(child, rows)
                next_frontier.append((child, new))
        frontier = next_frontier
    for label, items in list(found.rows.items()):
        if label != AuditEntry._meta.label:
            for ids in _chunks([str(r.pk) for r in items]):
                entries = AuditEntry.objects.filter(model=label, object_id__in=ids)
                found.add(AuditEntry, entries.order_by("pk"))
    return found


def _chunks(values: list[Any], size: int = 2000) -> Iterable[list[Any]]:
    """`values` in lists of at most `size` (SQLite takes at most 32,766 parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- export -----------------------------------------------------------------------------------


def contact_export(*, actor: Actor, contact: Contact) -> dict[str, Any]:
    """Everything Tandem holds about the person, JSON-ready: `contact` (with its tags and shares)
    and `rows` by model label (every related model is a key, empty or not). Audited."""
    with transaction.atomic():
        found = person_rows(contact)
        rows: dict[str, list[dict[str, Any]]] = {
            model._meta.label: [] for model, _ in related_models() if model not in _NOT_PERSONAL
        }
        for label in [*_registered, AuditEntry._meta.label]:
            rows.setdefault(label, [])
        for label, items in sorted(found.rows.items()):
            if label != Contact._meta.label:
                rows[label] = [snapshot(r) for r in items]
        person = snapshot(contact)
        person["tags"] = sorted(contact.tags.values_list("name", flat=True))
        person["shared_with"] = sorted(contact.shared_with.values_list("pk", flat=True))
        record_change(
            actor=actor,
            action=AuditEntry.Action.EXPORT,
            instance=contact,
            changes={"personal_data": [None, sum(len(v) for v in rows.values())]},
        )
    return {
        "generated_at": timezone.now().isoformat(),
        "contact": person,
        "rows": dict(sorted(rows.items())),
    }


# --- erasure ----------------------------------------------------------------------------------


@dataclass
class Needles:
    """What names the person, found in their rows before anything is erased."""

    strong: set[str] = field(default_factory=set)  # addresses, phones: swept from every table
    weak: set[str] = field(default_factory=set)  # names, ids, IPs: only in the person's rows

    def pattern(self, *, weak: bool = True) -> re.Pattern[str] | None:
        """One case-insensitive pattern: strong values anywhere, weak ones as whole words (so
        "Ann" leaves "annual" alone); longest first."""
        parts = [(len(n), re.escape(n)) for n in self.strong if len(n) >= 3]
        if weak:
            parts += [(len(n), rf"(?<!\w){re.escape(n)}(?!\w)") for n in self.weak if len(n) >= 2]
        if not parts:
            return None
        return re.compile("|".join(p for _, p in sorted(parts, reverse=True)), re.IGNORECASE)


Pattern = re.Pattern[str] | None


def _scrub_text(value: str, needles: Pattern) -> str:
    return value if needles is None else needles.sub(ERASED, value)


def _scrub_json(value: Any, needles: Pattern) -> Any:
    if isinstance(value, dict):
        return {
            k: (ERASED if str(k).lower() in PERSONAL_NAMES else _scrub_json(v, needles))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_json(v, needles) for v in value]
    if isinstance(value, str):
        return _scrub_text(value, needles)
    return value


def _scrubbed_fields(row: models.Model, needles: Pattern) -> dict[str, Any]:
    """The new values of a person's row: personal columns blanked, needles replaced."""
    changes: dict[str, Any] = {}
    for f in row._meta.concrete_fields:
        if f.primary_key or f.is_relation or f.name in _KEPT.get(row._meta.label, ()):
            continue
        value = getattr(row, f.attname)
        if value is None:
            continue
        personal = f.name.lower() in PERSONAL_NAMES
        new: Any = value
        if isinstance(f, models.GenericIPAddressField):
            new = None if f.null else "0.0.0.0"  # noqa: S104 - a placeholder, not a bind address
        elif isinstance(f, models.JSONField):
            new = _scrub_json(value, needles)
        elif isinstance(value, str) and isinstance(f, models.CharField | models.TextField):
            blank = personal and not f.unique and not f.choices
            new = "" if blank else _scrub_text(value, needles)
            if f.max_length is not None and len(new) > f.max_length:
                new = new[: f.max_length]
        if new != value:
            changes[f.attname] = new
    return changes


def _needles(contact: Contact, found: PersonRows) -> Needles:
    needles = Needles()
    emails = {contact.email} | {r.email for r in found.rows.get("crm.ContactEmail", [])}  # type: ignore[attr-defined]
    phones = {contact.phone} | {r.phone for r in found.rows.get("crm.ContactPhone", [])}  # type: ignore[attr-defined]
    needles.strong = {v.strip().lower() for v in emails | phones if v and v.strip()}
    # a phone also as its digits alone ("+49 30 555" and "4930555" are the same number)
    needles.strong |= {d for v in phones if v and len(d := re.sub(r"\D", "", v)) >= 7}
    names = [contact.first_name.strip(), contact.last_name.strip()]
    full = " ".join(n for n in names if n)
    needles.weak = {n.lower() for n in [*names, full] if n}
    needles.weak |= {r.value.lower() for r in found.rows.get("crm.Identity", [])}  # type: ignore[attr-defined]
    for items in found.rows.values():
        for row in items:
            for f in row._meta.concrete_fields:
                if isinstance(f, models.GenericIPAddressField) and getattr(row, f.attname):
                    needles.weak.add(str(getattr(row, f.attname)).lower())
            props = getattr(row, "properties", None)
            if isinstance(props, dict):
                context = props.get("context")
                inner = context.get("ip") if isinstance(context, dict) else None
                for ip in (props.get("ip"), inner):
                    if isinstance(ip, str) and ip:
                        needles.weak.add(ip.lower())
    return needles


def _suppress(contact: Contact, found: PersonRows) -> None:
    values: list[tuple[str, str]] = []
    for row in found.rows.get("crm.ContactEmail", []):
        values.append((Suppression.Kind.EMAIL, row.email))  # type: ignore[attr-defined]
    if contact.email:
        values.append((Suppression.Kind.EMAIL, contact.email))
    for row in found.rows.get("crm.ContactPhone", []):
        values.append((Suppression.Kind.PHONE, row.phone))  # type: ignore[attr-defined]
    if contact.phone:
        values.append((Suppression.Kind.PHONE, contact.phone))
    for row in found.rows.get("crm.Identity", []):
        values.append((str(row.kind), row.value))  # type: ignore[attr-defined]
    Suppression.objects.bulk_create(
        [Suppression(kind=k, digest=suppression_digest(k, v)) for k, v in values if v.strip()],
        ignore_conflicts=True,
    )


def _json_forms(needle: str) -> set[str]:
    """The needle as text and as JSON writes it (SQLite's JSON text escapes non-ASCII)."""
    return {needle, json.dumps(needle)[1:-1]}


def _sweep(values: set[str], needles: Pattern, skip: set[tuple[str, Any]]) -> None:
    """Replace the person's addresses and phones in every text and JSON column of every table."""
    values = {v for v in values if len(v) >= 3}
    if not values or needles is None:
        return
    for model in apps.get_models():
        if model in _NOT_PERSONAL or model._meta.proxy or not model._meta.managed:
            continue
        if model in _CONTACT_RECORDS:  # another contact's address or phone: see contact_erase
            continue
        texts = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.is_relation
        ]
        if not texts:
            continue
        q = Q()
        for f in texts:
            for value in values:
                for form in _json_forms(value):
                    q |= Q(**{f"{f.name}__icontains": form})
        for row in model._base_manager.filter(q).order_by("pk").iterator():
            if (model._meta.label, row.pk) in skip:
                continue
            changes = _scrubbed_fields_only_text(row, needles, texts)
            if changes:
                model._base_manager.filter(pk=row.pk).update(**changes)


def _scrubbed_fields_only_text(
    row: models.Model, needles: Pattern, texts: Sequence[models.Field[Any, Any]]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for f in texts:
        value = getattr(row, f.attname)
        if isinstance(value, str):
            new: Any = _scrub_text(value, needles)
            if f.unique and new != value:
                new = f"{ERASED}{row.pk}"[: f.max_length or None]
        elif value is not None:
            new = _scrub_json_values(value, needles)
        else:
            continue
        if new != value:
            changes[f.attname] = new
    return changes


def _scrub_json_values(value: Any, needles: Pattern) -> Any:
    """Like `_scrub_json` but keeping keys: for rows of other people, only the needle goes."""
    if isinstance(value, dict):
        return {k: _scrub_json_values(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json_values(v, needles) for v in value]
    if isinstance(value, str):
        return _scrub_text(value, needles)
    return value


ERASE_CONTACT_FIELDS = {
    "first_name": "",
    "last_name": "",
    "email": "",
    "phone": "",
    "title": "",
    "custom": {},
}


@transaction.atomic
def contact_erase(*, actor: Actor, contact: Contact) -> Contact:
    """Erase the person (see Invariants); the contact stays as "#<id>" with `erased_at` set."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.erased_at is not None:
        return contact
    for hook in _erase_hooks:
        hook(actor, contact)
    found = person_rows(contact)
    needles = _needles(contact, found)
    addresses = {getattr(r, "email", "") for r in found.rows.get("crm.ContactEmail", [])}
    same_person = sorted(
        set(
            ContactEmail.objects.filter(email__in=addresses - {""})
            .exclude(contact_id=contact.pk)
            .values_list("contact_id", flat=True)
        )
    )
    words = needles.pattern()
    _suppress(contact, found)
    done: set[tuple[str, Any]] = set()
    for label, rows in found.rows.items():
        if label == Contact._meta.label or not rows:
            continue
        model = type(rows[0])
        if model in _DELETED_ON_ERASE:
            for pks in _chunks([r.pk for r in rows]):
                model._base_manager.filter(pk__in=pks).delete()
            continue
        for row in rows:
            done.add((label, row.pk))
            if model is AuditEntry:
                changes = {
                    "object_repr": _scrub_text(row.object_repr, words),  # type: ignore[attr-defined]
                    "changes": _audit_changes(row, contact, words),  # type: ignore[arg-type]
                }
            else:
                changes = _scrubbed_fields(row, words)
            if changes:
                model._base_manager.filter(pk=row.pk).update(**changes)
    # audit entries that mention the person elsewhere (another record's change naming them)
    _sweep(needles.strong, needles.pattern(weak=False), done)
    contact.tags.clear()
    contact.shared_with.clear()
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(**ERASE_CONTACT_FIELDS, erased_at=now)
    contact.refresh_from_db()
    record_change(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=contact,
        changes={"erased_at": [None, now.isoformat()]},
    )
    for other in same_person:  # a contact with one of the addresses is the same person
        contact_erase(actor=actor, contact=Contact(pk=other))
    return contact


def _audit_changes(entry: AuditEntry, contact: Contact, needles: Pattern) -> Any:
    """An audit entry about the contact keeps which fields changed, not their values; others
    lose the needles."""
    if entry.model == Contact._meta.label and entry.object_id == str(contact.pk):
        return {
            key: (value if key in {"lifecycle_stage", "consent", "erased_at"} else ERASED)
            for key, value in (entry.changes or {}).items()
        }
    return _scrub_json(entry.changes, needles)
