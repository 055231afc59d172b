"""The segment filter tree: and/or/not nodes over leaves drawn from an allowlist.

A definition is JSON; `parse_definition` validates it into these models or raises InvalidInput.
Invariants: field names and operators are closed sets (Literal types and `CONTACT_FIELDS`);
custom attribute and event property keys match `KEY_PATTERN` (no "__", so they can never become
ORM lookups); values are typed and bounded; the tree is at most `MAX_DEPTH` deep and has at most
`MAX_LEAVES` leaves. Nothing here touches SQL: `compiler` turns the tree into ORM expressions,
where every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tandem.core.errors import InvalidInput

MAX_DEPTH = 8
MAX_LEAVES = 60
KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$"

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=50)]
# Subscription type keys are slugs (tandem.marketing.subscriptions.services.KEY_RE): hyphens too.
SUBSCRIPTION_KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,49}$"
SubscriptionKey = Annotated[str, StringConstraints(pattern=SUBSCRIPTION_KEY_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=300)]
Scalar = Annotated[str, StringConstraints(max_length=300)] | int | float | bool

# field -> (ORM path on Contact, value kind)
CONTACT_FIELDS: dict[str, tuple[str, str]] = {
    "contact.first_name": ("first_name", "text"),
    "contact.last_name": ("last_name", "text"),
    "contact.email": ("email", "text"),
    "contact.title": ("title", "text"),
    "contact.phone": ("phone", "text"),
    "contact.created_at": ("created_at", "datetime"),
    "contact.lifecycle_stage": ("lifecycle_stage", "lifecycle_stage"),
    "contact.consent": ("consent", "consent"),
    "account.name": ("account__name", "text"),
    "account.industry": ("account__industry", "industry"),
    "account.region": ("account__region", "text"),
}

TextOp = Literal[
    "eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", "is_empty",
    "is_not_empty",
]  # fmt: skip
NumberOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "is_empty", "is_not_empty"]
DateOp = Literal["before", "after", "within_last_days", "more_than_days_ago"]
Op = Literal[
    "eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", "is_empty",
    "is_not_empty", "gt", "gte", "lt", "lte", "before", "after", "within_last_days",
    "more_than_days_ago",
]  # fmt: skip


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldLeaf(_Node):
    """A contact or account field, or a custom attribute: `contact.custom.<key>`."""

    type: Literal["field"]
    field: Annotated[str, StringConstraints(max_length=80)]
    op: Op
    value: Scalar | list[Scalar] | None = None


class TagLeaf(_Node):
    type: Literal["tag"]
    op: Literal["has", "has_not"] = "has"
    value: Annotated[str, StringConstraints(min_length=1, max_length=60)]


class PropertyCondition(_Node):
    key: Key
    op: Literal["eq", "ne", "contains"] = "eq"
    value: ShortText


class TouchpointLeaf(_Node):
    """Touchpoints matching kind/channel/campaign/properties, counted within a time window."""

    type: Literal["touchpoint"]
    kind: Annotated[str, StringConstraints(max_length=60)] | None = None
    channel: Annotated[str, StringConstraints(max_length=40)] | None = None
    campaign: Annotated[str, StringConstraints(max_length=200)] | None = None
    properties: Annotated[list[PropertyCondition], Field(max_length=5)] = []
    at_least: Annotated[int, Field(ge=0, le=100000)] = 1
    at_most: Annotated[int, Field(ge=0, le=100000)] | None = None
    within_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    include_bots: bool = False


class EmailLeaf(_Node):
    """Email engagement: opened or clicked (people, not scanners) at least N times in N days."""

    type: Literal["email"]
    event: Literal["opened", "clicked"]
    within_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    at_least: Annotated[int, Field(ge=1, le=100000)] = 1


class SegmentLeaf(_Node):
    type: Literal["segment"]
    op: Literal["in", "not_in"] = "in"
    segment_id: Annotated[int, Field(ge=1)]


class SubscriptionLeaf(_Node):
    """Latest consent ledger row for the subscription type is granted/confirmed (or not)."""

    type: Literal["subscription"]
    op: Literal["subscribed", "not_subscribed"] = "subscribed"
    subscription: SubscriptionKey


class ScoreLeaf(_Node):
    type: Literal["score"]
    scoring_model_id: Annotated[int, Field(ge=1)]
    op: Literal["gte", "lte"] = "gte"
    value: float


class AndNode(_Node):
    type: Literal["and"]
    children: Annotated[list[Node], Field(min_length=1, max_length=50)]


class OrNode(_Node):
    type: Literal["or"]
    children: Annotated[list[Node], Field(min_length=1, max_length=50)]


class NotNode(_Node):
    type: Literal["not"]
    child: Node


Node = Annotated[
    AndNode
    | OrNode
    | NotNode
    | FieldLeaf
    | TagLeaf
    | TouchpointLeaf
    | EmailLeaf
    | SegmentLeaf
    | SubscriptionLeaf
    | ScoreLeaf,
    Field(discriminator="type"),
]


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root: Node


def _shape(node: Any, depth: int = 1) -> int:
    """Leaves in the tree; raises InvalidInput when too deep."""
    if depth > MAX_DEPTH:
        raise InvalidInput({"definition": [_("The filter is nested too deeply.")]})
    if isinstance(node, AndNode | OrNode):
        return sum(_shape(child, depth + 1) for child in node.children)
    if isinstance(node, NotNode):
        return _shape(node.child, depth + 1)
    return 1


def parse_definition(data: object) -> Node:
    """The validated tree of a JSON definition ({"type": "and", ...}), or InvalidInput."""
    try:
        node = Definition.model_validate({"root": data}).root
    except ValidationError as exc:
        messages = [
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'definition'}: {err['msg']}"
            for err in exc.errors()[:5]
        ]
        raise InvalidInput({"definition": messages}) from None
    if _shape(node) > MAX_LEAVES:
        raise InvalidInput({"definition": [_("The filter has too many conditions.")]})
    return node


def parse_key(key: str) -> bool:
    """Whether `key` is a safe custom attribute / property key."""
    return len(key) <= 50 and re.fullmatch(KEY_PATTERN, key) is not None


def parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise InvalidInput({"definition": [_("Enter a date as YYYY-MM-DD.")]})
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidInput({"definition": [_("Enter a date as YYYY-MM-DD.")]}) from None
