"""Every page a role reaches from its navigation reads in Russian: no raw enumeration keys
(`lifecycle_stage_changed`, `closed_won`, `sales_rep`) and no English label that the catalogues
translate.

The small demo gives the pages their enumerations (timeline kinds, channels, departments,
attribution models, stages, statuses). Each role signs in with Russian; the test collects the
links of its navigation and, from each list page, the first record of each kind (contact,
account, deal, hand-off, campaign, event, segment, dispute, ...), renders every one in-process
and reads the visible text: tags, scripts, styles, code and text boxes stripped, attribute
values dropped except the ones a person sees (title, placeholder, aria-label, a button's value).

Four detectors, each after the demo's own data (names, subjects, custom attributes: data, not
labels; usernames and tags too) has been taken out of the text:
- raw keys: a snake_case token, or a whole text node, that is a value of a model field's
  choices, a timeline kind, a channel of the rule table or an attribution model;
- untranslated English: a msgid of the compiled catalogues whose Russian differs, found verbatim
  (case-sensitive, on word boundaries), brands and abbreviations aside;
- English the catalogues do not know: a text node without Cyrillic holding two English words;
- numbers written the English way: 1,234.50, 12.5 or 12% (Russian: 1 234,50, 12,5, 12 %).
"""

from __future__ import annotations

import bisect
import gettext
import re
from collections import defaultdict
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import translation

from tandem.attribution.engine.models import MODELS
from tandem.core.labels import (
    ATTRIBUTION_MODEL_LABELS,
    CHANNEL_LABELS,
    attribution_model_label,
    channel_label,
    kind_label,
)
from tandem.core.models import User
from tandem.core.templatetags.tandem import KIND_LABELS
from tandem.crm.models import Tag
from tandem.demo.services import demo_load
from tandem.tracking.channels import CHANNELS

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("head", "marketer", "sales_rep", "field_rep", "admin")
# a record's page, found as the first link of its kind on a list page
DETAIL_LINKS = {
    "contact": re.compile(r"^/crm/contacts/\d+/$"),
    "account": re.compile(r"^/crm/accounts/\d+/$"),
    "deal": re.compile(r"^/sales/deals/\d+/$"),
    "hand-off": re.compile(r"^/leads/handoffs/\d+/$"),
    "campaign": re.compile(r"^/marketing/campaigns/\d+/$"),
    "event": re.compile(r"^/marketing/events/\d+/$"),
    "segment": re.compile(r"^/marketing/segments/\d+/$"),
    "dispute": re.compile(r"^/leads/disputes/\d+/$"),
    "content": re.compile(r"^/marketing/content/\d+/$"),
    "email send": re.compile(r"^/marketing/email/sends/\d+/$"),
    "social post": re.compile(r"^/marketing/social/\d+/$"),
    "scoring group": re.compile(r"^/leads/scoring/\d+/$"),
}
# English that stays English in Russian: names, brands and abbreviations
PROPER = frozenset(
    {"Tandem", "LinkedIn", "CSV", "XLSX", "API", "ROI", "SLA", "MQL", "SQL", "UTM", "Email"}
    | {"VK", "English"}  # the language switch names each language in itself
)
SNAKE = re.compile(r"(?<![\w@./:=-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/=-])")
VISIBLE_ATTRIBUTES = frozenset({"title", "placeholder", "aria-label"})
# scripts and styles; code, snippets and text a person typed into a box are not labels
INVISIBLE = frozenset({"script", "style", "code", "pre", "textarea"})


class VisibleText(HTMLParser):
    """The words a person reads on a page: text outside scripts and styles, and the attributes
    shown to them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in INVISIBLE:
            self.hidden += 1
        values = dict(attrs)
        for name in VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.parts.append(str(values[name]))
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.parts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in INVISIBLE and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_parts(html: str) -> list[str]:
    """The page's text nodes and visible attribute values, each with its spaces collapsed."""
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return [" ".join(part.split()) for part in parser.parts if part.strip()]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nav: list[str] = []
        self.all: list[str] = []
        self.in_nav = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "nav" and "nav" in (values.get("class") or "").split():
            self.in_nav += 1
        if tag == "a" and values.get("href"):
            href = str(values["href"]).split("#")[0].split("?")[0]
            self.all.append(href)
            if self.in_nav:
                self.nav.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self.in_nav:
            self.in_nav -= 1


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser


