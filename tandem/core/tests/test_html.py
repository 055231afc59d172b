"""The HTML helpers write what the template language writes for the same value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.forms.renderers import get_default_renderer
from django.template import Context, Template
from django.urls import reverse, set_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from tandem.core.html import attributes, date_formatter, escape, id_url


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "<b>\"quoted\" & 'single'</b>",
        mark_safe("<i>already safe</i>"),
        gettext_lazy("Contacts"),
        42,
        "",
    ],
)
def test_escape_is_template_autoescaping(value: object) -> None:
    assert escape(value) == Template("{{ v }}").render(Context({"v": value}))


def test_attributes_are_widget_attrs_html() -> None:
    attrs = {"id": "id_q", "required": True, "disabled": False, "data-x": '"<&>'}
    assert attributes(attrs) == ' id="id_q" required data-x="&quot;&lt;&amp;&gt;"'
    assert attributes({}) == ""
    # The same as Django's own template for them, names included.
    odd = {"data-<x>": "a&b", "hidden": True, "off": False, "n": 3}
    django = get_default_renderer().render(
        "django/forms/widgets/attrs.html", {"widget": {"attrs": odd}}
    )
    assert attributes(odd) == " " + django  # the renderer strips the leading space


@pytest.mark.parametrize("prefix", ["/", "/tandem/"])
def test_id_url_is_reverse_for_every_id(prefix: str) -> None:
    set_script_prefix(prefix)
    try:
        url = id_url("crm:contact_detail")
        for pk in (1, 7, 10, 987654321, "42"):
            assert url(pk) == reverse("crm:contact_detail", args=[pk])
    finally:
        set_script_prefix("/")
    with pytest.raises(ValueError, match="invalid literal for int"):
        url("1/../admin")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_date_formatter_is_the_date_filter_in_the_active_language_and_zone(language: str) -> None:
    late = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # already April in Moscow
    template = Template('{{ v|date:"SHORT_DATE_FORMAT" }}')
    with translation.override(language), timezone.override("Europe/Moscow"):
        written = date_formatter("SHORT_DATE_FORMAT")(late)
        assert written == template.render(Context({"v": late}))
        assert "04" in written
        assert "31" not in written
        naive = datetime(2026, 1, 2, 3, 4)  # noqa: DTZ001 - a naive value is shown as it is
        assert date_formatter("SHORT_DATE_FORMAT")(naive) == template.render(Context({"v": naive}))
    assert date_formatter()(None) == ""


@pytest.mark.parametrize(
    "fmt",
    [
        "SHORT_DATE_FORMAT",
        "DATE_FORMAT",  # month names: Django's own formatter
        "SHORT_DATETIME_FORMAT",
        "d.m.Y",
        "m/d/Y",
        "j.n.y",
        r"Y-m-d \w\e\e\k",
        "{d} & <m>",
        "D, d M Y H:i",
    ],
)
@pytest.mark.parametrize("language", ["en", "ru"])
def test_date_formatter_writes_any_format_as_the_date_filter(fmt: str, language: str) -> None:
    template = Template("{{ v|date:f }}")
    with translation.override(language), timezone.override("Asia/Vladivostok"):
        formatter = date_formatter(fmt)
        for value in (
            datetime(2026, 1, 5, 14, 3, tzinfo=UTC),
            datetime(2009, 12, 31, 23, 59, tzinfo=UTC),
            datetime(1999, 7, 9, 0, 0, tzinfo=UTC),
        ):
            assert formatter(value) == template.render(Context({"v": value, "f": fmt}))
