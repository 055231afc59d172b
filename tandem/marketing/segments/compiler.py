"""Compile a validated filter tree into ONE Django `Q` over Contact (one SQL query).

Invariants:
- only allowlisted fields/operators become lookups; custom attribute keys must be defined in
  `crm.CustomAttribute` and property keys match `schema.KEY_PATTERN`; JSON keys go through
  `KeyTextTransform` (a bound parameter on SQLite and PostgreSQL), never through `**{user: ..}`
  lookup names, and every value is a bound parameter;
- behavioural conditions are subqueries (`EXISTS`, or `IN (… GROUP BY contact HAVING COUNT …)`)
  so the whole tree is a single statement on both databases;
- a segment referring to itself, directly or through others, is refused (no cycles);
- a number custom attribute is compared as a number only where its stored text is a plain
  decimal number (`NUMBER_RE`, bounded so the cast can never overflow); any other stored value
  (text, an empty string, `NaN`) is no number and matches no comparison, on SQLite (whose CAST
  would read it as 0) and on PostgreSQL (whose CAST would fail the whole query) alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import In
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.crm.models import (
    AttributeTarget,
    AttributeType,
    ConsentState,
    Contact,
    CustomAttribute,
    Industry,
    LifecycleStage,
    Touchpoint,
)
from tandem.leads.models import ContactScore
from tandem.marketing.models import Segment, StaticMember
from tandem.marketing.segments import schema as s
from tandem.tracking.models import ConsentRecord

SUBSCRIBED_STATES = [ConsentRecord.State.GRANTED, ConsentRecord.State.CONFIRMED]
CHOICES = {
    "lifecycle_stage": set(LifecycleStage.values),
    "consent": set(ConsentState.values),
    "industry": set(Industry.values),
}
OPS_BY_KIND = {
    "text": {"eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", "is_empty",
             "is_not_empty"},
    "choice": {"eq", "ne", "in", "not_in"},
    "number": {"eq", "ne", "gt", "gte", "lt", "lte", "is_empty", "is_not_empty"},
    "boolean": {"eq", "ne"},
    "datetime": {"before", "after", "within_last_days", "more_than_days_ago"},
    "date": {"eq", "before", "after", "is_empty", "is_not_empty"},
}  # fmt: skip


# A plain decimal number, at most 30 digits before and after the point and a 2-digit exponent
# (below 1e130: no float overflow). The regex lookup is REGEXP on SQLite (Django registers it)
# and `~` on PostgreSQL.
NUMBER_RE = r"^[ ]*[-+]?([0-9]{1,30}([.][0-9]{0,30})?|[.][0-9]{1,30})([eE][-+]?[0-9]{1,2})?[ ]*$"


def _bad(message: str) -> InvalidInput:
    return InvalidInput({"definition": [message]})


@dataclass
class Context:
    now: dt.datetime = field(default_factory=timezone.now)
    stack: tuple[int, ...] = ()
    _custom: dict[str, CustomAttribute] | None = None
    _alias: int = 0

    def custom(self, key: str) -> CustomAttribute:
        if self._custom is None:
            self._custom = {
                a.key: a for a in CustomAttribute.objects.filter(target=AttributeTarget.CONTACT)
            }
        attribute = self._custom.get(key)
        if attribute is None:
            raise _bad(_("There is no custom attribute “%(key)s”.") % {"key": key})
        return attribute


def segment_q(segment: Segment, ctx: Context | None = None) -> Q:
    """The condition selecting the segment's members (static list or compiled filter)."""
    ctx = ctx or Context()
    if segment.pk in ctx.stack:
        raise _bad(_("A segment cannot include itself, directly or through other segments."))
    if segment.kind == Segment.Kind.STATIC:
        return Q(pk__in=StaticMember.objects.filter(segment_id=segment.pk).values("contact_id"))
    node = s.parse_definition(segment.definition)
    inner = Context(now=ctx.now, stack=(*ctx.stack, segment.pk), _custom=ctx._custom)
    return compile_node(node, inner)