def enumeration_keys() -> frozenset[str]:
    """Every stored value of a field with choices in Tandem's models, every timeline kind,
    channel and attribution model."""
    keys: set[str] = set(KIND_LABELS) | set(CHANNELS) | set(MODELS)
    for model in apps.get_models():
        if not model.__module__.startswith("tandem."):
            continue
        for field in model._meta.get_fields():
            choices = (
                getattr(field, "flatchoices", None) if isinstance(field, models.Field) else None
            )
            for value, _label in choices or ():
                if isinstance(value, str):
                    keys.add(value)
    return frozenset(key for key in keys if re.fullmatch(r"[a-z][a-z0-9_-]*", key))


def catalogues() -> Iterator[Path]:
    yield from sorted((ROOT / "tandem").glob("**/locale/ru/LC_MESSAGES/django.mo"))


def translated_english() -> frozenset[str]:
    """The msgids the compiled catalogues translate into something else: if one appears on a
    Russian page, a label was left in English."""
    found: set[str] = set()
    for path in catalogues():
        with path.open("rb") as handle:
            catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        for key, msgstr in catalogue.items():
            msgid = key[0] if isinstance(key, tuple) else key
            text = msgid.split("\x04")[-1].strip()  # pgettext keys: context EOT msgid
            if not text or not msgstr or msgstr.strip() == text or text in PROPER:
                continue
            if "%" in text or "{" in text or "<" in text or "\n" in text:
                # placeholders: the filled-in sentence cannot be matched verbatim; its fixed
                # words are caught by the shorter labels
                continue
            if not re.search(r"[A-Za-z]{2}", text):
                continue
            found.add(text)
    return frozenset(found)


def _strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)


def data_strings(keys: frozenset[str]) -> list[str]:
    """The demo's own words (names, subjects, descriptions, custom attributes), longest first:
    data, not labels. Enumeration keys stored in free-text fields (a touchpoint's channel) are
    not data: they must be shown in words."""
    values: set[str] = set()
    for model in apps.get_models():
        if not model.__module__.startswith("tandem."):
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices
        ]
        if not fields:
            continue
        for row in model.objects.values_list(*fields)[:5000].iterator():
            for value in _strings_in(list(row)):
                value = " ".join(value.split())
                if 2 < len(value) <= 5000 and re.search("[A-Za-z]", value) and value not in keys:
                    values.add(value)
    return sorted(values, key=len, reverse=True)


def names_people_chose() -> frozenset[str]:
    """Usernames and tags: a user called "marketer" or a tag "medical" is a name, not a key."""
    return frozenset(User.objects.values_list("username", flat=True)) | frozenset(
        Tag.objects.values_list("name", flat=True)
    )


def without_data(text: str, data: list[str], starts: list[str]) -> str:
    """`text` with the demo's data taken out, values cut short for a list included ("Soil
    sensors that pay for…"). `data` is sorted longest first, `starts` alphabetically."""
    for end in reversed([m.start() for m in re.finditer("\u2026", text)]):
        for start in range(max(0, end - 300), end - 11):
            prefix = text[start:end].strip()
            at = bisect.bisect_left(starts, prefix)
            if len(prefix) >= 12 and at < len(starts) and starts[at].startswith(prefix):
                text = text[:start] + " " + text[end + 1 :]
                break
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    return text


def untranslated(text: str, english: frozenset[str]) -> list[str]:
    hits = []
    for msgid in english:
        if msgid in text and re.search(rf"(?<![\w-]){re.escape(msgid)}(?![\w-])", text):
            hits.append(msgid)
    return sorted(hits)


# 1,234.50 or 12.5 (Russian writes 1 234,50 and 12,5) or 12% (Russian: 12 %); not a date
# (07.12.2026) or a time
ENGLISH_NUMBER = re.compile(
    r"(?<![\d.,:])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+(?:,\d+)?%)(?![\d.])"
)
CYRILLIC = re.compile("[\u0400-\u04ff]")
TWO_WORDS = re.compile(r"[A-Za-z]{3,}[ ,]+[a-z]{3,}")


