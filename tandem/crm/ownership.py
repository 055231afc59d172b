"""The accounts and contacts a person owns, as kinds of owned records (`core.owned_records`):
counted on the people pages and handed to a successor when the person is deactivated.

Invariants: each moved record gets an audit entry in the deactivation's transaction; nothing
else about the record changes (its team shares, timeline and history stay as they are).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.core.owned_records import OwnedKind, owned_kind_register, owner_reassign
from tandem.crm.models import Account, Contact, contact_label


def accounts_reassign(*, actor: Actor, source: User, target: User) -> int:
    return owner_reassign(
        actor=actor,
        records=Account.objects.all(),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("name",),
    )


def contacts_reassign(*, actor: Actor, source: User, target: User) -> int:
    return owner_reassign(
        actor=actor,
        records=Contact.objects.all(),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: contact_label(row[1], row[2], row[3], row[0]),
        describe_fields=("first_name", "last_name", "email"),
    )


def register_owned_kinds() -> None:
    owned_kind_register(
        OwnedKind(
            key="crm.account",
            label=_("Accounts"),
            count=lambda user: Account.objects.filter(owner=user).count(),
            reassign=accounts_reassign,
        )
    )
    owned_kind_register(
        OwnedKind(
            key="crm.contact",
            label=_("Contacts"),
            count=lambda user: Contact.objects.filter(owner=user).count(),
            reassign=contacts_reassign,
        )
    )
