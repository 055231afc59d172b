"""The fragments a page repeats (list rows, filter options, navigation links) go through
Django's escaping and localisation: hostile text is escaped, numbers and dates are written in
the active language and time zone, in English and Russian alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from django import forms
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone, translation

from tandem.core.templatetags.tandem import nav_menu
from tandem.crm.forms import FilterSelect

HOSTILE = "<b>\"Bad\" & 'worse'</b>"
ESCAPED = "&lt;b&gt;&quot;Bad&quot; &amp; &#x27;worse&#x27;&lt;/b&gt;"


class Row(NamedTuple):
    id: int
    name: str
    domains: list[str]
    industry: str
    region: str
    created_at: Any
    owner__first_name: str | None
    owner__last_name: str | None
    owner__username: str | None


def _account_rows(row: Row, language: str) -> str:
    with translation.override(language), timezone.override("Europe/Moscow"):
        return render_to_string(
            "crm/_account_rows.html", {"rows": [row], "industry_labels": {"other": HOSTILE}}
        )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_list_rows_escape_hostile_text_in_every_cell(language: str) -> None:
    row = Row(7, HOSTILE, [HOSTILE, "b.example"], "other", HOSTILE, None, HOSTILE, "", "u")
    written = _account_rows(row, language)
    assert HOSTILE not in written
    assert written.count(ESCAPED) == 5  # name, industry, domain, region, owner
    assert f"{ESCAPED}, b.example" in written
    assert '<a href="/crm/accounts/7/">' in written


@pytest.mark.parametrize(("language", "expected"), [("en", "04/01/2026"), ("ru", "01.04.2026")])
def test_list_rows_write_dates_in_the_language_and_zone(language: str, expected: str) -> None:
    late = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # already April in Moscow
    for created in (late, date(2026, 4, 1)):
        row = Row(1, "A", [], "other", "", created, None, None, None)
        assert f'<td class="hide-sm nowrap">{expected}</td>' in _account_rows(row, language)


@pytest.mark.parametrize(("language", "number"), [("en", "1234.5"), ("ru", "1234,5")])
def test_filter_options_are_escaped_localised_and_mark_one_choice(
    language: str, number: str
) -> None:
    widget = FilterSelect(
        attrs={"id": "id_x", "data-<x>": '"&'},
        choices=[("", "Any"), (HOSTILE, HOSTILE), ("2", Decimal("1234.5")), ("2", "again")],
    )
    with translation.override(language):
        written = widget.render("owner", "2")
        # The same value as a template writes it.
        assert number == Template("{{ v }}").render(Context({"v": Decimal("1234.5")}))
    assert written == (
        '<select name="owner" data-&lt;x&gt;="&quot;&amp;" id="id_x">'
        '\n  <option value="">Any</option>'
        f'\n  <option value="{ESCAPED}">{ESCAPED}</option>'
        f'\n  <option value="2" selected>{number}</option>'
        '\n  <option value="2">again</option>'
        "\n</select>"
    )


def test_filter_options_say_what_django_s_select_says() -> None:
    choices = [("", "Any"), ("a", HOSTILE), ("b", "Плохой & <i>")]
    ours = FilterSelect(choices=choices).render("f", "a")
    django = forms.Select(choices=choices).render("f", "a")

    def options(html: str) -> list[str]:
        return [line.strip() for line in html.splitlines() if "<option" in line]

    assert options(ours) == options(django)


def test_navigation_workspaces_are_escaped_and_mark_the_current_page() -> None:
    written = nav_menu(
        [
            {
                "key": "home",
                "label": "Home",
                "active": False,
                "items": [{"url": "/a?x=1&y=<2>", "label": HOSTILE, "active": False}],
            },
            {
                "key": "customers",
                "label": HOSTILE,
                "active": True,
                "items": [
                    {"url": "/b/", "label": "Контакты", "active": True},
                    {"url": "/c/", "label": "Компании", "active": False},
                ],
            },
        ]
    )
    assert written == (
        f'<a href="/a?x=1&amp;y=&lt;2&gt;">{ESCAPED}</a>'
        '<details class="nav-group" data-group="customers">'
        f'<summary class="active">{ESCAPED}</summary><div class="nav-menu">'
        '<a href="/b/" aria-current="page">Контакты</a><a href="/c/">Компании</a></div></details>'
    )
