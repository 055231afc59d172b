"""`accounts_bulk_create` stores each account as `account_create` stores it: the row, its
domain rows, its tags and one audit entry."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Account, AttributeTarget

pytestmark = pytest.mark.django_db
VARYING = {"id", "name", "created_at", "updated_at"}


def _stored(account_id: int) -> dict[str, Any]:
    """What was stored of an account, apart from its name, id and times."""
    account = Account.objects.get(pk=account_id)
    entry = AuditEntry.objects.get(model="crm.Account", object_id=str(account_id))
    return {
        "row": (
            account.domains,
            account.industry,
            account.industry_attributes,
            account.region,
            account.custom,
        ),
        "tags": sorted(account.tags.values_list("name", flat=True)),
        "domain_rows": sorted(account.domain_rows.values_list("domain", flat=True)),
        "audit": (entry.action, {k: v for k, v in entry.changes.items() if k not in VARYING}),
    }


def test_bulk_created_accounts_are_stored_as_account_create_stores_them() -> None:
    actor = Actor.system()
    data = {
        "domains": ["volt.example", "Volt.Example", "pcb.example"],
        "industry": "electronics",
        "industry_attributes": {"business_type": "distributor"},
        "region": "north",
    }
    one = crm.account_create(actor=actor, name="Volt One", tags=["demo", "electronics"], **data)
    checked = crm.account_check(
        {"name": "Volt Two", **data},
        current=None,
        custom=crm.custom_defaults(AttributeTarget.ACCOUNT),
    )
    plain = crm.account_check({"name": "Plain"}, current=None)
    two, untagged = crm.accounts_bulk_create(
        actor=actor, accounts=[checked, plain], tags=[["electronics", "demo", " demo "], []]
    )
    assert _stored(two) == _stored(one.pk)
    assert _stored(two)["domain_rows"] == ["pcb.example", "volt.example"]
    assert AuditEntry.objects.get(object_id=str(two), model="crm.Account").object_repr == (
        "Volt Two"
    )
    assert _stored(untagged)["tags"] == []
    with pytest.raises(ValueError, match="tags of each account"):
        crm.accounts_bulk_create(actor=actor, accounts=[plain], tags=[])
