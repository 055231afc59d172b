"""Journeys from the database: touchpoints before each conversion, per contact or per account.

Two set-based queries (three with person names) feed numpy; there is no per-contact loop:

1. the conversions of the period, as ``(journey key, converted at, value)`` rows;
2. the touchpoints that can fall in a lookback window, as ``(journey key, occurred at,
   channel, campaign, content, actor, department)`` rows, timestamps computed by the
   database (`EpochSeconds`).

The lookback cut is vectorised: touches are sorted by (key, time) and each conversion takes
the slice ``[converted_at - lookback, converted_at)`` found with one ``searchsorted`` on a
composite integer key.

Definitions (stated as invariants, tested in ``tests/test_journeys*.py``):

- journey key: the contact (``unit="contact"``; touchpoints without a contact are left out),
  or the buying account (``unit="account"``: the touchpoint's account, else its contact's
  account; a contact without an account is its own journey, key ``-contact_id``);
- conversions (``conversion=``): ``deal_won`` (a won deal, at ``closed_at``, value its
  amount; its contact is its first deal contact), ``opportunity`` (a deal created, at
  ``created_at``, value its amount), ``mql`` (a contact entering the MQL stage, value 0),
  ``event:<kind>`` (a touchpoint of that kind, value 0). Only conversions in ``[start, end)``
  count; each conversion is one journey; conversions with no touch in their window are
  counted in ``conversions_without_touches`` and left out of the models;
- a conversion's path: the key's touches with ``converted_at - lookback <= occurred_at <
  converted_at`` (strictly before: the converting event itself is not a touch);
- non-converting journeys: keys with a touch in the period and no conversion in it, anchored
  at their last touch in the period (path: touches up to ``lookback`` before it, inclusive);
- bot-flagged touchpoints and bookkeeping rows (lifecycle changes, deal events, disputes —
  they record a conversion or a decision, they are not a touch) are left out; offline
  touchpoints (calls, meetings, visits, trainings, events) are ordinary touches;
- reads go through ``scoped(user, ...)``: a user's journeys contain only touchpoints and
  conversions they may see (fails closed: no rule, no rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from django.db import models
from django.db.models import (
    BigIntegerField,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from tandem.attribution.engine import Journeys
from tandem.attribution.engine.journeys import FloatArray, IntArray
from tandem.core.access import scoped
from tandem.core.models import User
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.leads.models import StageHistory
from tandem.sales.models import Deal, DealContact

Unit = Literal["contact", "account"]
DIMENSIONS: tuple[str, ...] = ("channel", "campaign", "content", "person", "department")
CONVERSIONS: tuple[str, ...] = ("deal_won", "opportunity", "mql")
BOOKKEEPING_KINDS: tuple[str, ...] = (
    "lifecycle_stage_changed",
    "deal_created",
    "deal_stage_changed",
    "deal_won",
    "deal_lost",
    "deal_reopened",
    "dispute_opened",
    "dispute_decided",
    "handoff_routed",
    "handoff_accepted",
    "handoff_rejected",
)
NO_LABEL = "(none)"
NO_PERSON = "(nobody)"
CHUNK = 20_000


class EpochSeconds(Func):
    """Seconds since 1970-01-01 UTC of a datetime column, computed by the database."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)",
            **extra,
        )


@dataclass(frozen=True)
class JourneySpec:
    """What to build: the period of conversions, the unit, the window, and the segment."""

    start: dt.datetime
    end: dt.datetime
    unit: Unit = "contact"
    conversion: str = "deal_won"
    lookback_days: int = 90
    industry: str = ""
    team_id: int | None = None
    channels: tuple[str, ...] = ()
    include_nulls: bool = True

    def as_params(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "unit": self.unit,
            "conversion": self.conversion,
            "lookback_days": self.lookback_days,
            "industry": self.industry,
            "team_id": self.team_id,
            "channels": sorted(self.channels),
            "include_nulls": self.include_nulls,
        }


