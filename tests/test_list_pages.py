"""The list pages' rendering keeps what they show: navigation worked out once per
language (still by role, with the right active item, and following a change of role at once),
and the filter form's lean selects (owners by name, the chosen one selected, text escaped)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from conftest import World
from tandem.core.audit import Actor
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
    assert "Organisation" not in [label for _url, _active, label in rep_en]

    admin_en = _nav(admin, "/crm/accounts/")
    assert [label for _url, active, label in admin_en if active] == ["Accounts"]
    assert [label for _url, _active, label in admin_en][-3:] == [
        "Background work",
        "Audit log",
        "API tokens",
    ]
    assert {"Organisation", "Users and teams", "Channel rules"} <= {
        label for _u, _a, label in admin_en
    }

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
    assert "Organisation" not in [label for _u, _a, label in _nav(client, "/crm/contacts/")]
    User.objects.filter(pk=user.pk).update(role="admin")
    assert "Organisation" in [label for _u, _a, label in _nav(client, "/crm/contacts/")]
    User.objects.filter(pk=user.pk).update(role="sales_rep")
    assert "Organisation" not in [label for _u, _a, label in _nav(client, "/crm/contacts/")]


TOP = re.compile(r'<a href="[^"]+"(?: aria-current="page")?>[^<]+</a>|<details class="nav-group"')


def _top_level(html: str) -> list[str]:
    """The bar's own entries: links outside a workspace menu, and the workspaces."""
    nav = NAV.search(html)
    assert nav is not None
    outside = re.sub(r'<div class="nav-menu">.*?</div>', "", nav.group(0), flags=re.S)
    return TOP.findall(outside)


@pytest.mark.parametrize("role", ["head", "marketer", "sales_rep", "field_rep", "admin"])
def test_no_role_sees_more_than_eight_top_level_entries(world: World, role: str) -> None:
    html = _client(world.user(role)).get("/crm/contacts/").content.decode()
    top = _top_level(html)
    assert 2 <= len(top) <= 8, top
    # every page the flat list used to offer is still one click inside a workspace
    assert html.count('<a href="/crm/contacts/" aria-current="page">Contacts</a>') == 1
    assert '<summary class="active">Customers</summary>' in html


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


# The rows as the list templates wrote them from model objects: the row templates, given the
# list's row tuples (crm/_contact_rows.html, crm/_account_rows.html), say the same, cell for cell.
CONTACT_ROW_TEMPLATE = """{% load tandem %}{% for c in items %}
  <tr>
    <td><a href="{% url 'crm:contact_detail' c.pk %}">{{ c }}</a>{% if c.title %}<br><span class="muted small">{{ c.title }}</span>{% endif %}</td>
    <td>{{ c.email }}</td>
    <td class="hide-sm">{% if c.account %}{{ c.account.name }}{% endif %}</td>
    <td class="hide-sm"><span class="badge stage-{{ c.lifecycle_stage }}">{{ labels|get_item:c.lifecycle_stage }}</span></td>
    <td class="hide-sm">{{ c.owner|person }}</td>
    <td class="hide-sm nowrap">{{ c.created_at|date:"SHORT_DATE_FORMAT" }}</td>
  </tr>{% endfor %}"""  # noqa: E501
ACCOUNT_ROW_TEMPLATE = """{% load tandem %}{% for a in items %}
  <tr>
    <td><a href="{% url 'crm:account_detail' a.pk %}">{{ a.name }}</a></td>
    <td>{{ labels|get_item:a.industry }}</td>
    <td class="hide-sm">{{ a.domains|join:", " }}</td>
    <td class="hide-sm">{{ a.region }}</td>
    <td class="hide-sm">{{ a.owner|person }}</td>
    <td class="hide-sm nowrap">{{ a.created_at|date:"SHORT_DATE_FORMAT" }}</td>
  </tr>{% endfor %}"""


