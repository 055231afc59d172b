"""Every page a role reaches from its navigation (and My profile) has a plain-text title: the
browser tab shows words, never a template's markup."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import World

TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
NAV_LINK = re.compile(r'<nav class="nav"[^>]*>(.*?)</nav>', re.DOTALL)


@pytest.mark.parametrize("role", ["head", "admin", "marketer", "sales_rep", "field_rep"])
def test_every_page_of_the_navigation_has_a_plain_text_title(world: World, role: str) -> None:
    client = Client()
    client.force_login(world.user(role))
    home = client.get("/").content.decode()
    nav = NAV_LINK.search(home)
    assert nav is not None
    paths = sorted({*re.findall(r'href="(/[^"#?]*)"', nav.group(1)), "/profile/"})
    assert len(paths) > 3
    for path in paths:
        response = client.get(path)
        if response.status_code != 200:
            continue
        found = TITLE.search(response.content.decode())
        assert found is not None, path
        assert "<" not in found.group(1), (path, found.group(1)[:80])
        assert found.group(1).strip(), path