def compile_node(node: Any, ctx: Context) -> Q:
    if isinstance(node, s.AndNode):
        q = Q()
        for child in node.children:
            q &= compile_node(child, ctx)
        return q
    if isinstance(node, s.OrNode):
        q = Q(pk__in=[])
        for child in node.children:
            q |= compile_node(child, ctx)
        return q
    if isinstance(node, s.NotNode):
        return ~compile_node(node.child, ctx)
    if isinstance(node, s.FieldLeaf):
        return _field(node, ctx)
    if isinstance(node, s.TagLeaf):
        has = Q(
            Exists(
                Contact.tags.through.objects.filter(
                    contact_id=OuterRef("pk"), tag__name__iexact=node.value
                )
            )
        )
        return has if node.op == "has" else ~has
    if isinstance(node, s.TouchpointLeaf):
        return _touchpoints(node, ctx)
    if isinstance(node, s.EmailLeaf):
        kind = "email_opened" if node.event == "opened" else "email_clicked"
        leaf = s.TouchpointLeaf(
            type="touchpoint",
            kind=kind,
            channel="email",
            at_least=node.at_least,
            within_days=node.within_days,
        )
        return _touchpoints(leaf, ctx)
    if isinstance(node, s.SegmentLeaf):
        other = Segment.objects.filter(pk=node.segment_id).first()
        if other is None:
            raise _bad(_("There is no segment #%(id)s.") % {"id": node.segment_id})
        members = Contact.objects.filter(segment_q(other, ctx)).values("pk")
        return Q(pk__in=members) if node.op == "in" else ~Q(pk__in=members)
    if isinstance(node, s.SubscriptionLeaf):
        return subscribed_q(node.subscription, subscribed=node.op == "subscribed")
    if isinstance(node, s.ScoreLeaf):
        scores = ContactScore.objects.filter(
            contact_id=OuterRef("pk"), scoring_model_id=node.scoring_model_id
        )
        if node.op == "gte":
            scores = scores.filter(total__gte=node.value)
        else:
            scores = scores.filter(total__lte=node.value)
        return Q(Exists(scores))
    raise _bad(_("Unknown condition."))  # pragma: no cover - the schema is closed


def subscribed_q(purpose: str, *, subscribed: bool = True) -> Q:
    """Contacts whose latest ledger row for `purpose` is granted or confirmed (or the others)."""
    latest = (
        ConsentRecord.objects.filter(contact_id=OuterRef("pk"), purpose=purpose)
        .order_by("-at", "-id")
        .values("state")[:1]
    )
    q = Q(In(Coalesce(Subquery(latest), Value("")), SUBSCRIBED_STATES))
    return q if subscribed else ~q


def _values(leaf: s.FieldLeaf) -> list[Any]:
    if not isinstance(leaf.value, list) or not leaf.value or len(leaf.value) > 200:
        raise _bad(_("“%(op)s” needs a list of 1 to 200 values.") % {"op": leaf.op})
    return list(leaf.value)


def _scalar(leaf: s.FieldLeaf) -> Any:
    if leaf.value is None or isinstance(leaf.value, list):
        raise _bad(_("“%(field)s” needs a value.") % {"field": leaf.field})
    return leaf.value


def _days(leaf: s.FieldLeaf) -> int:
    value = _scalar(leaf)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36500:
        raise _bad(_("Enter a number of days."))
    return value


