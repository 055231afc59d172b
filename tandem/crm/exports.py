"""Exports of the contact and account lists (pages and API), through `tandem.core.exports`.

Invariants:
- the rows are exactly the list's: the same `scoped` query with the same filters, search and
  sort (`selectors.contacts_filtered` / `accounts_filtered` for pages, the API's own filters for
  the API), all of them rather than one page; an invisible record is never exported;
- the headers are the labels HubSpot uses ("First Name", "Company Name", "Contact Owner"...), so
  a file exported from Tandem imports back with the recognised mapping; the owner is written as
  their email (else username), which the importer resolves;
- custom attributes follow as one column each, labelled as defined;
- rows are read in chunks (`iterator(chunk_size=…)`) with account, owner and tags fetched per
  chunk, so a long export keeps memory flat and costs a few queries per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponseBase
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.exports import Column, respond
from tandem.crm.models import Account, Contact, CustomAttribute, Tag

CHUNK = 2000


def _owner(record: Contact | Account) -> str:
    owner = record.owner
    if owner is None:
        return ""
    return owner.email or owner.username


def _tags(record: Contact | Account) -> list[str]:
    return sorted(t.name for t in record.tags.all())


def _custom_value(key: str) -> Callable[[Contact | Account], Any]:
    def read(record: Contact | Account) -> Any:
        return (record.custom or {}).get(key)

    return read


def _custom(target: str) -> list[Column[Any]]:
    return [
        Column(a.label, _custom_value(a.key))
        for a in CustomAttribute.objects.filter(target=target).order_by("key")
    ]


def contact_columns() -> list[Column[Contact]]:
    return [
        Column(_("Record ID"), lambda c: c.pk),
        Column(_("First Name"), lambda c: c.first_name),
        Column(_("Last Name"), lambda c: c.last_name),
        Column(_("Email"), lambda c: c.email),
        Column(_("Phone Number"), lambda c: c.phone),
        Column(_("Job Title"), lambda c: c.title),
        Column(_("Company Name"), lambda c: c.account.name if c.account else ""),
        Column(_("Lifecycle Stage"), lambda c: c.get_lifecycle_stage_display()),
        Column(_("Marketing consent"), lambda c: c.get_consent_display()),
        Column(_("Contact Owner"), _owner),
        Column(_("Tags"), _tags),
        Column(_("Create Date"), lambda c: c.created_at),
        Column(_("Last Modified Date"), lambda c: c.updated_at),
        *_custom("contact"),
    ]


def account_columns() -> list[Column[Account]]:
    return [
        Column(_("Record ID"), lambda a: a.pk),
        Column(_("Company Name"), lambda a: a.name),
        Column(_("Company Domain Name"), lambda a: a.domains or []),
        Column(_("Industry"), lambda a: a.get_industry_display()),
        Column(_("Region"), lambda a: a.region),
        Column(_("Company Owner"), _owner),
        Column(_("Tags"), _tags),
        Column(_("Create Date"), lambda a: a.created_at),
        Column(_("Last Modified Date"), lambda a: a.updated_at),
        *_custom("account"),
    ]


def _chunked(qs: QuerySet[Any], related: Sequence[str]) -> Iterable[Any]:
    tags = Prefetch("tags", queryset=Tag.objects.only("id", "name"))
    qs = qs.defer(None).select_related(*related).prefetch_related(None)
    return qs.prefetch_related(tags).iterator(chunk_size=CHUNK)


def contacts_response(
    *,
    actor: Actor,
    contacts: QuerySet[Contact],
    order: Sequence[str],
    fmt: str,
    filters: dict[str, Any],
) -> HttpResponseBase:
    """Download `contacts` (a scoped, filtered queryset) in `order`."""
    return respond(
        actor=actor,
        fmt=fmt,
        filename="contacts",
        sheet=_("Contacts"),
        columns=contact_columns(),
        records=_chunked(contacts.order_by(*order), ("account", "owner")),
        model=Contact,
        filters=filters,
    )


def accounts_response(
    *,
    actor: Actor,
    accounts: QuerySet[Account],
    order: Sequence[str],
    fmt: str,
    filters: dict[str, Any],
) -> HttpResponseBase:
    """Download `accounts` (a scoped, filtered queryset) in `order`."""
    return respond(
        actor=actor,
        fmt=fmt,
        filename="accounts",
        sheet=_("Accounts"),
        columns=account_columns(),
        records=_chunked(accounts.order_by(*order), ("owner",)),
        model=Account,
        filters=filters,
    )
