"""Exports of the contact and account lists (pages and API), through `tandem.core.exports`.

Invariants:
- the rows are exactly the list's: the same `scoped` query with the same filters, search and
  sort (`selectors.contacts_filtered` / `accounts_filtered`, for pages and the API alike), all
  of them rather than one page; an invisible record is never exported;
- the headers are the labels HubSpot uses ("First Name", "Company Name", "Contact Owner"...), so
  a file exported from Tandem imports back with the recognised mapping; the owner is written as
  their email (else username), which the importer resolves;
- custom attributes follow as one column each, labelled as defined;
- rows are read as plain values in chunks (`values(…).iterator(chunk_size=…)`, account and owner
  joined, no model instances) and each chunk's tags come in one more query, so a long export
  keeps memory flat and costs two queries per 2,000 rows; choice labels are looked up once per
  export, not per row;
- a list of more than ``EXPORT_BACKGROUND_ROWS`` rows is written by a worker
  (`tandem.core.export_jobs`, kinds ``crm.contacts`` and ``crm.accounts``) from the same
  selectors, with the requester's access at the time it is written.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tandem.core.export_jobs import ExportSource, export_kind_register
from tandem.core.exports import Column
from tandem.core.models import User
from tandem.crm import selectors
from tandem.crm.models import (
    Account,
    ConsentState,
    Contact,
    CustomAttribute,
    Industry,
    LifecycleStage,
)

CHUNK = 2000
Row = dict[str, Any]
CONTACT_VALUES = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "account__name",
    "lifecycle_stage",
    "consent",
    "owner__email",
    "owner__username",
    "custom",
    "created_at",
    "updated_at",
)
ACCOUNT_VALUES = (
    "id",
    "name",
    "domains",
    "industry",
    "region",
    "owner__email",
    "owner__username",
    "custom",
    "created_at",
    "updated_at",
)


def _owner(row: Row) -> str:
    return row["owner__email"] or row["owner__username"] or ""


def _labels(choices: Iterable[tuple[Any, Any]]) -> Callable[[str], str]:
    """A choice's label, looked up once per export (`get_FOO_display` costs a lot per row)."""
    labels = {str(value): str(label) for value, label in choices}
    return lambda value: labels.get(value, value)


def _custom_value(key: str) -> Callable[[Row], Any]:
    def read(row: Row) -> Any:
        return (row["custom"] or {}).get(key)

    return read


def _custom(target: str) -> list[Column[Row]]:
    return [
        Column(a.label, _custom_value(a.key))
        for a in CustomAttribute.objects.filter(target=target).order_by("key")
    ]


def contact_columns() -> list[Column[Row]]:
    stage = _labels(LifecycleStage.choices)
    consent = _labels(ConsentState.choices)
    return [
        Column(_("Record ID"), lambda r: r["id"]),
        Column(_("First Name"), lambda r: r["first_name"]),
        Column(_("Last Name"), lambda r: r["last_name"]),
        Column(_("Email"), lambda r: r["email"]),
        Column(_("Phone Number"), lambda r: r["phone"]),
        Column(_("Job Title"), lambda r: r["title"]),
        Column(_("Company Name"), lambda r: r["account__name"]),
        Column(_("Lifecycle Stage"), lambda r: stage(r["lifecycle_stage"])),
        Column(_("Marketing consent"), lambda r: consent(r["consent"])),
        Column(_("Contact Owner"), _owner),
        Column(_("Tags"), lambda r: r["tags"]),
        Column(_("Create Date"), lambda r: r["created_at"]),
        Column(_("Last Modified Date"), lambda r: r["updated_at"]),
        *_custom("contact"),
    ]


def account_columns() -> list[Column[Row]]:
    industry = _labels(Industry.choices)
    return [
        Column(_("Record ID"), lambda r: r["id"]),
        Column(_("Company Name"), lambda r: r["name"]),
        Column(_("Company Domain Name"), lambda r: r["domains"] or []),
        Column(_("Industry"), lambda r: industry(r["industry"])),
        Column(_("Region"), lambda r: r["region"]),
        Column(_("Company Owner"), _owner),
        Column(_("Tags"), lambda r: r["tags"]),
        Column(_("Create Date"), lambda r: r["created_at"]),
        Column(_("Last Modified Date"), lambda r: r["updated_at"]),
        *_custom("account"),
    ]


def _chunked(qs: QuerySet[Any], fields: Sequence[str]) -> Iterator[Row]:
    """The rows in `CHUNK`s, each chunk with its tags fetched in one light query."""
    batch: list[Row] = []
    for row in qs.prefetch_related(None).values(*fields).iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) == CHUNK:
            yield from _tagged(qs.model, batch)
            batch = []
    yield from _tagged(qs.model, batch)


def _tagged(model: type[Contact] | type[Account], batch: list[Row]) -> Iterator[Row]:
    if not batch:
        return
    key = "contact_id" if model is Contact else "account_id"
    names: dict[int, list[str]] = defaultdict(list)
    tags = (
        model.tags.through.objects.filter(**{f"{key}__in": [r["id"] for r in batch]})
        .order_by("tag__name")
        .values_list(key, "tag__name")
    )
    for record_id, name in tags:
        names[record_id].append(name)
    for row in batch:
        row["tags"] = names.get(row["id"], [])
        yield row


def list_query(filters: Mapping[str, Any]) -> selectors.ListQuery:
    """The list query an export was asked with (its stored filters; unknown keys ignored)."""
    known = {f.name for f in dataclasses.fields(selectors.ListQuery)} - {"cursor"}
    return selectors.ListQuery(**{k: v for k, v in filters.items() if k in known})


def contacts_source(user: User, filters: Mapping[str, Any]) -> ExportSource:
    """The contacts list as `filters` narrow and sort it (``sort``: name, or created for newest
    first), for `tandem.core.export_jobs` (registered as ``crm.contacts``)."""
    query = list_query(filters)
    contacts = selectors.contacts_filtered(user, query)
    order = selectors.CONTACT_SORTS.get(query.sort, selectors.CONTACT_SORTS["name"])
    return ExportSource(
        filename="contacts",
        sheet=_("Contacts"),
        columns=contact_columns(),
        records=_chunked(contacts.order_by(*order), CONTACT_VALUES),
        model=Contact,
        count=contacts.count,
        filters=dict(filters),
    )


def accounts_source(user: User, filters: Mapping[str, Any]) -> ExportSource:
    """The accounts list as `filters` narrow and sort it (registered as ``crm.accounts``)."""
    query = list_query(filters)
    accounts = selectors.accounts_filtered(user, query)
    order = selectors.ACCOUNT_SORTS.get(query.sort, selectors.ACCOUNT_SORTS["name"])
    return ExportSource(
        filename="accounts",
        sheet=_("Accounts"),
        columns=account_columns(),
        records=_chunked(accounts.order_by(*order), ACCOUNT_VALUES),
        model=Account,
        count=accounts.count,
        filters=dict(filters),
    )


def register_exports() -> None:
    export_kind_register("crm.contacts", contacts_source)
    export_kind_register("crm.accounts", accounts_source)