def _field(leaf: s.FieldLeaf, ctx: Context) -> Q:
    if leaf.field.startswith("contact.custom."):
        return _custom(leaf, ctx)
    spec = s.CONTACT_FIELDS.get(leaf.field)
    if spec is None:
        raise _bad(_("“%(field)s” is not a field segments can use.") % {"field": leaf.field})
    path, kind = spec
    if kind in CHOICES:
        allowed = CHOICES[kind]
        _check_op(leaf, "choice")
        values = _values(leaf) if leaf.op in ("in", "not_in") else [_scalar(leaf)]
        if any(v not in allowed for v in values):
            raise _bad(_("“%(field)s” has no such value.") % {"field": leaf.field})
        return _text_q(path, leaf.op, values, exact=True)
    _check_op(leaf, kind)
    if kind == "datetime":
        if leaf.op in ("before", "after"):
            day = s.parse_date(_scalar(leaf))
            start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            return (
                Q(**{f"{path}__lt": start})
                if leaf.op == "before"
                else Q(**{f"{path}__gte": start + dt.timedelta(days=1)})
            )
        since = ctx.now - dt.timedelta(days=_days(leaf))
        return (
            Q(**{f"{path}__gte": since})
            if leaf.op == "within_last_days"
            else Q(**{f"{path}__lt": since})
        )
    values = _values(leaf) if leaf.op in ("in", "not_in") else [leaf.value]
    if leaf.op not in ("is_empty", "is_not_empty"):
        values = [str(v) for v in (values if leaf.op in ("in", "not_in") else [_scalar(leaf)])]
    return _text_q(path, leaf.op, values, exact=False)


def _check_op(leaf: s.FieldLeaf, kind: str) -> None:
    if leaf.op not in OPS_BY_KIND[kind]:
        raise _bad(
            _("“%(op)s” does not apply to “%(field)s”.") % {"op": leaf.op, "field": leaf.field}
        )


def _text_q(path: str, op: str, values: list[Any], *, exact: bool) -> Q:
    eq = "exact" if exact else "iexact"
    if op == "eq":
        return Q(**{f"{path}__{eq}": values[0]})
    if op == "ne":
        return ~Q(**{f"{path}__{eq}": values[0]})
    if op == "contains":
        return Q(**{f"{path}__icontains": values[0]})
    if op == "not_contains":
        return ~Q(**{f"{path}__icontains": values[0]})
    if op == "starts_with":
        return Q(**{f"{path}__istartswith": values[0]})
    if op in ("in", "not_in"):
        if exact:
            q = Q(**{f"{path}__in": values})
        else:
            q = Q(pk__in=[])
            for value in values:
                q |= Q(**{f"{path}__iexact": value})
        return q if op == "in" else ~q
    empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
    return empty if op == "is_empty" else ~empty


def _custom(leaf: s.FieldLeaf, ctx: Context) -> Q:
    key = leaf.field.removeprefix("contact.custom.")
    if not s.parse_key(key):
        raise _bad(_("“%(field)s” is not a field segments can use.") % {"field": leaf.field})
    attribute = ctx.custom(key)
    kind = {
        AttributeType.TEXT: "text",
        AttributeType.NUMBER: "number",
        AttributeType.DATE: "date",
        AttributeType.BOOLEAN: "boolean",
        AttributeType.CHOICE: "choice",
    }[AttributeType(attribute.type)]
    _check_op(leaf, kind)
    ctx._alias += 1
    alias = f"_c{ctx._alias}"
    text = _text(key, "custom")
    if leaf.op in ("is_empty", "is_not_empty"):
        exists = Q(
            Exists(
                Contact.objects.filter(pk=OuterRef("pk"))
                .alias(**{alias: text})
                .filter(**{f"{alias}__isnull": False})
                .exclude(**{alias: ""})
            )
        )
        return ~exists if leaf.op == "is_empty" else exists
    if kind == "boolean":
        value = _scalar(leaf)
        if not isinstance(value, bool):
            raise _bad(_("“%(field)s” is yes or no.") % {"field": leaf.field})
        inner = Contact.objects.filter(pk=OuterRef("pk")).alias(
            **{alias: KeyTransform(key, "custom")}
        )
        q = Q(Exists(inner.filter(**{alias: value})))
        return q if leaf.op == "eq" else ~q
    if kind == "number":
        value = _scalar(leaf)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(_("“%(field)s” is a number.") % {"field": leaf.field})
        raw = f"{alias}_text"
        number = Case(
            When(**{f"{raw}__regex": NUMBER_RE}, then=Cast(text, FloatField())),
            default=Value(None, output_field=FloatField()),
            output_field=FloatField(),
        )
        inner = (
            Contact.objects.filter(pk=OuterRef("pk")).alias(**{raw: text}).alias(**{alias: number})
        )
        lookup = {"eq": "exact", "ne": "exact"}.get(leaf.op, leaf.op)
        q = Q(Exists(inner.filter(**{f"{alias}__{lookup}": float(value)})))
        return ~q if leaf.op == "ne" else q
    inner = Contact.objects.filter(pk=OuterRef("pk")).alias(**{alias: text})
    if kind == "date":
        day = s.parse_date(_scalar(leaf)).isoformat()
        lookup = {"eq": "exact", "before": "lt", "after": "gt"}[leaf.op]
        return Q(Exists(inner.filter(**{f"{alias}__{lookup}": day})))
    if kind == "choice":
        values = _values(leaf) if leaf.op in ("in", "not_in") else [_scalar(leaf)]
        if any(str(v) not in [str(c) for c in attribute.choices] for v in values):
            raise _bad(_("“%(field)s” has no such value.") % {"field": leaf.field})
        q = Q(Exists(inner.filter(**{f"{alias}__in": [str(v) for v in values]})))
        return ~q if leaf.op in ("ne", "not_in") else q
    values = _values(leaf) if leaf.op in ("in", "not_in") else [str(_scalar(leaf))]
    positive = {"eq": "iexact", "ne": "iexact", "contains": "icontains",
                "not_contains": "icontains", "starts_with": "istartswith"}  # fmt: skip
    if leaf.op in ("in", "not_in"):
        match = Q(pk__in=[])
        for value in values:
            match |= Q(**{f"{alias}__iexact": str(value)})
        q = Q(Exists(inner.filter(match)))
    else:
        q = Q(Exists(inner.filter(**{f"{alias}__{positive[leaf.op]}": values[0]})))
    return ~q if leaf.op in ("ne", "not_contains", "not_in") else q