def _render(template: str, items: list[Any], labels: dict[str, str]) -> str:
    return Template(template).render(Context({"items": items, "labels": labels}))


HOSTILE = "<b>\"Bad\" & 'worse'</b>"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_list_rows_say_what_the_row_template_said(world: World, language: str) -> None:
    from django.template.loader import render_to_string

    from tandem.crm import services as crm
    from tandem.crm import views
    from tandem.crm.models import Account, Contact, Industry, LifecycleStage
    from tandem.crm.selectors import ACCOUNT_ROW, CONTACT_ROW

    owner = world.user("sales_rep")
    User.objects.filter(pk=owner.pk).update(first_name=HOSTILE, last_name="")
    account = crm.account_create(
        actor=Actor.system(),
        name=HOSTILE,
        region=HOSTILE,
        industry="medical",
        owner_id=owner.pk,
        domains=["a-and-b.example.com", "second.example.org"],
    )
    crm.contact_create(
        actor=Actor.system(),
        first_name=HOSTILE,
        title=HOSTILE,
        email="o'hara&co@example.com",
        account_id=account.pk,
        owner_id=owner.pk,
        lifecycle_stage="customer",
    )
    crm.contact_create(actor=Actor.system(), email="nobody@example.com")  # no account, owner
    crm.account_create(actor=Actor.system(), name="Lonely")  # no owner, no domains
    late = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # April in Moscow
    Contact.objects.update(created_at=late)
    Account.objects.filter(pk=account.pk).update(created_at=late)

    # The old template was given model objects; the row templates get the list's rows.
    contacts = list(Contact.objects.select_related("account", "owner").order_by("pk"))
    accounts = list(Account.objects.select_related("owner").order_by("pk"))
    contact_data = list(Contact.objects.order_by("pk").values_list(*CONTACT_ROW, named=True))
    account_data = list(Account.objects.order_by("pk").values_list(*ACCOUNT_ROW, named=True))
    with translation.override(language), timezone.override("Europe/Moscow"):
        stages = views._labels(LifecycleStage.choices)
        industries = views._labels(Industry.choices)
        written = render_to_string(
            "crm/_contact_rows.html", {"rows": contact_data, "stage_labels": stages}
        )
        assert written == _render(CONTACT_ROW_TEMPLATE, contacts, stages)
        account_html = render_to_string(
            "crm/_account_rows.html", {"rows": account_data, "industry_labels": industries}
        )
        assert account_html == _render(ACCOUNT_ROW_TEMPLATE, accounts, industries)
    assert HOSTILE not in written
    assert "&lt;b&gt;&quot;Bad&quot; &amp; &#x27;worse&#x27;&lt;/b&gt;" in written
    april_first = {"en": "04/01/2026", "ru": "01.04.2026"}[language]
    assert f'<td class="hide-sm nowrap">{april_first}</td>' in written


def test_an_empty_list_says_so_and_a_full_one_does_not(world: World) -> None:
    head = _client(world.user("head"))
    empty = head.get("/crm/contacts/", {"q": "nothing-matches-this"}).content.decode()
    assert '<td colspan="6" class="empty">No contacts match.</td>' in empty
    assert "<tr>\n    <td>" not in empty
    full = head.get("/crm/contacts/").content.decode()
    assert 'class="empty"' not in full
    assert full.count("<tr>\n    <td>") == 4
    ru = head.get("/crm/accounts/", {"q": "nothing-matches-this"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert '<td colspan="6" class="empty">Подходящих компаний нет.</td>' in ru.content.decode()


def test_the_language_switch_names_each_language_in_itself(world: World) -> None:
    head = _client(world.user("head"))
    for language in ("en", "ru"):
        html = head.get("/crm/contacts/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        buttons = re.findall(
            r'<button type="submit" name="language" value="(\w+)".*?title="([^"]+)"', html
        )
        assert buttons == [("en", "English"), ("ru", "Русский")]
