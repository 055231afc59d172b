"""Reads of the tracking app: the consent ledger for other apps, and the counts the tracking
set-up pages show (events per source, submissions per form, clicks per link).

Invariants:
- other apps read the consent ledger through these (never by naming its table): the state of a
  contact for a purpose is the state of its latest record (latest `at`, then highest id), or
  none when it has no record for that purpose;
- counts are read from the timeline (crm's `Touchpoint`), one grouped query per page, only for
  the sources, forms or links asked about: events of a source are the touchpoints ingestion
  stored under its name; a form's submissions its "form_submitted" touchpoints; a link's clicks
  its "link_click" touchpoints, those flagged as bots counted apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.utils.translation import gettext

from tandem.crm.models import Touchpoint
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


@dataclass(frozen=True)
class SourceCounts:
    events: int = 0
    last_at: dt.datetime | None = None


def source_event_counts(names: Iterable[str]) -> dict[str, SourceCounts]:
    """Touchpoints stored by ingestion per source name, with the time the last one arrived."""
    rows = (
        Touchpoint.objects.filter(source__in=list(names))
        .order_by()
        .values("source")
        .annotate(n=Count("id"), last=Max("recorded_at"))
    )
    return {r["source"]: SourceCounts(r["n"], r["last"]) for r in rows}


def form_submission_counts(keys: Iterable[str]) -> dict[str, int]:
    """Stored submissions per form key."""
    rows = (
        Touchpoint.objects.filter(kind="form_submitted", properties__form__in=list(keys))
        .order_by()
        .values("properties__form")
        .annotate(n=Count("id"))
    )
    return {str(r["properties__form"]): r["n"] for r in rows}


@dataclass(frozen=True)
class ClickCounts:
    clicks: int = 0  # by people
    bots: int = 0  # flagged as scanners or bots


def link_click_counts(tokens: Iterable[str]) -> dict[str, ClickCounts]:
    """Clicks per tracked-link token: people's and bots' apart."""
    rows = (
        Touchpoint.objects.filter(kind="link_click", properties__link__in=list(tokens))
        .order_by()
        .values("properties__link")
        .annotate(n=Count("id", filter=Q(is_bot=False)), bots=Count("id", filter=Q(is_bot=True)))
    )
    return {str(r["properties__link"]): ClickCounts(r["n"], r["bots"]) for r in rows}


# --- a contact's consent ----------------------------------------------------------------------

HISTORY_LIMIT = 500


@dataclass(frozen=True)
class ConsentRow:
    record: ConsentRecord
    purpose_name: str
    origin: str  # where the row came from ("" when nobody said)


@dataclass(frozen=True)
class ConsentHistory:
    rows: list[ConsentRow]  # newest first, at most HISTORY_LIMIT
    current: list[ConsentRow]  # the latest row of each purpose: the contact's subscriptions
    more: bool  # older rows exist beyond the limit


def consent_history(contact_id: int, *, limit: int = HISTORY_LIMIT) -> ConsentHistory:
    """The ledger rows of one contact, newest first (latest `at`, then highest id), with each
    purpose's name and each row's origin (a website form, or what the purposes' provider says),
    and the current state per purpose."""
    from tandem.tracking.consent import consent_purposes

    records = list(
        ConsentRecord.objects.filter(contact_id=contact_id)
        .select_related("form")
        .order_by("-at", "-id")[: limit + 1]
    )
    more = len(records) > limit
    records = records[:limit]
    latest_ids = list(
        ConsentRecord.objects.filter(contact_id=contact_id)
        .order_by()
        .values("purpose")
        .distinct()
        .annotate(
            latest=Subquery(
                ConsentRecord.objects.filter(contact_id=contact_id, purpose=OuterRef("purpose"))
                .order_by("-at", "-id")
                .values("id")[:1]
            )
        )
        .values_list("latest", flat=True)
    )
    shown = {r.pk for r in records}
    latest = records[:] + list(
        ConsentRecord.objects.filter(
            pk__in=[i for i in latest_ids if i not in shown]
        ).select_related("form")
    )
    provider = consent_purposes()
    ids = [r.pk for r in latest]
    names = provider.names(sorted({r.purpose for r in latest})) if provider else {}
    origins = provider.record_sources(ids) if provider else {}

    def row(record: ConsentRecord) -> ConsentRow:
        origin = origins.get(record.pk, "")
        if record.form is not None:
            origin = gettext("website form “%(name)s”") % {"name": record.form.name}
        return ConsentRow(record, names.get(record.purpose, record.purpose), origin)

    by_id = {r.pk: row(r) for r in latest}
    current = sorted(
        (by_id[i] for i in latest_ids if i in by_id), key=lambda r: r.purpose_name.lower()
    )
    return ConsentHistory(rows=[by_id[r.pk] for r in records], current=current, more=more)