def english_sentences(parts: list[str], data: list[str], starts: list[str]) -> list[str]:
    """Text nodes in English: no Cyrillic letter and two English words in a row once the
    demo's data is taken out (a label the catalogues do not know yet)."""
    found = []
    for part in parts:
        if CYRILLIC.search(part) or not TWO_WORDS.search(part):
            continue
        rest = without_data(part, data, starts)
        if TWO_WORDS.search(rest):
            found.append(part[:80])
    return sorted(set(found))


def pages_of(client: Client) -> list[tuple[str, str]]:
    """(label, url) of every page in the role's navigation and the first record of each kind
    linked from those pages."""
    home = client.get("/")
    assert home.status_code == 200
    nav = list(dict.fromkeys(links(home.content.decode()).nav))
    pages = [(url, url) for url in nav if url.startswith("/")]
    details: dict[str, str] = {}
    for url in [u for _label, u in pages]:
        response = client.get(url)
        if response.status_code != 200:
            continue
        for href in links(response.content.decode()).all:
            for kind, pattern in DETAIL_LINKS.items():
                if kind not in details and pattern.match(href):
                    details[kind] = href
    pages += [(f"{kind} {url}", url) for kind, url in details.items()]
    return pages


def problems_in_russian(usernames: dict[str, str]) -> tuple[int, dict[str, list[str]]]:
    """(pages rendered, what each offending page shows) for the users named by role."""
    keys = enumeration_keys()
    english = translated_english()
    data = data_strings(keys)
    starts = sorted(data)
    chosen = names_people_chose()
    problems: dict[str, list[str]] = defaultdict(list)
    rendered = 0
    for role, username in usernames.items():
        client = Client(HTTP_ACCEPT_LANGUAGE="ru", raise_request_exception=False)
        client.force_login(User.objects.get(username=username))
        for label, url in pages_of(client):
            response = client.get(url)
            where = f"{role} {label}"
            if response.status_code != 200:
                problems[where].append(f"status {response.status_code}")
                continue
            rendered += 1
            parts = visible_parts(response.content.decode())
            text = "\n".join(parts)
            cleaned = without_data(text, data, starts)
            raw = sorted(
                {token for token in SNAKE.findall(cleaned) if token in keys}
                | {part for part in parts if part in keys and part not in chosen}
            )
            if raw:
                problems[where].append(f"raw keys: {', '.join(raw)}")
            english_left = untranslated(cleaned, english)
            if english_left:
                problems[where].append(f"English: {' | '.join(english_left)}")
            numbers = sorted(set(ENGLISH_NUMBER.findall(cleaned)))
            if numbers:
                problems[where].append(f"numbers in English: {' | '.join(numbers[:8])}")
            sentences = english_sentences(parts, data, starts)
            if sentences:
                problems[where].append(f"English text: {' | '.join(sentences)}")
    return rendered, problems


def test_every_channel_and_attribution_model_has_words() -> None:
    assert set(CHANNELS) <= set(CHANNEL_LABELS)
    assert set(MODELS) == set(ATTRIBUTION_MODEL_LABELS)
    with translation.override("ru"):
        assert channel_label("organic_search") == "Органический поиск"
        assert attribution_model_label("markov") == "Цепи Маркова"
        assert (
            kind_label("webinar attended") == kind_label("webinar_attended") != "webinar attended"
        )


@pytest.mark.slow
@pytest.mark.sqlite_leg_only  # translations do not depend on the engine; the demo load is long
@pytest.mark.django_db
def test_every_page_of_every_role_reads_in_russian() -> None:
    summary = demo_load(size="small")
    usernames = {login.role: login.username for login in summary.logins}
    rendered, problems = problems_in_russian({role: usernames[role] for role in ROLES})
    assert rendered >= 40, rendered
    assert not problems, "\n".join(
        f"{where}: {'; '.join(found)}" for where, found in sorted(problems.items())
    )
