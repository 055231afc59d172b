"""What the visual segment builder may offer: fields, operators and values, with translated labels.

The catalogue is generated from `schema` (the field allowlist, the node types and their operator
literals) and `compiler.OPS_BY_KIND`, so the builder cannot offer what the server refuses nor miss
what it accepts; `node_errors` places validation messages on the condition they concern.

Invariants:
- every field in `schema.CONTACT_FIELDS`, every node type of `schema.Node` and every operator
  literal appears in the catalogue (a new one without a label is a KeyError, caught by the tests);
- lists of records (segments, subscription types, scoring models, custom attributes) go through
  `scoped` for the user, as every other read;
- `node_errors` never raises for any JSON: it walks at most `MAX_NODES` nodes and validates each
  leaf alone (parse + compile, no query is run), returning the path of child indexes from the root.
"""

from __future__ import annotations

import typing
from typing import Any

from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.errors import InvalidInput
from tandem.crm.models import (
    AttributeTarget,
    AttributeType,
    ConsentState,
    CustomAttribute,
    Industry,
    LifecycleStage,
)
from tandem.leads.models import ScoringModel
from tandem.marketing.models import Segment, SubscriptionType
from tandem.marketing.segments import compiler
from tandem.marketing.segments import schema as s

MAX_NODES = 200
# Touchpoint kinds Tandem records itself (free text in the schema: offered as suggestions only).
TOUCHPOINT_KINDS = [
    "page_view", "form_submit", "email_opened", "email_clicked", "webinar", "event_attended",
    "sales_call", "meeting",
]  # fmt: skip
CUSTOM_KINDS = {
    AttributeType.TEXT: "text",
    AttributeType.NUMBER: "number",
    AttributeType.DATE: "date",
    AttributeType.BOOLEAN: "boolean",
    AttributeType.CHOICE: "choice",
}


def _op_labels() -> dict[str, str]:
    return {
        "eq": _("is"),
        "ne": _("is not"),
        "contains": _("contains"),
        "not_contains": _("does not contain"),
        "starts_with": _("starts with"),
        "in": _("is any of"),
        "not_in": _("is none of"),
        "is_empty": _("is empty"),
        "is_not_empty": _("is not empty"),
        "gt": _("is greater than"),
        "gte": _("is at least"),
        "lt": _("is less than"),
        "lte": _("is at most"),
        "before": _("is before"),
        "after": _("is after"),
        "within_last_days": _("is within the last (days)"),
        "more_than_days_ago": _("is more than (days) ago"),
        "has": _("has"),
        "has_not": _("does not have"),
        "subscribed": _("is subscribed to"),
        "not_subscribed": _("is not subscribed to"),
    }


def _field_labels() -> dict[str, str]:
    return {
        "contact.first_name": _("First name"),
        "contact.last_name": _("Last name"),
        "contact.email": _("Email"),
        "contact.title": _("Job title"),
        "contact.phone": _("Phone"),
        "contact.created_at": _("Created"),
        "contact.lifecycle_stage": _("Lifecycle stage"),
        "contact.consent": _("Marketing consent"),
        "account.name": _("Company name"),
        "account.industry": _("Industry"),
        "account.region": _("Region"),
    }


def _node_labels() -> dict[str, str]:
    return {
        "and": _("All of (AND)"),
        "or": _("Any of (OR)"),
        "not": _("None of (NOT)"),
        "field": _("Field"),
        "tag": _("Tag"),
        "touchpoint": _("Touchpoints"),
        "email": _("Email engagement"),
        "segment": _("Member of segment"),
        "subscription": _("Subscription"),
        "score": _("Score"),
    }


def _ui_labels() -> dict[str, str]:
    return {
        "add_condition": _("Add condition"),
        "add_group": _("Add group"),
        "remove": _("Remove"),
        "up": _("Move up"),
        "down": _("Move down"),
        "show_json": _("Show JSON"),
        "condition": _("Condition"),
        "choose": _("Choose…"),
        "value": _("Value"),
        "values_hint": _("Separate values with commas"),
        "yes": _("Yes"),
        "no": _("No"),
        "kind": _("Kind"),
        "channel": _("Channel"),
        "campaign": _("Campaign"),
        "property": _("Property"),
        "add_property": _("Add property"),
        "at_least": _("at least (times)"),
        "at_most": _("at most (times)"),
        "within_days": _("in the last (days)"),
        "include_bots": _("include bots"),
        "any": _("any"),
        "contact_group": _("Contact"),
        "account_group": _("Account"),
        "custom_group": _("Custom attributes"),
        "behaviour_group": _("Behaviour and membership"),
        "counting": _("Counting…"),
        "json_invalid": _("The JSON is not valid; the builder shows the last valid filter."),
        "depth": _("Groups cannot be nested deeper."),
        "count_failed": _("The count could not be loaded."),
        "opened": _("opened an email"),
        "clicked": _("clicked in an email"),
    }


