"""Every touchpoint kind Tandem's code stores has a label in English and Russian: the timeline
never shows a raw key. The kinds are read from the code that writes touchpoints (by parsing it),
so a new kind without a label fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from django.utils import translation

from tandem.core.templatetags.tandem import KIND_LABELS, kind_label
from tandem.marketing.content.services import ENGAGEMENT_KINDS
from tandem.marketing.events.models import EventKind
from tandem.sales.models import TaskKind

ROOT = Path(__file__).resolve().parents[2]
# helpers that take the kind (or its suffix) as a positional argument: (name, index, template)
POSITIONAL = {
    "_buyer_touchpoint": (1, "{}"),
    "_touch": (1, "{}"),  # email engagement: _touch(recipient, "email_opened", ...)
}
EVENT_SUFFIXES = ("registered", "attended", "no_show", "lead")


def _literal_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in ROOT.glob("*/**/*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if "touch" in name.lower() or "timeline" in name.lower():
                for keyword in node.keywords:
                    value = keyword.value
                    if keyword.arg == "kind" and isinstance(value, ast.Constant):
                        kinds.add(str(value.value))
            if name in POSITIONAL and path.parent.name != "events":
                index, _template = POSITIONAL[name]
                if len(node.args) > index and isinstance(node.args[index], ast.Constant):
                    kinds.add(str(node.args[index].value))
    return kinds


def stored_kinds() -> set[str]:
    kinds = _literal_kinds()
    kinds |= set(ENGAGEMENT_KINDS.values())
    kinds |= {f"{kind}_{suffix}" for kind in EventKind.values for suffix in EVENT_SUFFIXES}
    kinds |= {f"sales_{kind}" for kind in TaskKind.values}
    return kinds


def test_the_scan_finds_the_kinds_it_should() -> None:
    kinds = stored_kinds()
    # a sample from each writer, so a broken scan cannot pass silently
    assert {"quote_viewed", "email_opened", "form_submitted", "lifecycle_stage_changed"} <= kinds
    assert {"webinar_no_show", "content_downloaded", "sales_call", "deal_won"} <= kinds


def test_every_stored_kind_has_a_label_in_both_languages() -> None:
    missing = sorted(kind for kind in stored_kinds() if kind not in KIND_LABELS)
    assert missing == []
    kinds = sorted(stored_kinds())
    with translation.override("en"):
        english = {kind: kind_label(kind) for kind in kinds}
    with translation.override("ru"):
        untranslated = [kind for kind in kinds if kind_label(kind) == english[kind]]
    assert untranslated == []
