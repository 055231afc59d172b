"""One permission model: `core.access.CAPABILITIES`, asked through `can()`, decides what the
navigation shows, what a page lets through and what an API operation allows, and no other module
keeps a list of roles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from conftest import World
from tandem.core.access import CAPABILITIES, EVERYONE, can
from tandem.core.models import Role

TANDEM = Path(__file__).resolve().parents[2]


def _nav_has_tokens(client: Client) -> bool:
    return 'href="/tokens/"' in client.get("/crm/contacts/").content.decode()


@pytest.mark.parametrize("role", [Role.MARKETER, Role.SALES_REP])
def test_taking_a_capability_from_a_role_changes_the_navigation_the_page_and_the_api_alike(
    world: World, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    client.force_login(world.user(role))
    assert _nav_has_tokens(client)
    assert client.get("/tokens/").status_code == 200
    assert client.get("/api/v1/tokens").status_code == 200

    monkeypatch.setitem(CAPABILITIES, "use_api_tokens", EVERYONE - {role})

    assert not _nav_has_tokens(client)
    assert client.get("/tokens/").status_code == 403
    refused = client.get("/api/v1/tokens")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    other = Client()
    other.force_login(world.user(Role.HEAD))
    assert _nav_has_tokens(other)
    assert other.get("/tokens/").status_code == 200
    assert other.get("/api/v1/tokens").status_code == 200


def test_can_fails_closed(world: World) -> None:
    head = world.user(Role.HEAD)
    assert can(head, "view_audit")
    assert not can(head, "no_such_capability")
    assert not can(None, "view_records")
    head.is_active = False
    assert not can(head, "view_records")


def test_every_capability_names_known_roles_only() -> None:
    assert all(roles <= set(Role.values) for roles in CAPABILITIES.values())


# A list of roles compared with a user's role: `role in {...}`, `role not in (...)`, or a
# module-level collection of Role members. Only core/access.py may hold one.
ROLE_LIST_PY = re.compile(
    r"\brole\s+(?:not\s+)?in\s*[\(\{\[]|=\s*(?:frozenset\(|set\(|tuple\()?[\(\{\[]\s*Role\.[A-Z_]+\s*,"
)
ROLE_CHECK_HTML = re.compile(r"user\.role\s*(?:==|!=|\bin\b)")


def _sources(suffix: str) -> list[Path]:
    return [
        path
        for path in TANDEM.rglob(f"*{suffix}")
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def test_no_module_but_core_access_keeps_a_list_of_roles() -> None:
    found = [
        f"{path.relative_to(TANDEM.parent)}:{number}: {line.strip()}"
        for path in _sources(".py")
        if path != TANDEM / "core" / "access.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ROLE_LIST_PY.search(line)
    ]
    found += [
        f"{path.relative_to(TANDEM.parent)}:{number}: {line.strip()}"
        for path in _sources(".html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ROLE_CHECK_HTML.search(line)
    ]
    assert found == [], "ask core.access.can(user, capability) instead:\n" + "\n".join(found)


def test_the_role_list_guard_sees_the_shapes_it_forbids() -> None:
    assert ROLE_LIST_PY.search('    return user.is_active and user.role in {"head", "admin"}')
    assert ROLE_LIST_PY.search("    if user.role not in (Role.SALES_REP, Role.FIELD_REP):")
    assert ROLE_LIST_PY.search("REPS = (Role.SALES_REP, Role.FIELD_REP)")
    assert ROLE_LIST_PY.search("STAFF = frozenset({Role.HEAD, Role.ADMIN})")
    assert not ROLE_LIST_PY.search('    if can(user, "see_team_records"):')
    assert ROLE_CHECK_HTML.search('{% if user.role == "marketer" %}')


def test_social_connections_are_managed_by_admins_heads_and_marketers_only(
    world: World,
) -> None:
    managers = {Role.ADMIN, Role.HEAD, Role.MARKETER}
    assert CAPABILITIES["manage_social"] == managers
    for role in Role.values:
        assert can(world.user(role), "manage_social") is (role in managers)
