"""Reads other apps may make of marketing (the app-boundary contract allows `selectors`).

Contact conditions of the segment builder, for lead scoring: a fit rule of a scoring model is one
leaf of the segment filter (a contact or account field, a custom attribute, or a tag), offered
from the same catalogue (`segments.catalogue`), validated by the same schema and compiled by the
same compiler as a segment's conditions, so a rule and a segment condition with the same words
select the same contacts.

Invariants:
- only what a contact or its account *is* can be a rule's condition (`RULE_NODE_TYPES`: field and
  tag leaves): no touchpoints (engagement rules count those, with decay), no segment membership,
  subscriptions or scores (a score would then depend on scores);
- `contact_condition_check` accepts exactly the conditions `contact_condition_sql` compiles:
  both parse with `segments.schema` and compile with `segments.compiler`; values are bound
  parameters of the compiled SQL, never text in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing.segments import catalogue as segment_catalogue
from tandem.marketing.segments import compiler
from tandem.marketing.segments import schema as s

RULE_NODE_TYPES = ("field", "tag")


def contact_condition_catalogue(user: object) -> dict[str, Any]:
    """What a condition may be, in the active language: {"fields": [{"key", "label", "group",
    "kind", "ops", "choices"}], "ops": {op: label}, "tag": {"label", "ops"}} (the segment
    builder's catalogue, limited to `RULE_NODE_TYPES`)."""
    full = segment_catalogue.catalogue(user)
    return {
        "fields": full["fields"],
        "ops": full["ops"],
        "tag": {"label": full["nodes"]["tag"], "ops": full["tag"]["ops"]},
    }


def contact_condition_check(condition: object) -> dict[str, Any]:
    """The condition as stored JSON, or InvalidInput with the reason (on "condition")."""
    if not isinstance(condition, dict) or condition.get("type") not in RULE_NODE_TYPES:
        raise InvalidInput({"condition": [_("A condition is a field or a tag.")]})
    try:
        node = s.parse_definition(condition)
        compiler.compile_node(node, compiler.Context())
    except InvalidInput as exc:
        messages = [str(m) for ms in exc.errors.values() for m in ms]
        raise InvalidInput({"condition": messages}) from None
    return node.model_dump(exclude_none=True)


def contact_condition_sql(
    condition: dict[str, Any], *, now: dt.datetime | None = None
) -> tuple[str, list[Any]]:
    """SQL and parameters of `SELECT id FROM contacts WHERE <condition>` (as of `now`, for
    relative dates), compiled by the ORM, for a set-based statement to test `c.id IN (…)`."""
    node = s.parse_definition(condition)
    q = compiler.compile_node(node, compiler.Context(now=now or timezone.now()))
    query = Contact.objects.order_by().filter(q).values("pk").query
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def contact_condition_describe(condition: dict[str, Any], catalogue: dict[str, Any]) -> str:
    """A condition in words ("Job title contains engineer"), with `catalogue`'s labels."""
    ops = catalogue["ops"]
    if condition.get("type") == "tag":
        op = ops.get(condition.get("op", "has"), condition.get("op", ""))
        return f"{catalogue['tag']['label']} {op} {condition.get('value', '')}"
    fields = {f["key"]: f for f in catalogue["fields"]}
    field = fields.get(str(condition.get("field", "")))
    label = field["label"] if field else str(condition.get("field", ""))
    op = str(condition.get("op", ""))
    value = condition.get("value")
    if field and field["choices"]:
        names = {str(k): str(v) for k, v in field["choices"]}
        if isinstance(value, list):
            value = [names.get(str(v), str(v)) for v in value]
        elif value is not None:
            value = names.get(str(value), str(value))
    if isinstance(value, bool):
        value = _("Yes") if value else _("No")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    words = [label, ops.get(op, op)]
    if value is not None:
        words.append(str(value))
    return " ".join(words)