def literal_values(model: type[Any], name: str) -> list[str]:
    """The allowed values of a Literal field of a schema model, in declaration order."""
    annotation = model.model_fields[name].annotation
    return [str(v) for v in typing.get_args(annotation)]


def node_types() -> list[str]:
    """Every `type` of the schema's discriminated union."""
    union = typing.get_args(s.Node)[0]
    return [literal_values(m, "type")[0] for m in typing.get_args(union)]


def _choice_list(choices: Any) -> list[list[str]]:
    return [[str(v), str(label)] for v, label in choices]


def catalogue(user: object, *, exclude_segment: int | None = None) -> dict[str, Any]:
    """The builder's JSON catalogue for `user` (labels in the active language); the segment being
    edited (`exclude_segment`) is not offered as a segment to be a member of."""
    ops = _op_labels()
    names = _field_labels()
    choices = {
        "lifecycle_stage": _choice_list(LifecycleStage.choices),
        "consent": _choice_list(ConsentState.choices),
        "industry": _choice_list(Industry.choices),
    }
    fields = []
    for key, (_path, kind) in s.CONTACT_FIELDS.items():
        ui_kind = "choice" if kind in compiler.CHOICES else kind
        fields.append(
            {
                "key": key,
                "label": names[key],
                "group": "account" if key.startswith("account.") else "contact",
                "kind": ui_kind,
                "ops": sorted(compiler.OPS_BY_KIND[ui_kind], key=list(ops).index),
                "choices": choices.get(kind, []),
            }
        )
    # attribute definitions are schema, not records (the compiler reads them the same way)
    attributes = CustomAttribute.objects.filter(target=AttributeTarget.CONTACT)
    for attribute in attributes.order_by("label", "key")[:200]:
        if not s.parse_key(attribute.key):
            continue
        kind = CUSTOM_KINDS[AttributeType(attribute.type)]
        fields.append(
            {
                "key": f"contact.custom.{attribute.key}",
                "label": attribute.label or attribute.key,
                "group": "custom",
                "kind": kind,
                "ops": sorted(compiler.OPS_BY_KIND[kind], key=list(ops).index),
                "choices": [[str(c), str(c)] for c in attribute.choices or []],
            }
        )
    others = scoped(user, Segment).exclude(pk=exclude_segment or 0).order_by("name", "id")
    segments = others.values_list("pk", "name")[:500]
    subscriptions = scoped(user, SubscriptionType).order_by("name").values_list("key", "name")
    models = scoped(user, ScoringModel).order_by("name", "id").values_list("pk", "name")[:100]
    return {
        "max_depth": s.MAX_DEPTH,
        "max_leaves": s.MAX_LEAVES,
        "nodes": {t: label for t, label in _node_labels().items() if t in node_types()},
        "ops": ops,
        "fields": fields,
        "tag": {"ops": literal_values(s.TagLeaf, "op")},
        "touchpoint": {
            "kinds": TOUCHPOINT_KINDS,
            "property_ops": literal_values(s.PropertyCondition, "op"),
        },
        "email": {"events": literal_values(s.EmailLeaf, "event")},
        "segment": {
            "ops": literal_values(s.SegmentLeaf, "op"),
            "choices": [[pk, name] for pk, name in segments],
        },
        "subscription": {
            "ops": literal_values(s.SubscriptionLeaf, "op"),
            "choices": [[key, name] for key, name in subscriptions],
        },
        "score": {
            "ops": literal_values(s.ScoreLeaf, "op"),
            "choices": [[pk, name] for pk, name in models],
        },
        "labels": _ui_labels(),
    }


def _messages(exc: InvalidInput) -> list[str]:
    return [str(m) for messages in exc.errors.values() for m in messages]


def node_errors(definition: Any, *, segment_id: int | None = None) -> list[dict[str, Any]]:
    """[{"path": [child indexes from the root], "messages": [...]}] for the conditions that are
    invalid on their own (a group without conditions, a leaf the schema or compiler refuses)."""
    out: list[dict[str, Any]] = []
    ctx = compiler.Context(stack=(segment_id,) if segment_id else ())
    seen = 0

    def walk(node: Any, path: list[int], depth: int) -> None:
        nonlocal seen
        seen += 1
        if seen > MAX_NODES or depth > s.MAX_DEPTH + 1:
            return
        kind = node.get("type") if isinstance(node, dict) else None
        if kind in ("and", "or"):
            children = node.get("children")
            if not isinstance(children, list) or not children:
                out.append({"path": path, "messages": [_("A group needs a condition.")]})
                return
            for index, child in enumerate(children):
                walk(child, [*path, index], depth + 1)
            return
        if kind == "not":
            walk(node.get("child"), [*path, 0], depth + 1)
            return
        try:
            compiler.compile_node(s.parse_definition(node), ctx)
        except InvalidInput as exc:
            out.append({"path": path, "messages": _messages(exc)})

    walk(definition, [], 1)
    return out
