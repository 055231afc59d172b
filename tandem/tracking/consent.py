"""The consent ledger: the one place consent is recorded, and the one writer of `Contact.consent`.

Website forms (here), subscriptions, unsubscribe links and complaints (marketing) all append
their rows with `consent_record` (the demo and other loads of many rows with
`consent_record_bulk`); nothing else creates a `ConsentRecord` or writes the contact's overall
consent.

Invariants:
- rows are only appended (the model refuses changes and deletes);
- `Contact.consent` is derived from the ledger and stored by `consent_record` in the transaction
  that appends the row (through `crm.services.contact_consent_write`, audited; the bulk path
  through `contacts_consent_write`, with the same rule and audit entries): "granted" when
  the latest row of some purpose is granted or confirmed, else "pending" when one is pending,
  else "withdrawn" when one is withdrawn, else "unknown"; a contact merge, which moves ledger
  rows to the survivor, derives it again in the merge's transaction (`consent_rederive`,
  registered with crm as a merge hook);
- double opt-in (the confirmation email and its signed link) is asked of the provider that
  registers itself with `double_opt_in_register` (marketing, in its `AppConfig.ready`): the
  ledger does not depend on the app that owns subscription types; the names of purposes and
  where each row came from are asked the same way (`consent_purposes_register`), and without a
  provider the pages show the purposes' keys and no origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.bulk import insert_rows
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import ConsentState, Contact
from tandem.tracking.models import ConsentRecord, Form

State = ConsentRecord.State
SUBSCRIBED = {State.GRANTED, State.CONFIRMED}
CHUNK = 2000  # contact ids per ledger read in the bulk path


def consent_state(*, contact_id: int, purpose: str) -> str:
    """The latest ledger state for this purpose ("" when nothing was ever recorded)."""
    latest = (
        ConsentRecord.objects.filter(contact_id=contact_id, purpose=purpose)
        .order_by("-at", "-id")
        .values_list("state", flat=True)
        .first()
    )
    return latest or ""


def consent_derived(contact_id: int) -> str:
    """The contact's overall consent as the ledger states it (see the module's invariants)."""
    rows = ConsentRecord.objects.filter(contact_id=contact_id)
    newest = rows.filter(purpose=OuterRef("purpose")).order_by("-at", "-id").values("state")[:1]
    latest = set(
        rows.order_by()
        .values("purpose")
        .distinct()
        .annotate(state=Subquery(newest))
        .values_list("state", flat=True)
    )
    return _overall(latest)


def _overall(latest: set[str]) -> str:
    """The overall consent from the latest state of each purpose (the module's rule)."""
    if latest & SUBSCRIBED:
        return ConsentState.GRANTED
    if State.PENDING in latest:
        return ConsentState.PENDING
    if State.WITHDRAWN in latest:
        return ConsentState.WITHDRAWN
    return ConsentState.UNKNOWN


def consents_derived(contact_ids: Iterable[int]) -> dict[int, str]:
    """`consent_derived` of many contacts, reading the ledger once per chunk of ids."""
    ids = sorted(set(contact_ids))
    out: dict[int, str] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        latest: dict[int, dict[str, str]] = {pk: {} for pk in chunk}
        rows = (
            ConsentRecord.objects.filter(contact_id__in=chunk)
            .order_by("contact_id", "purpose", "-at", "-id")
            .values_list("contact_id", "purpose", "state")
        )
        for contact_id, purpose, state in rows:
            latest[contact_id].setdefault(purpose, state)  # the first row is the newest
        out.update((pk, _overall(set(states.values()))) for pk, states in latest.items())
    return out


@transaction.atomic
def consent_record(
    *,
    contact: Contact,
    purpose: str,
    state: str,
    wording: str = "",
    wording_version: str = "",
    form: Form | None = None,
    ip: str = "",
    user_agent: str = "",
    actor: Actor | None = None,
) -> ConsentRecord:
    """Append one ledger row and store the contact's consent derived from the ledger."""
    record = ConsentRecord.objects.create(
        contact=contact,
        form=form,
        purpose=purpose,
        wording=wording,
        wording_version=wording_version,
        state=state,
        ip=ip or None,
        user_agent=user_agent[:500],
    )
    crm.contact_consent_write(
        actor=actor or Actor.system(), contact=contact, consent=consent_derived(contact.pk)
    )
    return record


class ConsentEntry(NamedTuple):
    """One row for `consent_record_bulk`."""

    contact_id: int
    purpose: str
    state: str
    wording: str = ""
    wording_version: str = ""


@transaction.atomic
def consent_record_bulk(*, entries: Sequence[ConsentEntry], actor: Actor | None = None) -> int:
    """`consent_record` for many rows at once, as if recorded one after another in this order
    (all at the same moment): the rows are appended in one statement set (COPY on PostgreSQL)
    and each contact's consent is derived from the ledger and stored with
    `crm.contacts_consent_write` (one audit entry per contact whose consent changed). An unknown
    state or contact stores nothing. Returns how many rows were appended."""
    if not entries:
        return 0
    unknown = {e.state for e in entries} - set(State.values)
    if unknown:
        raise InvalidInput({"state": [f"unknown consent state: {', '.join(sorted(unknown))}"]})
    contact_ids = {e.contact_id for e in entries}
    if Contact.objects.filter(pk__in=contact_ids).count() != len(contact_ids):
        raise InvalidInput({"contact_id": ["no such contact"]})
    # every column of the table (COPY fills no defaults): the entry's values, else the field's
    fields = [f for f in ConsentRecord._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    defaults["at"] = timezone.now()
    columns = list(defaults)
    rows = []
    for e in entries:
        given = {
            "contact_id": e.contact_id,
            "purpose": e.purpose[:100],
            "state": e.state,
            "wording": e.wording,
            "wording_version": e.wording_version[:40],
        }
        rows.append(tuple(given.get(c, defaults[c]) for c in columns))
    insert_rows(ConsentRecord, columns, rows)
    crm.contacts_consent_write(
        actor=actor or Actor.system(), consents=consents_derived(contact_ids)
    )
    return len(entries)


def consent_rederive(actor: Actor, contact: Contact) -> None:
    """Store the contact's consent as the ledger says now (after a merge moved ledger rows)."""
    derived = consent_derived(contact.pk)
    if derived != Contact.objects.filter(pk=contact.pk).values_list("consent", flat=True).get():
        crm.contact_consent_write(actor=actor, contact=contact, consent=derived)


def consent_withdraw_all(actor: Actor, contact: Contact) -> None:
    """Withdraw every purpose the ledger holds as given or awaited (before an erasure): the
    ledger then says why no message may reach the person, whatever was queued for them."""
    purposes = (
        ConsentRecord.objects.filter(contact_id=contact.pk)
        .order_by("purpose")
        .values_list("purpose", flat=True)
        .distinct()
    )
    for purpose in purposes:
        state = consent_state(contact_id=contact.pk, purpose=purpose)
        if state and state != ConsentRecord.State.WITHDRAWN:
            consent_record(
                contact=contact,
                purpose=purpose,
                state=ConsentRecord.State.WITHDRAWN,
                wording="erased at the person's request",
                actor=actor,
            )


# --- double opt-in --------------------------------------------------------------------------


class DoubleOptIn(Protocol):
    """What the ledger needs from the app that owns subscription types."""

    def requires_confirmation(self, purpose: str) -> bool:
        """True when the purpose (a subscription type's key) asks for double opt-in."""
        ...

    def purpose_name(self, purpose: str) -> str:
        """The purpose's name for the person, in the current language ("" when unknown)."""
        ...

    def request_confirmation(
        self, *, record_id: int, email: str, name: str, confirm_base: str
    ) -> str:
        """Email the signed confirmation link for a pending row after commit; the link."""
        ...

    def confirm(self, *, signed: str, ip: str, user_agent: str) -> bool:
        """Open a confirmation link; True when it is good (confirmed now or before)."""
        ...


_provider: DoubleOptIn | None = None


def double_opt_in_register(provider: DoubleOptIn) -> None:
    global _provider
    _provider = provider


def double_opt_in() -> DoubleOptIn:
    if _provider is None:
        raise ImproperlyConfigured(
            "No double opt-in provider: the marketing app registers one in its AppConfig.ready()"
        )
    return _provider


# --- what the purposes are called and where rows came from ---------------------------------


class ConsentPurposes(Protocol):
    """What the consent pages need from the app that owns subscription types."""

    def choices(self) -> list[tuple[str, str]]:
        """(key, name in the current language) of the purposes a form may ask consent for."""
        ...

    def names(self, keys: list[str]) -> dict[str, str]:
        """The name of each known purpose key, in the current language (archived ones too)."""
        ...

    def record_sources(self, record_ids: list[int]) -> dict[int, str]:
        """Where each ledger row came from (form, preference centre, unsubscribe link…)."""
        ...


_purposes: ConsentPurposes | None = None


def consent_purposes_register(provider: ConsentPurposes) -> None:
    global _purposes
    _purposes = provider


def consent_purposes() -> ConsentPurposes | None:
    return _purposes
