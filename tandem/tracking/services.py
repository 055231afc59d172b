"""Every write of the tracking app: sources, event ingestion, identity resolution, channel rules.

Invariants:
- a source's write key exists only in the answer of `source_create` / `source_rotate`; the
  database keeps its hash; rotating or disabling (`source_revoke`) refuses the old key at once in
  this process and within `KEY_CACHE_SECONDS` in others;
- `events_store` writes all events of one request in one transaction, its touchpoints through
  `crm.services.touchpoints_record_bulk` (one statement per request on PostgreSQL, ON CONFLICT
  (message_id) DO NOTHING): a message sent many times (even concurrently) is stored once, and
  each send succeeds;
- identity resolution is "first claim wins": an identity (userId or anonymousId) once linked to a
  contact stays with it until contacts are merged; a userId identified with a second email keeps
  its contact, the email is not attached, and an `IdentityConflict` row plus a warning record it;
- when a visitor is identified, their anonymous (and userId-only) touchpoints without a contact
  are re-pointed to the contact (set-based UPDATE), nothing else in the timeline changes;
- publishing channel rules creates a new version and a queued `ReclassifyRun` for it (enqueued
  after commit); older queued runs are superseded, an older running one stops at its next chunk;
- `reclassify_start` returns the queued run of the latest version if there is one, refuses while
  one is running, and treats a running run without progress for `RECLASSIFY_STALE` as dead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department
from tandem.crm import services as crm
from tandem.crm.models import AccountDomain, Contact, ContactEmail, Identity
from tandem.crm.validation import clean_domain, clean_email
from tandem.tracking import bots as bots  # other apps use the bot rules through services
from tandem.tracking import links as links  # other apps create tracked links through services
from tandem.tracking import reclassify
from tandem.tracking.channels import (
    CHANNELS,
    RULE_FIELDS,
    compile_rules,
    forget_cached_rules,
    pattern_problem,
)
from tandem.tracking.consent import ConsentEntry as ConsentEntry
from tandem.tracking.consent import DoubleOptIn as DoubleOptIn  # the consent ledger's operations
from tandem.tracking.consent import consent_derived as consent_derived
from tandem.tracking.consent import consent_purposes_register as consent_purposes_register
from tandem.tracking.consent import consent_record as consent_record
from tandem.tracking.consent import consent_record_bulk as consent_record_bulk
from tandem.tracking.consent import consent_state as consent_state
from tandem.tracking.consent import double_opt_in_register as double_opt_in_register
from tandem.tracking.ingest import Event, Row, event_row
from tandem.tracking.models import (
    ChannelRule,
    ChannelRuleSet,
    GroupBinding,
    IdentityConflict,
    ReclassifyRun,
    Source,
    hash_write_key,
)

log = logging.getLogger("tandem.tracking")

# --- sources --------------------------------------------------------------------------------


@transaction.atomic
def source_create(
    *, actor: Actor, name: str, kind: str = Source.Kind.WEBSITE
) -> tuple[Source, str]:
    """A new source and its write key (returned once; only its hash is kept)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput({"name": ["is required"]})
    if len(name) > 100:
        raise InvalidInput({"name": ["at most 100 characters"]})
    if kind not in Source.Kind.values:
        raise InvalidInput({"kind": [f"must be one of {', '.join(Source.Kind.values)}"]})
    if Source.objects.filter(name=name).exists():
        raise InvalidInput({"name": ["a source with this name exists"]})
    key = Source.new_key()
    source = Source.objects.create(
        name=name, kind=kind, key_prefix=key[:10], key_hash=hash_write_key(key)
    )
    record_change(
        actor=actor,
        action="create",
        instance=source,
        changes=diff({}, snapshot(source, ["name", "kind", "key_prefix"])),
    )
    return source, key


