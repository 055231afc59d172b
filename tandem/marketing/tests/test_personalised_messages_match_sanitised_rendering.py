"""The per-send skeleton (sanitise once, put each person's escaped values in) gives exactly what
sanitising each rendered message gives, for hostile templates and values alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.marketing.email import render

TEMPLATES = [
    "<p>Hello {{ contact.first_name }} {{ contact.last_name }}!</p>",
    '<h1>News for {{ contact.first_name|default:"you" }}</h1><p>Hi {{ contact.first_name }}</p>'
    '<p><a href="https://x.example/a">Read</a></p>',
    "<table><tr><td>{{ contact.first_name }}</td></tr>{{ contact.last_name }}</table>",
    "<table>{{ contact.first_name }}<tr><td>x</td></tr></table>",
    '<a href="https://x.example/?n={{ contact.first_name }}">{{ contact.last_name }}</a>',
    '<img src="{{ contact.custom.url }}" alt="{{ contact.first_name }}">',
    "<p>&no{{ contact.first_name }} &amp{{ contact.last_name }}</p>",
    "<p><{{ contact.first_name }}>x</{{ contact.first_name }}></p>",
    "<script>{{ contact.first_name }}</script><style>{{ contact.last_name }}</style>ok",
    "<p><!-- {{ contact.first_name }} -->{{ contact.last_name }}</p>",
    "<textarea>{{ contact.first_name }}</textarea><title>{{ contact.last_name }}</title>",
    "<ul>{% for x in contact.custom.items %}<li>{{ x }}</li>{% empty %}<li>-</li>{% endfor %}</ul>",
    "{% if contact.first_name %}<b>{{ contact.first_name|upper }}</b>{% else %}there{% endif %}",
    "{% spaceless %}<p> {{ contact.first_name }} </p>{% endspaceless %}",
    "<p>{{ contact.first_name|safe }}</p><p>{{ contact.last_name|linebreaksbr }}</p>",
    "<p>{% firstof contact.first_name contact.last_name %} {{ contact.title }}</p>",
    "<pre>  {{ contact.first_name }}\n{{ contact.last_name }}  </pre>",
    "<pre>{{ contact.first_name }}</pre><listing>{{ contact.last_name }}</listing>",
    "{{ contact.first_name }}",
    "<p>no variables at all</p>",
    "<p>{{ contact.first_name }}{{ contact.last_name }}</p><div>{{ contact.title }}</div>",
]
VALUES = [
    "",
    " ",
    "Ada",
    "Ada Lovelace",
    "  Ada  ",
    "<b>Eve</b>",
    "Tom & Jerry",
    'O\'Brien "Bob"',
    "a\u00a0b",
    "x\r\ny",
    "\nfirst line dropped after <pre>/<textarea>",
    "t;",
    "tin;",
    "\x00\x01",
    "Ñandú 日本",
    "javascript:alert(1)",
    "&lt;script&gt;",
    "a\tb  c",
    "<script>alert(1)</script>",
]


def reference(source: str, context: dict[str, Any]) -> tuple[str, str]:
    body = render.sanitise(render.ENGINE.from_string(source).render(Context(context)))
    return body, render.html_to_text(body)


def context(first: str, last: str, title: str = "") -> dict[str, Any]:
    return {
        "contact": {
            "first_name": first,
            "last_name": last,
            "email": "a@example.com",
            "title": title,
            "company": "",
            "custom": {"url": last, "items": [first, last]},
        }
    }


@pytest.mark.parametrize("source", TEMPLATES)
def test_skeleton_matches_sanitising_every_message(source: str) -> None:
    compiled = render.compile_templates(subject="s", html=source)
    for first in VALUES:
        for last in VALUES[::3]:
            ctx = context(first, last, title=last)
            got = render.render_compiled(compiled, ctx)
            assert (got.html, got.text) == reference(source, ctx), (source, first, last)


def test_the_common_template_takes_the_fast_path() -> None:
    compiled = render.compile_templates(subject="s", html=TEMPLATES[1])
    for name in ("Ada", "Bob", "Carla"):
        render.render_compiled(compiled, context(name, "L"))
    # one skeleton for every named person, and it is usable
    assert [s is not None for s in compiled.skeletons.values()] == [True]
    skeleton = next(iter(compiled.skeletons.values()))
    assert skeleton is not None
    assert skeleton.text is not None


@settings(max_examples=300, deadline=None)
@given(
    source=st.sampled_from(TEMPLATES),
    first=st.text(max_size=12),
    last=st.text(alphabet=st.sampled_from("ab &<>\"'\u00a0;#\n\t\rx1"), max_size=10),
)
def test_skeleton_matches_on_random_values(source: str, first: str, last: str) -> None:
    compiled = render.compile_templates(subject="s", html=source)
    ctx = context(first, last, title=first)
    got = render.render_compiled(compiled, ctx)
    assert (got.html, got.text) == reference(source, ctx)