@dataclass(frozen=True, eq=False)
class DbJourneys:
    """Journeys of one spec, with every dimension's labels per touch (CSR layout)."""

    offsets: IntArray
    timestamps: FloatArray
    conversions: FloatArray
    value: FloatArray
    nulls: FloatArray
    labels: dict[str, tuple[str, ...]]
    codes: dict[str, IntArray]
    conversions_without_touches: int = 0
    keys: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_journeys(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def journeys(self, dimension: str = "channel") -> Journeys:
        """The engine's `Journeys` with ``dimension`` (see `DIMENSIONS`) as the channel."""
        return Journeys(
            channels=self.labels[dimension],
            codes=self.codes[dimension],
            offsets=self.offsets,
            conversions=self.conversions,
            value=self.value,
            nulls=self.nulls,
            timestamps=self.timestamps,
        )


def _negated(expr: Any) -> Any:
    return Func(expr, template="(-%(expressions)s)", output_field=BigIntegerField())


def _key(*exprs: Any) -> Any:
    return Coalesce(*exprs, output_field=BigIntegerField())


def _touch_key(unit: Unit) -> Any:
    if unit == "contact":
        return F("contact_id")
    return _key(F("account_id"), F("contact__account_id"), _negated(F("contact_id")))


def _contact_key(unit: Unit, prefix: str = "") -> Any:
    """Key of a contact column (``prefix`` e.g. ``"contact__"``)."""
    contact_id = f"{prefix}id" if prefix else "id"
    if unit == "contact":
        return F(contact_id)
    return _key(F(f"{prefix}account_id"), _negated(F(contact_id)))


def _segment_contacts(spec: JourneySpec) -> QuerySet[Contact] | None:
    if not spec.industry and spec.team_id is None:
        return None
    qs = Contact.objects.all()
    if spec.industry:
        qs = qs.filter(account__industry=spec.industry)
    if spec.team_id is not None:
        qs = qs.filter(
            Q(account__owner__team_id=spec.team_id)
            | Q(account__isnull=True, owner__team_id=spec.team_id)
        )
    return qs


def _segment_keys(spec: JourneySpec) -> QuerySet[Any] | None:
    """Keys inside the segment (industry and owner team of the account, else contact)."""
    contacts = _segment_contacts(spec)
    if contacts is None:
        return None
    if spec.unit == "contact":
        return contacts.values("pk")
    accounts = Account.objects.all()
    if spec.industry:
        accounts = accounts.filter(industry=spec.industry)
    if spec.team_id is not None:
        accounts = accounts.filter(owner__team_id=spec.team_id)
    return accounts.values("pk")


def _conversion_rows(user: object, spec: JourneySpec) -> QuerySet[Any]:
    """``(key, ts, value)`` rows of the conversions in the period."""
    kind = spec.conversion
    rows: QuerySet[Any]
    if kind in ("deal_won", "opportunity"):
        first = DealContact.objects.filter(deal_id=OuterRef("pk")).order_by("id")
        first_contact = Subquery(first.values("contact_id")[:1])
        first_account = Subquery(first.values("contact__account_id")[:1])
        if spec.unit == "contact":
            key: Any = first_contact
        else:
            key = _key(F("account_id"), first_account, _negated(first_contact))
        at = "closed_at" if kind == "deal_won" else "created_at"
        qs = scoped(user, Deal).filter(**{f"{at}__gte": spec.start, f"{at}__lt": spec.end})
        if kind == "deal_won":
            qs = qs.filter(status="won")
        rows = qs.annotate(jkey=key, ts=EpochSeconds(at), val=F("amount"))
    elif kind == "mql":
        visible = scoped(user, Contact).values("pk")
        rows = StageHistory.objects.filter(
            stage="mql",
            entered_at__gte=spec.start,
            entered_at__lt=spec.end,
            contact_id__in=visible,
        ).annotate(
            jkey=_contact_key(spec.unit, "contact__"),
            ts=EpochSeconds("entered_at"),
            val=Value(0.0, output_field=FloatField()),
        )
    elif kind.startswith("event:") and len(kind) > len("event:"):
        rows = (
            scoped(user, Touchpoint)
            .filter(
                kind=kind[len("event:") :],
                is_bot=False,
                occurred_at__gte=spec.start,
                occurred_at__lt=spec.end,
            )
            .annotate(
                jkey=_touch_key(spec.unit),
                ts=EpochSeconds("occurred_at"),
                val=Value(0.0, output_field=FloatField()),
            )
        )
    else:
        raise ValueError(f"unknown conversion {kind!r}")
    rows = rows.filter(jkey__isnull=False)
    keys = _segment_keys(spec)
    if keys is not None:
        rows = rows.filter(jkey__in=keys)
    return rows.order_by().values_list("jkey", "ts", "val")


def _touch_rows(user: object, spec: JourneySpec) -> QuerySet[Any]:
    since = spec.start - dt.timedelta(days=spec.lookback_days)
    qs = (
        scoped(user, Touchpoint)
        .filter(is_bot=False, occurred_at__gte=since, occurred_at__lt=spec.end)
        .exclude(kind__in=BOOKKEEPING_KINDS)
        .annotate(jkey=_touch_key(spec.unit), ts=EpochSeconds("occurred_at"))
        .filter(jkey__isnull=False)
    )
    if spec.channels:
        qs = qs.filter(channel__in=spec.channels)
    keys = _segment_keys(spec)
    if keys is not None:
        qs = qs.filter(jkey__in=keys)
    return qs.order_by().values_list(
        "jkey", "ts", "channel", "campaign", "content", "actor_id", "department"
    )


def _columns(rows: QuerySet[Any], width: int) -> list[list[Any]]:
    """The rows of a values_list query as columns, fetched in chunks (streamed)."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK)):
        for col, values in zip(columns, zip(*chunk, strict=True), strict=True):
            col.extend(values)
    return columns


def _chunks(it: Any) -> Any:
    batch: list[Any] = []
    for row in it:
        batch.append(row)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _ms(seconds: list[Any]) -> IntArray:
    return np.round(np.asarray(seconds, dtype=np.float64) * 1000.0).astype(np.int64)


def _encode(values: list[Any], empty: str) -> tuple[tuple[str, ...], IntArray]:
    arr = np.asarray(["" if v is None else str(v) for v in values] or [""], dtype=object)
    arr[arr == ""] = empty
    names, inverse = np.unique(arr, return_inverse=True)
    codes = inverse.reshape(-1).astype(np.int64)[: len(values)]
    return tuple(str(n) for n in names), codes


def _person_names(ids: list[Any]) -> dict[int, str]:
    wanted = {int(i) for i in set(ids) if i is not None}
    names: dict[int, str] = {}
    for pk, first, last, username in User.objects.filter(pk__in=wanted).values_list(
        "pk", "first_name", "last_name", "username"
    ):
        full = f"{first} {last}".strip()
        names[pk] = f"{full} ({username})" if full else username
    return names


def build_journeys(user: object, spec: JourneySpec) -> DbJourneys:
    """Journeys of ``spec`` as ``user`` may see them (see the module docstring)."""
    if spec.end <= spec.start:
        raise ValueError("the period must end after it starts")
    if spec.lookback_days < 0:
        raise ValueError("lookback must not be negative")
    conv = _columns(_conversion_rows(user, spec), 3)
    touch = _columns(_touch_rows(user, spec), 7)

    c_key = np.asarray(conv[0], dtype=np.int64)
    c_ts = _ms(conv[1])
    c_val = np.asarray([float(v or 0) for v in conv[2]], dtype=np.float64)
    t_key = np.asarray(touch[0], dtype=np.int64)
    t_ts = _ms(touch[1])

    labels: dict[str, tuple[str, ...]] = {}
    raw_codes: dict[str, IntArray] = {}
    for dim, col, empty in (
        ("channel", touch[2], NO_LABEL),
        ("campaign", touch[3], NO_LABEL),
        ("content", touch[4], NO_LABEL),
        ("department", touch[6], NO_LABEL),
    ):
        labels[dim], raw_codes[dim] = _encode(col, empty)
    names = _person_names(touch[5])
    persons = [names.get(int(i), NO_PERSON) if i is not None else NO_PERSON for i in touch[5]]
    labels["person"], raw_codes["person"] = _encode(persons, NO_PERSON)

    # Sort touches by (key, time, channel) and rank keys densely.
    all_keys, inv = np.unique(np.concatenate([t_key, c_key]), return_inverse=True)
    inv = inv.reshape(-1)
    t_rank, c_rank = inv[: t_key.shape[0]], inv[t_key.shape[0] :]
    order = np.lexsort((raw_codes["channel"], t_ts, t_rank))
    t_rank, t_ts = t_rank[order], t_ts[order]
    codes = {dim: arr[order] for dim, arr in raw_codes.items()}

    start_ms = round(spec.start.timestamp() * 1000)
    end_ms = round(spec.end.timestamp() * 1000)
    lookback_ms = spec.lookback_days * 86_400_000

    # Non-converting journeys: keys touched in the period without a conversion in it.
    null_keys = np.zeros(0, dtype=np.int64)
    null_anchor = np.zeros(0, dtype=np.int64)
    if spec.include_nulls and t_rank.size:
        in_period = (t_ts >= start_ms) & (t_ts < end_ms) & ~np.isin(t_rank, c_rank)
        if in_period.any():
            ranks, ts_in = t_rank[in_period], t_ts[in_period]
            null_keys, first = np.unique(ranks, return_index=True)
            last = np.append(first[1:], ranks.shape[0]) - 1
            null_anchor = ts_in[last] + 1  # inclusive of the last touch
    a_rank = np.concatenate([c_rank, null_keys]).astype(np.int64)
    a_ts = np.concatenate([c_ts, null_anchor]).astype(np.int64)
    a_conv = np.concatenate([np.ones(c_rank.shape[0]), np.zeros(null_keys.shape[0])])
    a_val = np.concatenate([c_val, np.zeros(null_keys.shape[0])])

    # Lookback cut: one searchsorted on a composite (key rank, time) integer.
    base = min(int(t_ts.min(initial=start_ms)), start_ms - lookback_ms) - 1
    span = max(int(t_ts.max(initial=end_ms)), end_ms, int(a_ts.max(initial=end_ms))) - base + 2
    if (all_keys.shape[0] + 1) * span >= 2**62:
        raise ValueError("period too long for millisecond resolution")
    comp = t_rank * span + (t_ts - base)
    lo = np.searchsorted(comp, a_rank * span + np.maximum(a_ts - lookback_ms - base, 0), "left")
    hi = np.searchsorted(comp, a_rank * span + (a_ts - base), "left")
    lengths = hi - lo
    has = lengths > 0
    without = int(np.count_nonzero(~has[: c_rank.shape[0]]))
    lo, lengths = lo[has], lengths[has]
    # Order journeys by (key, anchor) so the result never depends on query row order.
    j_order = np.lexsort((a_ts[has], a_rank[has]))
    lo, lengths = lo[j_order], lengths[j_order]
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    take = np.repeat(lo - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    conversions = a_conv[has][j_order]
    return DbJourneys(
        offsets=offsets,
        timestamps=t_ts[take].astype(np.float64) / 1000.0,
        conversions=conversions,
        value=a_val[has][j_order],
        nulls=(conversions == 0).astype(np.float64),
        labels=labels,
        codes={dim: arr[take] for dim, arr in codes.items()},
        conversions_without_touches=without,
        keys=all_keys[a_rank[has][j_order]],
    )


def data_version(user: object, spec: JourneySpec) -> str:
    """A cheap fingerprint of what ``spec``'s journeys read, as ``user`` sees it."""
    agg = scoped(user, Touchpoint).aggregate(m=models.Max("id"), n=models.Count("id"))
    conv = _conversion_rows(user, spec)
    n_conv = conv.count()
    extra = ""
    if spec.conversion in ("deal_won", "opportunity"):
        latest = scoped(user, Deal).aggregate(u=models.Max("updated_at"))["u"]
        extra = latest.isoformat() if latest else ""
    return f"tp:{agg['m'] or 0}:{agg['n']}|conv:{n_conv}|{extra}"
