"""docs/security.md cannot promise more than the tests hold: every test it names exists (a test
renamed or removed fails here until the page says what holds the promise now), every file it
names exists, every promise row names at least one test, and the page says how to report a
vulnerability."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "security.md"
TEST_NAME = re.compile(r"\btest_[a-z0-9_]+\b")
TEST_FILE = re.compile(r"`((?:tandem|tests)/[\w/.]+\.py)")


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in [
        *ROOT.joinpath("tandem").rglob("test_*.py"),
        *ROOT.joinpath("tests").rglob("*.py"),
    ]:
        names.update(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def _rows() -> list[str]:
    """The rows of the page's promise tables (those headed `| promise | test |`)."""
    rows: list[str] = []
    in_promises = False
    for line in PAGE.read_text().splitlines():
        if not line.startswith("|"):
            in_promises = False
        elif line.startswith("| promise | test |"):
            in_promises = True
        elif in_promises and not line.startswith("|---"):
            rows.append(line)
    return rows


def test_every_test_the_security_page_names_exists() -> None:
    text = PAGE.read_text()
    named = {name for name in TEST_NAME.findall(text) if not name.endswith("_")}
    named -= {name for name in named if f"{name}.py" in text}  # a file named test_x.py
    missing = sorted(named - _defined_tests())
    assert missing == []


def test_every_file_the_security_page_names_exists() -> None:
    files = {match.split("::")[0] for match in TEST_FILE.findall(PAGE.read_text())}
    assert files, "the page names the files that hold its promises"
    assert sorted(f for f in files if not (ROOT / f).exists()) == []


def test_every_promise_names_the_test_that_holds_it() -> None:
    rows = _rows()
    assert len(rows) >= 30
    bare = [row[:80] for row in rows if "test_" not in row.split("|")[-2]]
    assert bare == []


def test_the_page_says_how_to_report_a_vulnerability() -> None:
    assert "## Reporting a vulnerability" in PAGE.read_text()
