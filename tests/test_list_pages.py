"""The list pages' cheaper rendering keeps what they show: navigation worked out once per
language (still by role, with the right active item, and following a change of role at once),
and the filter form's lean selects (owners by name, the chosen one selected, text escaped)."""

from __future__ import annotations

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import World
from tandem.core.context_processors import _nav_entries
from tandem.core.models import User

NAV = re.compile(r'<nav class="nav".*?</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _nav(client: Client, path: str, language: str = "en") -> list[tuple[str, bool, str]]:
    html = client.get(path, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    nav = NAV.search(html)
    assert nav is not None
    return [(url, bool(active), label) for url, active, label in LINK.findall(nav.group(0))]


def test_navigation_by_role_and_language_with_the_active_item(world: World) -> None:
    _nav_entries.cache_clear()
    rep = _client(world.user("sales_rep"))
    admin = _client(world.user("admin"))

    rep_en = _nav(rep, "/crm/contacts/")
    assert [label for _url, _active, label in rep_en][:3] == ["Home", "Contacts", "Accounts"]
    assert [label for _url, active, label in rep_en if active] == ["Contacts"]
    assert "Settings" not in [label for _url, _active, label in rep_en]

    admin_en = _nav(admin, "/crm/accounts/")
    assert [label for _url, active, label in admin_en if active] == ["Accounts"]
    assert [label for _url, _active, label in admin_en][-4:] == [
        "Audit log",
        "Settings",
        "Channel rules",
        "API tokens",
    ]

    rep_ru = _nav(rep, "/crm/contacts/", "ru")
    assert [label for _url, _active, label in rep_ru][:3] == ["Главная", "Контакты", "Компании"]
    assert [url for url, _active, _label in rep_ru] == [url for url, _active, _label in rep_en]
    # English again after Russian: each language has its own entries.
    assert _nav(rep, "/crm/contacts/") == rep_en

    home = _nav(rep, "/")
    assert [label for _url, active, label in home if active] == ["Home"]


def test_navigation_follows_a_change_of_role_at_once(world: World) -> None:
    user = world.user("sales_rep")
    client = _client(user)
    assert "Settings" not in [label for _u, _a, label in _nav(client, "/crm/contacts/")]
    User.objects.filter(pk=user.pk).update(role="admin")
    assert "Settings" in [label for _u, _a, label in _nav(client, "/crm/contacts/")]
    User.objects.filter(pk=user.pk).update(role="sales_rep")
    assert "Settings" not in [label for _u, _a, label in _nav(client, "/crm/contacts/")]


def _options(html: str, name: str) -> list[tuple[str, bool, str]]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, name
    return [
        (value, bool(selected), label)
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1)
        )
    ]


def test_owner_filter_lists_active_users_by_name_and_marks_the_choice(world: World) -> None:
    rep = world.user("sales_rep", "south")
    User.objects.filter(pk=rep.pk).update(first_name="Ann", last_name="<b>Lee</b>")
    gone = world.user("field_rep", "south")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    head = _client(world.user("head"))

    html = head.get("/crm/contacts/", {"owner": rep.pk}).content.decode()
    owners = _options(html, "owner")
    assert owners[0] == ("", False, "Any owner")
    assert (str(rep.pk), True, "Ann &lt;b&gt;Lee&lt;/b&gt;") in owners
    assert [o for o in owners if o[1]] == [(str(rep.pk), True, "Ann &lt;b&gt;Lee&lt;/b&gt;")]
    assert (str(world.user("admin").pk), False, "admin_north") in owners
    assert str(gone.pk) not in [value for value, _selected, _label in owners]
    assert "<b>Lee</b>" not in html

    # An inactive or unknown owner is not a filter: the whole list, nothing selected.
    for junk in (gone.pk, "abc", 10**9):
        page = head.get("/crm/contacts/", {"owner": junk}).content.decode()
        assert [o for o in _options(page, "owner") if o[1]] == []
        assert 'id="result-count">4 contacts<' in page

    assert _options(html, "lifecycle_stage")[:2] == [
        ("", True, "Any stage"),
        ("subscriber", False, "Subscriber"),
    ]
    sort = _options(head.get("/crm/accounts/", {"sort": "created"}).content.decode(), "sort")
    assert sort == [("name", False, "Name"), ("created", True, "Newest first")]


def test_owner_choices_are_read_once_and_not_for_the_results_partial(world: World) -> None:
    head = _client(world.user("head"))
    head.get("/crm/contacts/")  # session and language settled

    def user_queries(**kwargs: object) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert head.get("/crm/contacts/", **kwargs).status_code == 200  # type: ignore[arg-type]
        # The owner choices: the active users.
        return sum('WHERE "core_user"."is_active"' in q["sql"] for q in queries)

    assert user_queries() == 1
    assert user_queries(data={"owner": world.user("sales_rep").pk}) == 1
    assert user_queries(HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results") == 0
