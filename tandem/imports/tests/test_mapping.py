"""Header recognition: HubSpot and Salesforce labels and API names, BOM, case, whitespace."""

from __future__ import annotations

import pytest

from tandem.core.errors import InvalidInput
from tandem.imports.mapping import ColumnMapping, Kind, recognise


@pytest.mark.parametrize(
    ("header", "kind", "target"),
    [
        # HubSpot contact export, labels
        ("First Name", "contacts", "first_name"),
        ("Last Name", "contacts", "last_name"),
        ("Email", "contacts", "email"),
        ("Phone Number", "contacts", "phone"),
        ("Job Title", "contacts", "title"),
        ("Company Name", "contacts", "account_name"),
        ("Lifecycle Stage", "contacts", "lifecycle_stage"),
        ("Contact owner", "contacts", "owner"),
        ("Website URL", "contacts", "website"),
        ("Industry", "contacts", "industry"),
        ("City", "contacts", "city"),
        # HubSpot API names
        ("firstname", "contacts", "first_name"),
        ("lastname", "contacts", "last_name"),
        ("email", "contacts", "email"),
        ("company", "contacts", "account_name"),
        ("jobtitle", "contacts", "title"),
        ("phone", "contacts", "phone"),
        ("lifecyclestage", "contacts", "lifecycle_stage"),
        ("hubspot_owner_id", "contacts", "owner"),
        ("website", "contacts", "website"),
        # Salesforce labels and API names
        ("Account Name", "contacts", "account_name"),
        ("Mailing City", "contacts", "city"),
        ("Title", "contacts", "title"),
        ("FirstName", "contacts", "first_name"),
        ("LastName", "contacts", "last_name"),
        ("Phone", "contacts", "phone"),
        ("AccountId", "contacts", "external_account_id"),
        ("Account.Name", "contacts", "account_name"),
        ("MailingCity", "contacts", "city"),
        ("OwnerId", "contacts", "owner"),
        # account exports
        ("Account Name", "accounts", "account_name"),
        ("Name", "accounts", "account_name"),
        ("Company name", "accounts", "account_name"),
        ("Website", "accounts", "website"),
        ("Company Domain Name", "accounts", "website"),
        ("Industry", "accounts", "industry"),
        ("Billing City", "accounts", "city"),
        ("BillingCity", "accounts", "city"),
        ("Company owner", "accounts", "owner"),
        # case, whitespace and byte-order mark
        ("\ufeffFirst Name", "contacts", "first_name"),
        ("  first   NAME ", "contacts", "first_name"),
        ("EMAIL\t", "contacts", "email"),
        ("\ufeffaccount.name", "accounts", "account_name"),
    ],
)
def test_header_is_recognised(header: str, kind: Kind, target: str) -> None:
    assert recognise([header], kind) == ColumnMapping(columns={0: target})


def test_unknown_and_duplicate_columns_are_reported_not_fatal() -> None:
    mapping = recognise(
        ["\ufeffEmail", "Favourite colour", "First Name", "FirstName", " Notes "], "contacts"
    )
    assert mapping.columns == {0: "email", 2: "first_name"}
    assert mapping.unknown == ["Favourite colour", "Notes"]
    assert mapping.duplicates == ["FirstName"]
    assert mapping.as_json() == {"0": "email", "2": "first_name"}


def test_contact_only_headers_are_unknown_in_an_account_file() -> None:
    mapping = recognise(["Name", "First Name", "Email"], "accounts")
    assert mapping.columns == {0: "account_name"}
    assert mapping.unknown == ["First Name", "Email"]


def test_override_maps_ignores_and_beats_recognition() -> None:
    mapping = recognise(
        ["E-Mail Adresse", "Email", "Contact owner"],
        "contacts",
        override={"e-mail adresse": "email", "EMAIL": "", "Contact owner": ""},
    )
    assert mapping.columns == {0: "email"}
    assert mapping.ignored == ["Email", "Contact owner"]
    assert mapping.unknown == []


def test_override_with_an_unknown_target_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        recognise(["Email"], "accounts", override={"Email": "email"})
    assert caught.value.errors == {
        "mapping": ["'Email': 'email' is not one of account_name, city, industry, owner, website"]
    }
