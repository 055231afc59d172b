"""What `lint-imports` cannot see: detours around the import contracts.

An app that reaches another through `importlib.import_module` or `apps.get_model`, or that names
another app's table in raw SQL, depends on it without an import statement, so the layers and
app-boundary contracts in pyproject.toml would pass it by. These tests read the source instead.
Migrations (which must use `apps.get_model`) and tests are exempt.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps

TANDEM = Path(__file__).resolve().parents[2]
DETOURS = re.compile(r"\bimport_module\(|\bget_model\(|\b__import__\(")
WORD = re.compile(r"[a-z][a-z0-9_]*")


def _sources() -> list[Path]:
    return sorted(
        path
        for path in TANDEM.rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    )


def _app_of(path: Path) -> str:
    """The label of the installed app whose folder holds `path` ("" if none)."""
    best = ("", 0)
    for config in apps.get_app_configs():
        folder = Path(config.path)
        if path.is_relative_to(folder) and len(folder.parts) > best[1]:
            best = (config.label, len(folder.parts))
    return best[0]


def _tables() -> dict[str, str]:
    """Every table of a Tandem app (many-to-many tables included) -> the app's label."""
    owners: dict[str, str] = {}
    for model in apps.get_models(include_auto_created=True):
        if model.__module__.startswith("tandem."):
            owners[model._meta.db_table] = model._meta.app_label
    return owners


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_app_reaches_another_through_importlib_or_get_model() -> None:
    found = [
        f"{path.relative_to(TANDEM.parent)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DETOURS.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == [], "import the other app's services or selectors instead:\n" + "\n".join(found)


def test_no_raw_sql_names_another_apps_table() -> None:
    tables = _tables()
    assert tables["crm_touchpoint"] == "crm"  # the table names are known
    found = []
    for path in _sources():
        own = _app_of(path)
        if not own:
            continue
        for number, text in _strings(ast.parse(path.read_text())):
            foreign = {w for w in WORD.findall(text) if tables.get(w, own) != own}
            if foreign:
                names = ", ".join(sorted(foreign))
                found.append(f"{path.relative_to(TANDEM.parent)}:{number}: {names}")
    assert found == [], "call the owning app's services or selectors instead:\n" + "\n".join(found)


def test_the_table_scan_sees_a_foreign_table_in_sql() -> None:
    tables = _tables()
    sql = 'INSERT INTO "crm_touchpoint" (contact_id) SELECT id FROM leads_handoff'
    tree = ast.parse(f"SQL = {sql!r}")
    words = {w for _n, text in _strings(tree) for w in WORD.findall(text)}
    assert {w for w in words if tables.get(w, "leads") != "leads"} == {"crm_touchpoint"}
