"""Hostile input on every page: no server error, whatever the query string or form holds.

Walks every URL pattern outside the API (which schemathesis covers) and the Django admin:
path integers are filled with an existing record's id (and with a number no database holds),
each page is fetched as an admin and as an anonymous visitor, and then fetched again with
hostile values (huge and negative integers, far dates and months, NUL, very long text, nested
brackets, non-ASCII digits, markup) in every parameter the page reads: the names in its view
module's `request.GET` reads and in its forms. Every form a page shows is posted with the same
values in each field. Every answer must be below 500.

Deterministic (a fixed list of values) and bounded: about 3,500 requests, two minutes of one
core.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.sales import services as sales

# pages and forms are the same on both engines; the PostgreSQL leg of CI leaves this run out
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

HUGE = "99999999999999999999"
HOSTILE = [
    HUGE,
    "-" + HUGE,
    "-1",
    "0",
    "1e308",
    "NaN",
    "9999-12-31",
    "0001-01-01",
    "9999-12",
    "0000-00",
    "2026-02-30",
    "9999-12-31T23:59:59+14:00",
    "a\x00b",
    "x" * 5000,
    "[" * 300 + "]" * 300,
    '{"a":' * 300 + "1" + "}" * 300,
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() but not ASCII
    "\u00b2",  # superscript two: str.isdigit() yet int() refuses it
    "<script>alert(1)</script>",
    "a\r\nBcc: x@example.com",
    "%",
]
SKIPPED_PREFIXES = ("api/v1/", "django-admin/", "i18n/")
# Posting these ends the session the fuzzer works in; they take no fields worth fuzzing.
SKIPPED_POSTS = ("/logout/",)
GET_NAMES = re.compile(r"""request\.GET\.get(?:list)?\(\s*["']([\w\[\].-]+)["']""")
GET_ITEMS = re.compile(r"""request\.GET\[\s*["']([\w\[\].-]+)["']\s*\]""")


class _Forms(HTMLParser):
    """The forms of a page: method, action and the names of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "method": (found.get("method") or "get").lower(),
                    "action": found.get("action") or "",
                    "names": set(),
                }
            )
        elif tag in ("input", "select", "textarea", "button") and self.forms:
            name = found.get("name")
            if name and name != "csrfmiddlewaretoken":
                self.forms[-1]["names"].add(name)


def _patterns(resolvers: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, route)
        elif isinstance(entry.pattern, RoutePattern):
            yield route, entry


CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _paths(route: str, ids: list[int]) -> list[str]:
    """The route with its parameters filled: ints with each of `ids` and a huge number,
    strings and slugs with a word."""
    variants = []
    for number in [*ids, int(HUGE)]:

        def fill(match: re.Match[str], number: int = number) -> str:
            converter = match.group(1) or "str"
            return str(number) if converter == "int" else "x"

        variants.append("/" + CONVERTER.sub(fill, route))
    return list(dict.fromkeys(variants))


def _module_names(pattern: URLPattern) -> set[str]:
    module = inspect.getmodule(pattern.callback)
    if module is None:
        return set()
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return set()
    return set(GET_NAMES.findall(source)) | set(GET_ITEMS.findall(source))


def _seed(world: World) -> list[int]:
    """A deal (with its pipeline, stage and quote-less lines) besides the world's records; the
    ids that name something on most pages."""
    rep = world.user(Role.SALES_REP)
    account = world.accounts[(Role.SALES_REP, "north")]
    system = Actor.system()
    sales.pipeline_create(
        actor=system,
        name="New business",
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    sales.deal_create(actor=system, name="Fuzz deal", account_id=account.pk, owner_id=rep.pk)
    return [world.contacts[(Role.SALES_REP, "north")].pk]


def test_no_page_answers_a_server_error_to_hostile_input(world: World) -> None:
    ids = _seed(world)
    admin = world.user(Role.ADMIN)
    signed_in = Client()
    signed_in.force_login(admin)
    anonymous = Client()
    failures: list[str] = []
    requests = 0

    def send(client: Client, method: str, url: str, data: dict[str, Any] | None) -> Any:
        nonlocal requests
        requests += 1
        try:
            if method == "post":
                response = client.post(url, data or {})
            else:
                response = client.get(url, data or {})
        except Exception as exc:
            names = ", ".join(sorted(data or {}))
            sample = next(iter((data or {}).values()), "")[:30]
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{method.upper()} {url} [{names}={sample!r}]: {type(exc).__name__}: "
                f"{str(exc)[:120]} at {frame.filename}:{frame.lineno}"
            )
            return None
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {url}: {response.status_code}")
        return response

    seen_posts: set[tuple[str, frozenset[str]]] = set()
    for route, pattern in _patterns(get_resolver().url_patterns):
        names = _module_names(pattern)
        for url in _paths(route, ids):
            send(anonymous, "get", url, None)
            page = send(signed_in, "get", url, None)
            if HUGE in url:  # no record has this id: the page itself is what is tested
                continue
            forms: list[dict[str, Any]] = []
            if page is not None and "html" in page.get("Content-Type", ""):
                parser = _Forms()
                parser.feed(page.content.decode("utf-8", "replace"))
                forms = parser.forms
            query_names = set(names)
            for form in forms:
                if form["method"] == "get":
                    query_names |= form["names"]
            for value in HOSTILE if query_names else []:
                send(signed_in, "get", url, dict.fromkeys(query_names, value))
            for form in forms:
                if form["method"] != "post" or not form["names"]:
                    continue
                action = urlsplit(urljoin(url, form["action"] or url)).path
                key = (action, frozenset(form["names"]))
                if action in SKIPPED_POSTS or key in seen_posts:
                    continue
                seen_posts.add(key)
                for value in HOSTILE:
                    send(signed_in, "post", action, dict.fromkeys(form["names"], value))
                    signed_in.force_login(admin)  # a post may have changed the session
    assert requests > 1000
    assert failures == [], "\n".join(failures)
