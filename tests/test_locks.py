"""The two lock files pin every declared dependency, and agree with each other.

`python3 dev.py start` installs requirements-base.lock and `python3 dev.py test` installs
requirements.lock: a runtime dependency missing from the base lock would pass every test and
still break the first command (this happened once: a page answered 500 without `cryptography`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_norm(re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0]) for r in requirements}


def test_every_dependency_is_pinned_and_both_locks_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    dev = _names(project["optional-dependencies"]["dev"])
    base, full = _pins("requirements-base.lock"), _pins("requirements.lock")
    assert runtime - set(base) == set(), "runtime dependencies missing from requirements-base.lock"
    assert (runtime | dev) - set(full) == set(), "dependencies missing from requirements.lock"
    differing = {n: (v, full.get(n)) for n, v in base.items() if full.get(n) != v}
    assert differing == {}, "the base lock pins other versions than the full lock"


def test_extras_are_in_the_full_lock_and_not_in_the_runtime_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    extras = project["optional-dependencies"]
    base, full = _pins("requirements-base.lock"), _pins("requirements.lock")
    for name, requirements in extras.items():
        only_here = _names(requirements) - runtime
        assert only_here - set(full) == set(), f"the {name} extra is missing from requirements.lock"
        assert only_here & set(base) == set(), f"the {name} extra leaks into the runtime lock"


# Modules that only the extras and the development tools provide (dkimpy is runtime:
# every message Tandem sends is signed).
NOT_AT_RUN_TIME = ("redis", "rq", "django_rq", "django_tasks_rq", "pytest", "hypothesis")


def test_runtime_code_imports_no_development_tool_and_no_extra_at_module_level():
    """The runtime lock is enough to import every module of Tandem: an extra is imported only
    inside the function that needs it (after settings checked it is installed)."""
    offenders = []
    for path in sorted((ROOT / "tandem").rglob("*.py")) + sorted((ROOT / "config").rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^(?:import|from) ([A-Za-z_]+)", line)
            if match and match.group(1) in NOT_AT_RUN_TIME:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line}")
    assert offenders == []
