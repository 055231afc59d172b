"""Reads of the tracking app for other apps.

Invariants:
- other apps read the consent ledger through these (never by naming its table): the state of a
  contact for a purpose is the state of its latest record (latest `at`, then highest id), or
  none when it has no record for that purpose.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import OuterRef, Subquery

from tandem.tracking.models import ConsentRecord


def consent_state_subquery(*, purpose: str, contact: Any = None) -> Subquery:
    """The latest ledger state of a contact for `purpose`, as an expression to annotate a
    contact queryset with (`contact`: the outer contact id, `OuterRef("pk")` by default)."""
    latest = (
        ConsentRecord.objects.filter(
            contact_id=OuterRef("pk") if contact is None else contact, purpose=purpose
        )
        .order_by("-at", "-id")
        .values("state")[:1]
    )
    return Subquery(latest)


def consent_state_sql(*, contact_column: str) -> str:
    """`consent_state_subquery` as SQL for another app's raw statement: a scalar subquery of
    the latest state for the contact whose id is the SQL expression `contact_column`; it takes
    ONE parameter, the purpose. Names come from the model's metadata."""
    qn = connection.ops.quote_name
    columns = {f.name: str(f.column) for f in ConsentRecord._meta.concrete_fields}

    def col(name: str) -> str:
        return "l." + qn(columns[name])

    return (
        f"(SELECT {col('state')} FROM {qn(ConsentRecord._meta.db_table)} l"
        f" WHERE {col('contact')} = {contact_column} AND {col('purpose')} = %s"
        f" ORDER BY {col('at')} DESC, {col('id')} DESC LIMIT 1)"
    )
