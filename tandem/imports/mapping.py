"""Which column of an import file fills which field: recognising CRM export headers.

Recognises the headers of HubSpot's and Salesforce's contact and account exports, both their
labels ("First Name", "Company Name", "Mailing City") and their API names (``firstname``,
``FirstName``, ``Account.Name``).

Invariants:
- a header is matched after removing a byte-order mark, trimming, collapsing inner whitespace
  and case-folding, so "\\ufeff  First   NAME " matches "First Name";
- every column is either mapped to exactly one target or reported as unknown; an unknown column
  is never fatal;
- no two columns fill the same target: the first one wins, later ones are reported as duplicates;
- a user override (header -> target, or "" to ignore the column) replaces recognition for that
  header; an override naming a target that does not exist raises ``InvalidInput``;
- with ``keep_unmapped``, each unknown column (not one the user chose to ignore) maps to
  ``custom.<key>`` (``crm.attributes.attribute_key``): its values are kept as that custom
  attribute, defined as optional text when the import runs (contacts only: an accounts import
  asked to keep them raises ``InvalidInput``).

Vendor layouts recognised as they come: HubSpot's contacts export ("Record ID", "First Name",
"Last Name", "Email", "Phone Number", "Contact owner" with full names, "Lifecycle Stage",
"Lead Status", "Create Date", "Country/Region", "Job Title", "Associated Company"…) and
Salesforce's lead and contact reports ("Lead Owner"/"Contact Owner", "Company / Account" or
"Account Name", "Title", "Lead Source", "Lead Status", "Created Date", "Mailing City"…): the
columns Tandem has no field for (record ids, dates, statuses, sources, countries) are unknown,
so reported, and kept as custom attributes on request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.crm.services import attribute_key

Kind = Literal["contacts", "accounts"]
CUSTOM = "custom."  # a target "custom.<key>": the column's values kept as that attribute
KEEP = "custom"  # an override: keep this column as a custom attribute

CONTACT_TARGETS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "lifecycle_stage",
    "owner",
    "account_name",
    "website",
    "industry",
    "city",
    "external_account_id",
)
ACCOUNT_TARGETS: tuple[str, ...] = ("account_name", "website", "industry", "city", "owner")

_CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "first_name", "given name"),
    "last_name": ("last name", "lastname", "last_name", "surname", "family name"),
    "email": ("email", "email address", "e-mail", "e-mail address", "primary email"),
    "phone": ("phone", "phone number", "mobile phone number", "mobile", "mobilephone"),
    "title": ("job title", "jobtitle", "title"),
    "lifecycle_stage": ("lifecycle stage", "lifecyclestage", "lifecycle_stage"),
    "owner": (
        "contact owner",
        "hubspot_owner_id",
        "owner",
        "ownerid",
        "contact owner name",
        "lead owner",
    ),
    "account_name": (
        "company name",
        "company",
        "account name",
        "account.name",
        "associated company",
        "company / account",
    ),
    "website": ("website url", "website", "company domain name", "domain"),
    "industry": ("industry", "account.industry"),
    "city": ("city", "mailing city", "mailingcity"),
    "external_account_id": ("accountid", "account id", "associated company id"),
}
_ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "account_name": ("account name", "company name", "name", "company", "account.name"),
    "website": ("website", "website url", "company domain name", "domain"),
    "industry": ("industry",),
    "city": ("city", "billing city", "billingcity"),
    "owner": ("account owner", "company owner", "hubspot_owner_id", "owner", "ownerid"),
}

_SPACES = re.compile(r"\s+")


def normalise_header(header: str) -> str:
    """The form headers are compared in: no BOM, trimmed, single spaces, case-folded."""
    return _SPACES.sub(" ", header.replace("\ufeff", "").strip()).casefold()


def _lookup(kind: Kind) -> dict[str, str]:
    aliases = _CONTACT_ALIASES if kind == "contacts" else _ACCOUNT_ALIASES
    return {normalise_header(a): target for target, names in aliases.items() for a in names}


_LOOKUPS: dict[str, dict[str, str]] = {k: _lookup(k) for k in ("contacts", "accounts")}


def targets_for(kind: Kind) -> tuple[str, ...]:
    return CONTACT_TARGETS if kind == "contacts" else ACCOUNT_TARGETS


@dataclass(frozen=True)
class ColumnMapping:
    """The result: column index -> target, and the headers that fill nothing (with why)."""

    columns: dict[int, str]
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)  # unknown headers kept as custom attributes

    def as_json(self) -> dict[str, str]:
        """Column index (as text) -> target, the form stored on an import job."""
        return {str(i): t for i, t in sorted(self.columns.items())}


def recognise(
    headers: Sequence[str],
    kind: Kind,
    override: MappingABC[str, str] | None = None,
    *,
    keep_unmapped: bool = False,
) -> ColumnMapping:
    """Map each header to a target field of `kind`; `override` is keyed by header text;
    `keep_unmapped` keeps unknown columns as custom attributes (`custom.<key>`)."""
    valid = set(targets_for(kind))
    if kind == "contacts":
        valid.add(KEEP)
    elif keep_unmapped:
        raise InvalidInput({"keep_unmapped": [_("Only contacts keep custom attributes.")]})
    overrides: dict[str, str] = {}
    bad: list[str] = []
    for header, target in (override or {}).items():
        target = target.strip()
        if target and target not in valid:
            bad.append(f"{header!r}: {target!r} is not one of {', '.join(sorted(valid))}")
        overrides[normalise_header(header)] = target
    if bad:
        raise InvalidInput({"mapping": bad})
    lookup = _LOOKUPS[kind]
    columns: dict[int, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    ignored: list[str] = []
    custom: list[str] = []
    taken: set[str] = set()
    for index, raw in enumerate(headers):
        header = normalise_header(raw)
        if header in overrides:
            target = overrides[header]
            if not target:
                ignored.append(raw.replace("\ufeff", "").strip())
                continue
            if target == KEEP:
                target = CUSTOM + attribute_key(raw.replace("\ufeff", "").strip(), index + 1)
                if target not in taken:
                    custom.append(raw.replace("\ufeff", "").strip())
        elif header in lookup:
            target = lookup[header]
        elif keep_unmapped and raw.replace("\ufeff", "").strip():
            target = CUSTOM + attribute_key(raw.replace("\ufeff", "").strip(), index + 1)
            if target not in taken:
                custom.append(raw.replace("\ufeff", "").strip())
        else:
            unknown.append(raw.replace("\ufeff", "").strip())
            continue
        if target in taken:
            duplicates.append(raw.replace("\ufeff", "").strip())
            continue
        taken.add(target)
        columns[index] = target
    return ColumnMapping(
        columns=columns, unknown=unknown, duplicates=duplicates, ignored=ignored, custom=custom
    )
