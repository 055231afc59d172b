"""The consent ledger: the one place consent is recorded, and the one writer of `Contact.consent`.

Website forms (here), subscriptions, unsubscribe links and complaints (marketing) all append
their rows with `consent_record`; nothing else creates a `ConsentRecord` or writes the contact's
overall consent.

Invariants:
- rows are only appended (the model refuses changes and deletes);
- `Contact.consent` is derived from the ledger and stored by `consent_record` in the transaction
  that appends the row (through `crm.services.contact_consent_write`, audited): "granted" when
  the latest row of some purpose is granted or confirmed, else "pending" when one is pending,
  else "withdrawn" when one is withdrawn, else "unknown"; a contact merge, which moves ledger
  rows to the survivor, derives it again in the merge's transaction (`consent_rederive`,
  registered with crm as a merge hook);
- double opt-in (the confirmation email and its signed link) is asked of the provider that
  registers itself with `double_opt_in_register` (marketing, in its `AppConfig.ready`): the
  ledger does not depend on the app that owns subscription types.
"""

from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import OuterRef, Subquery

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import ConsentState, Contact
from tandem.tracking.models import ConsentRecord, Form

State = ConsentRecord.State
SUBSCRIBED = {State.GRANTED, State.CONFIRMED}


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
    if latest & SUBSCRIBED:
        return ConsentState.GRANTED
    if State.PENDING in latest:
        return ConsentState.PENDING
    if State.WITHDRAWN in latest:
        return ConsentState.WITHDRAWN
    return ConsentState.UNKNOWN


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


def consent_rederive(actor: Actor, contact: Contact) -> None:
    """Store the contact's consent as the ledger says now (after a merge moved ledger rows)."""
    derived = consent_derived(contact.pk)
    if derived != Contact.objects.filter(pk=contact.pk).values_list("consent", flat=True).get():
        crm.contact_consent_write(actor=actor, contact=contact, consent=derived)


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
