"""POST bodies of the tracking editors (Django formsets), built the way a browser sends them."""

from __future__ import annotations

from typing import Any

from tandem.tracking.channels import RULE_FIELDS

FORM_FIELDS = (
    "name",
    "source",
    "consent_purpose",
    "consent_wording",
    "consent_version",
    "campaign",
    "success_message",
    "redirect_url",
)


def form_post(
    *, fields: list[dict[str, Any]] | None = None, double_opt_in: bool = False, **values: Any
) -> dict[str, Any]:
    """The website-form editor's body: the form's values and its fields' formset."""
    rows = fields or []
    data: dict[str, Any] = {f: values.get(f, "") for f in FORM_FIELDS}
    if double_opt_in:
        data["double_opt_in"] = "on"
    data.update(
        {
            "fields-TOTAL_FORMS": str(len(rows) + 1),  # and one blank extra row, as the page has
            "fields-INITIAL_FORMS": "0",
            "fields-MIN_NUM_FORMS": "0",
            "fields-MAX_NUM_FORMS": "30",
        }
    )
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"fields-{i}-{key}"] = value
    data[f"fields-{len(rows)}-type"] = "text"  # a blank row keeps its select's first value
    return data


def rules_post(
    rules: list[dict[str, str]], *, action: str = "preview", note: str = "", move: str = ""
) -> dict[str, Any]:
    """The channel rules editor's body: every rule as a row, in order."""
    data: dict[str, Any] = {
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "note": note,
    }
    if move:
        data["move"] = move
    else:
        data["action"] = action
    for i, rule in enumerate(rules):
        for field in (*RULE_FIELDS, "channel", "department"):
            data[f"rules-{i}-{field}"] = rule.get(field, "")
    return data