@transaction.atomic
def source_revoke(*, actor: Actor, source: Source) -> Source:
    updated = Source.objects.filter(pk=source.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    source.refresh_from_db(fields=["revoked_at"])
    _forget_cached_source(source.pk)  # now, and again once committed (a lookup in between
    transaction.on_commit(lambda: _forget_cached_source(source.pk))  # saw the old row)
    if updated:
        record_change(
            actor=actor,
            action="update",
            instance=source,
            changes={
                "revoked_at": [None, source.revoked_at.isoformat() if source.revoked_at else None]
            },
        )
    return source


@transaction.atomic
def source_rotate(*, actor: Actor, source: Source) -> tuple[Source, str]:
    """A new write key for an active source (returned once; only its hash is kept); the old key
    authenticates nothing from now on. Refused for a disabled source."""
    key = Source.new_key()
    updated = Source.objects.filter(pk=source.pk, revoked_at__isnull=True).update(
        key_prefix=key[:10], key_hash=hash_write_key(key)
    )
    if not updated:
        raise InvalidInput({"__all__": [_("This source is disabled: its key cannot be rotated.")]})
    before = source.key_prefix
    source.refresh_from_db(fields=["key_prefix", "key_hash", "revoked_at"])
    _forget_cached_source(source.pk)
    transaction.on_commit(lambda: _forget_cached_source(source.pk))
    record_change(
        actor=actor,
        action="update",
        instance=source,
        changes={"key_prefix": [before, source.key_prefix]},
    )
    return source, key


# Write key -> source, cached per process for a few seconds (the /v1/* endpoints look it up on
# every request). A revocation clears this process's entry at once; other server processes
# refuse the key at the latest KEY_CACHE_SECONDS later.
KEY_CACHE_SECONDS = 5.0
_KEY_CACHE_LIMIT = 1000
_key_cache: dict[str, tuple[float, Source | None]] = {}


def source_for_key(key: str) -> Source | None:
    """The active source of a write key, or None (unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    key_hash = hash_write_key(key)
    now = time.monotonic()
    cached = _key_cache.get(key_hash)
    if cached is not None and cached[0] > now:
        return cached[1]
    source = (
        Source.objects.filter(key_hash=key_hash, revoked_at__isnull=True)
        .only("pk", "kind", "name")
        .first()
    )
    if len(_key_cache) >= _KEY_CACHE_LIMIT:  # e.g. a flood of made-up keys
        _key_cache.clear()
    _key_cache[key_hash] = (now + KEY_CACHE_SECONDS, source)
    return source


def _forget_cached_source(source_id: int) -> None:
    for key_hash, (_expires, cached) in list(_key_cache.items()):
        if cached is not None and cached.pk == source_id:
            _key_cache.pop(key_hash, None)


# --- identity resolution --------------------------------------------------------------------


def _lock(key: str) -> None:
    """Serialise work on one natural key (an email, a group) until the transaction ends.
    SQLite runs write transactions one at a time already."""
    if connection.vendor == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


def identity_contact(*, kind: str, value: str) -> int | None:
    if not value:
        return None
    return (
        Identity.objects.filter(kind=kind, value=value).values_list("contact_id", flat=True).first()
    )


def identity_link(*, kind: str, value: str, contact_id: int) -> int:
    """Link an identity to a contact unless it is linked already; the contact it resolves to."""
    Identity.objects.bulk_create(
        [Identity(kind=kind, value=value[:200], contact_id=contact_id)], ignore_conflicts=True
    )
    owner = identity_contact(kind=kind, value=value[:200])
    assert owner is not None
    return owner


def identities_link_bulk(*, links: Iterable[tuple[str, str, int]]) -> None:
    """`identity_link` for many (kind, value, contact id) at once: an identity linked already
    keeps its contact (first claim wins); inserted in batches, conflicts skipped."""
    Identity.objects.bulk_create(
        (Identity(kind=kind, value=value[:200], contact_id=pk) for kind, value, pk in links),
        ignore_conflicts=True,
        batch_size=2000,
    )


def _text_trait(traits: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = traits.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


def trait_names(traits: dict[str, Any]) -> dict[str, str]:
    """First and last name from identify traits: `firstName`/`lastName` (or snake case) win;
    Segment's `name` trait (the full name) fills what they leave out, split at its first space
    ("Ann Marie Lee" -> "Ann", "Marie Lee"; one word is a first name)."""
    first = _text_trait(traits, "firstName", "first_name")
    last = _text_trait(traits, "lastName", "last_name")
    name_first, _space, name_last = _text_trait(traits, "name").partition(" ")
    return {"first_name": (first or name_first)[:100], "last_name": (last or name_last)[:100]}


def _fill_blanks(contact_id: int, traits: dict[str, Any]) -> None:
    contact = Contact.objects.get(pk=contact_id)
    values = {
        **trait_names(traits),
        "phone": traits.get("phone"),
        "title": traits.get("title"),
    }
    fill = {
        k: str(v)[:100]
        for k, v in values.items()
        if isinstance(v, str) and v.strip() and not getattr(contact, k)
    }
    if fill:
        try:
            crm.contact_update(actor=Actor.system(), contact=contact, **fill)
        except InvalidInput:
            log.info("identify traits not applied to contact %s", contact_id)


def _contact_for_email(email: str, traits: dict[str, Any]) -> int:
    _lock(f"email:{email}")
    existing = crm.contact_duplicates_of(email=email)
    if existing:
        return existing[0]
    return crm.contact_create(actor=Actor.system(), email=email, **trait_names(traits)).pk


def _erased_person(event: Event) -> bool:
    """Whether an identify or alias call names a person who was erased (crm's suppression)."""
    email = event.traits.get("email")
    if crm.suppressed(
        email=str(email) if isinstance(email, str) else "",
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
    ):
        return True
    previous = event.previous_id
    return bool(previous) and crm.suppressed(user_id=previous, anonymous_id=previous)


def identify_apply(event: Event) -> dict[str, Any]:
    """Resolve an identify call to a contact; link its ids; adopt its anonymous touchpoints.
    Returns properties to add to the identify touchpoint (e.g. a conflict)."""
    extra: dict[str, Any] = {}
    try:
        email = (
            clean_email(str(event.traits.get("email") or "")) if event.traits.get("email") else ""
        )
    except ValueError:
        email = ""
    contact_id = identity_contact(kind=Identity.Kind.USER_ID, value=event.user_id)
    if contact_id is None:
        contact_id = identity_contact(kind=Identity.Kind.ANONYMOUS_ID, value=event.anonymous_id)
    if contact_id is not None and email:
        owners = crm.contact_duplicates_of(email=email)
        if contact_id not in owners:
            has_email = ContactEmail.objects.filter(contact_id=contact_id).exists()
            if has_email or owners:
                IdentityConflict.objects.create(
                    user_id=event.user_id or event.anonymous_id,
                    kept_contact_id=contact_id,
                    claimed_email=email,
                    message_id=event.message_id,
                )
                log.warning(
                    "identity conflict: %s claimed by %s, kept contact %s",
                    event.user_id or event.anonymous_id,
                    email,
                    contact_id,
                )
                extra["identity_conflict"] = {"claimed_email": email, "kept_contact": contact_id}
            else:
                crm.contact_update(
                    actor=Actor.system(), contact=Contact(pk=contact_id), email=email
                )
    if contact_id is None and email:
        contact_id = _contact_for_email(email, event.traits)
    if contact_id is None:
        return extra
    if event.user_id:
        contact_id = identity_link(
            kind=Identity.Kind.USER_ID, value=event.user_id, contact_id=contact_id
        )
    if event.anonymous_id:
        identity_link(
            kind=Identity.Kind.ANONYMOUS_ID, value=event.anonymous_id, contact_id=contact_id
        )
    _fill_blanks(contact_id, event.traits)
    crm.touchpoints_adopt(
        contact_id=contact_id, anonymous_ids=[event.anonymous_id], user_ids=[event.user_id]
    )
    return extra


def alias_apply(event: Event) -> dict[str, Any]:
    """previousId and userId are the same person: link, or merge two known contacts."""
    current = identity_contact(kind=Identity.Kind.USER_ID, value=event.user_id)
    previous = identity_contact(kind=Identity.Kind.USER_ID, value=event.previous_id)
    if previous is None:
        previous = identity_contact(kind=Identity.Kind.ANONYMOUS_ID, value=event.previous_id)
    if current is not None and previous is not None and current != previous:
        crm.contacts_merge(
            actor=Actor.system(), survivor=Contact(pk=current), merged=Contact(pk=previous)
        )
        return {"merged_contact": previous}
    if current is not None and previous is None:
        identity_link(kind=Identity.Kind.ANONYMOUS_ID, value=event.previous_id, contact_id=current)
    elif previous is not None and current is None:
        current = identity_link(
            kind=Identity.Kind.USER_ID, value=event.user_id, contact_id=previous
        )
    if current is not None:
        crm.touchpoints_adopt(
            contact_id=current,
            anonymous_ids=[event.previous_id],
            user_ids=[event.previous_id, event.user_id],
        )
    return {}


def group_apply(event: Event, source_id: int) -> int:
    """The account of a group call (bound once per source and groupId); the caller's contact
    joins it if they have no account yet. Returns the account id."""
    _lock(f"group:{source_id}:{event.group_id}")
    bound = (
        GroupBinding.objects.filter(source_id=source_id, group_id=event.group_id)
        .values_list("account_id", flat=True)
        .first()
    )
    account_id = bound
    if account_id is None:
        domain = ""
        for key in ("domain", "website"):
            try:
                domain = clean_domain(str(event.traits.get(key) or ""))
                break
            except ValueError:
                continue
        if domain:
            account_id = (
                AccountDomain.objects.filter(domain=domain)
                .values_list("account_id", flat=True)
                .order_by("account_id")
                .first()
            )
        if account_id is None:
            name = str(event.traits.get("name") or event.group_id)[:200].strip() or event.group_id
            account_id = crm.account_create(
                actor=Actor.system(), name=name, domains=[domain] if domain else []
            ).pk
        GroupBinding.objects.bulk_create(
            [GroupBinding(source_id=source_id, group_id=event.group_id, account_id=account_id)],
            ignore_conflicts=True,
        )
    contact_id = identity_contact(
        kind=Identity.Kind.USER_ID, value=event.user_id
    ) or identity_contact(kind=Identity.Kind.ANONYMOUS_ID, value=event.anonymous_id)
    if contact_id is not None:
        contact = Contact.objects.get(pk=contact_id)
        if contact.account_id is None:
            crm.contact_update(actor=Actor.system(), contact=contact, account_id=account_id)
        crm.touchpoints_account_fill(contact_id=contact_id, account_id=account_id)
    return account_id


# --- storing events -------------------------------------------------------------------------


@transaction.atomic
def events_store(*, source: Source, items: list[Row | Event]) -> int:
    """Store one request's calls in one transaction; returns how many touchpoints were new.

    `items` come from `ingest.prepare`: rows ready to store (track/page/screen) and parsed
    identify/alias/group calls, whose identity work runs here first, in order. Then every row
    is inserted at once, each row's contact (and account) resolved from its userId, else its
    anonymousId, as known at that moment — including identities linked by this request. Calls
    of an erased person (crm's suppression of their address, userId or anonymousId) are dropped."""
    rows: list[Row] = []
    erased_users, erased_visitors = crm.suppressed_segment_ids(
        {i.user_id if isinstance(i, Event) else i["user_id"] for i in items},
        {i.anonymous_id if isinstance(i, Event) else i["anonymous_id"] for i in items},
    )
    for item in items:
        if not isinstance(item, Event):
            if item["user_id"] in erased_users or item["anonymous_id"] in erased_visitors:
                continue  # an erased person is not tracked again
            rows.append(item)
            continue
        extra: dict[str, Any] = {}
        account_id: int | None = None
        if item.type in ("identify", "alias") and _erased_person(item):
            continue  # an erased person is not identified again; the call leaves no row
        if item.type == "identify":
            extra = identify_apply(item)
        elif item.type == "alias":
            extra = alias_apply(item)
        elif item.type == "group":
            account_id = group_apply(item, source.pk)
        row = event_row(item, extra=extra)
        row["account_id"] = account_id
        rows.append(row)
    return crm.touchpoints_record_bulk(rows=rows, source=source.name)


# --- channel rules --------------------------------------------------------------------------


def channel_rules_clean(rules: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The rules as stored (every field a string), or InvalidInput naming each bad field as
    `rules.<number>.<field>`."""
    cleaned: list[dict[str, str]] = []
    errors: dict[str, list[str]] = {}
    for number, rule in enumerate(rules, start=1):
        row = {f: str(rule.get(f) or "").strip() for f in (*RULE_FIELDS, "channel", "department")}
        for f in RULE_FIELDS:
            problem = pattern_problem(row[f]) if row[f] else ""
            if problem:
                errors.setdefault(f"rules.{number}.{f}", []).append(problem)
        if row["channel"] not in CHANNELS:
            errors.setdefault(f"rules.{number}.channel", []).append(_("unknown channel"))
        if row["department"] not in Department.values:
            errors.setdefault(f"rules.{number}.department", []).append(_("unknown department"))
        cleaned.append(row)
    if not cleaned:
        errors["rules"] = [_("at least one rule is needed")]
    if errors:
        raise InvalidInput(errors)
    return cleaned


@transaction.atomic
def channel_rules_publish(
    *, actor: Actor, rules: list[dict[str, Any]], note: str = ""
) -> ChannelRuleSet:
    """Publish a new version of the channel rules; past touchpoints are reclassified after
    commit by a background task."""
    cleaned = channel_rules_clean(rules)
    compile_rules(cleaned)
    _lock("channel-rules")
    latest = ChannelRuleSet.objects.order_by("-version").values_list("version", flat=True).first()
    ruleset = ChannelRuleSet.objects.create(
        version=(latest or 0) + 1, note=note[:200], created_by=actor.user
    )
    ChannelRule.objects.bulk_create(
        [ChannelRule(ruleset=ruleset, position=i, **row) for i, row in enumerate(cleaned)]
    )
    record_change(
        actor=actor,
        action="create",
        instance=ruleset,
        changes={"version": [None, ruleset.version], "rules": [None, len(cleaned)]},
    )

    transaction.on_commit(forget_cached_rules)
    reclassify_start(actor=actor)
    return ruleset


def channel_rules_preview(
    *,
    rules: list[dict[str, Any]],
    days: int = reclassify.PREVIEW_DAYS,
    limit: int = reclassify.PREVIEW_LIMIT,
) -> reclassify.Preview:
    """What publishing `rules` would change among the touchpoints of the last `days` days (the
    newest `limit`), counted from -> to; writes nothing. InvalidInput as `channel_rules_publish`
    would raise it."""
    return reclassify.preview(compile_rules(channel_rules_clean(rules)), days=days, limit=limit)


# --- reclassification runs ------------------------------------------------------------------

RECLASSIFY_STALE = dt.timedelta(minutes=10)


@transaction.atomic
def reclassify_start(*, actor: Actor, background: bool = True) -> ReclassifyRun:
    """A queued run for the rules in force: the one already queued, or a new one (enqueued for a
    worker after commit when `background`; else the caller executes it with
    `reclassify.run_reclassification`). Older queued runs are superseded. Refused while a run of
    this version is making progress."""
    from tandem.tracking.reclassify import latest_version

    _lock("channel-rules")
    version = latest_version()
    now = timezone.now()
    ReclassifyRun.objects.filter(status=ReclassifyRun.Status.QUEUED, version__lt=version).update(
        status=ReclassifyRun.Status.SUPERSEDED, finished_at=now, updated_at=now
    )
    ReclassifyRun.objects.filter(
        status=ReclassifyRun.Status.RUNNING, updated_at__lt=now - RECLASSIFY_STALE
    ).update(
        status=ReclassifyRun.Status.FAILED,
        finished_at=now,
        error="interrupted: no progress for 10 minutes",
    )
    active = ReclassifyRun.objects.filter(version=version, status__in=ReclassifyRun.ACTIVE).first()
    if active is not None and active.status == ReclassifyRun.Status.RUNNING:
        raise InvalidInput({"__all__": [_("A reclassification with these rules is running.")]})
    if active is not None:
        return active
    run = ReclassifyRun.objects.create(version=version, created_by=actor.user)
    record_change(actor=actor, action="create", instance=run, changes={"version": [None, version]})
    if background:
        from tandem.tracking.tasks import reclassify_run

        transaction.on_commit(lambda: reclassify_run.enqueue(run.pk))
    return run


@transaction.atomic
def reclassify_cancel(*, actor: Actor, run: ReclassifyRun) -> ReclassifyRun:
    """Stop a run: a queued (or dead) one at once, a running one after its current chunk.
    Refused when the run has already ended."""
    now = timezone.now()
    S = ReclassifyRun.Status
    mine = ReclassifyRun.objects.filter(pk=run.pk)
    stopped = mine.filter(
        Q(status=S.QUEUED) | Q(status=S.RUNNING, updated_at__lt=now - RECLASSIFY_STALE)
    ).update(status=S.CANCELLED, cancel_requested=True, finished_at=now, updated_at=now)
    if not stopped and not mine.filter(status=S.RUNNING).update(cancel_requested=True):
        raise InvalidInput({"__all__": [_("This reclassification has already ended.")]})
    record_change(
        actor=actor, action="update", instance=run, changes={"cancel_requested": [False, True]}
    )
    run.refresh_from_db()
    return run