def _text(key: str, column: str) -> Cast:
    """The JSON key's value as plain text (`->>` on PostgreSQL), compared with text lookups."""
    return Cast(KeyTextTransform(key, column), TextField())


def _touchpoints(leaf: s.TouchpointLeaf, ctx: Context) -> Q:
    tps = Touchpoint.objects.filter(contact__isnull=False)
    if not leaf.include_bots:
        tps = tps.filter(is_bot=False)
    if leaf.kind:
        tps = tps.filter(kind=leaf.kind)
    if leaf.channel:
        tps = tps.filter(channel=leaf.channel)
    if leaf.campaign:
        tps = tps.filter(campaign=leaf.campaign)
    if leaf.within_days:
        tps = tps.filter(occurred_at__gte=ctx.now - dt.timedelta(days=leaf.within_days))
    for prop in leaf.properties:
        ctx._alias += 1
        alias = f"_p{ctx._alias}"
        tps = tps.alias(**{alias: _text(prop.key, "properties")})
        if prop.op == "eq":
            tps = tps.filter(**{alias: prop.value})
        elif prop.op == "contains":
            tps = tps.filter(**{f"{alias}__icontains": prop.value})
        else:
            tps = tps.exclude(**{alias: prop.value})
    if leaf.at_most is not None and leaf.at_most < leaf.at_least:
        raise _bad(_("“at most” must not be below “at least”."))
    if leaf.at_least == 0:
        if leaf.at_most is None:
            raise _bad(_("“at least 0 times” needs an “at most”."))
        too_many = (
            tps.values("contact_id")
            .annotate(n=Count("id"))
            .filter(n__gt=leaf.at_most)
            .values("contact_id")
        )
        return ~Q(pk__in=too_many)
    if leaf.at_least == 1 and leaf.at_most is None:
        return Q(Exists(tps.filter(contact_id=OuterRef("pk"))))
    counted = tps.values("contact_id").annotate(n=Count("id")).filter(n__gte=leaf.at_least)
    if leaf.at_most is not None:
        counted = counted.filter(n__lte=leaf.at_most)
    return Q(pk__in=counted.values("contact_id"))
