"""Email templates: Django template syntax in a sandbox, sanitised HTML, a generated text part.

Invariants:
- only the tags in `ALLOWED_TAGS` may appear (no load/include/extends/url/debug/csrf…), the engine
  has no template loaders or extra libraries, and the context holds only plain strings, numbers
  and dicts built by `contact_context`: nothing reachable beyond that allowlist;
- the rendered HTML is sanitised with nh3 (no script, no event handlers, no javascript: URLs);
- the subject is rendered without HTML escaping and loses line breaks (no header injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

import nh3
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import Lexer, TokenType
from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact

MAX_SOURCE = 200_000
ALLOWED_TAGS = {
    "if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "comment",
    "endcomment", "firstof", "cycle", "spaceless", "endspaceless", "now",
}  # fmt: skip
HTML_TAGS = nh3.ALLOWED_TAGS | {"center", "font"}
GENERIC_ATTRIBUTES = {"style", "align", "valign", "width", "height", "bgcolor", "border", "class"}
TABLE_ATTRIBUTES = {"cellpadding", "cellspacing"}
ENGINE = Engine(
    dirs=[],
    app_dirs=False,
    libraries={},
    loaders=[("django.template.loaders.locmem.Loader", {})],
    autoescape=True,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def check_template(source: str, *, field: str = "html") -> None:
    """Refuse oversize sources, tags outside the allowlist and syntax errors."""
    if len(source) > MAX_SOURCE:
        raise InvalidInput({field: [_("The template is too long.")]})
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents.split() else ""
            if name not in ALLOWED_TAGS:
                raise InvalidInput(
                    {field: [_("The tag “%(tag)s” is not allowed in emails.") % {"tag": name}]}
                )
    try:
        ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput({field: [str(exc)[:300]]}) from None


def contact_context(contact: Contact | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole world a template can see: plain values only."""
    person: dict[str, Any] = {
        "first_name": "",
        "last_name": "",
        "email": "",
        "title": "",
        "company": "",
        "custom": {},
    }
    if contact is not None:
        person = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "title": contact.title,
            "company": contact.account.name if contact.account_id and contact.account else "",
            "custom": {
                str(k): v
                for k, v in (contact.custom or {}).items()
                if isinstance(v, str | int | float | bool)
            },
        }
    return {"contact": person, **(extra or {})}


CONTEXT_VALUES = ("first_name", "last_name", "email", "title", "account__name", "custom")


def context_from_values(row: dict[str, Any]) -> dict[str, Any]:
    """`contact_context` from a `Contact.objects.values(*CONTEXT_VALUES)` row (batch sends)."""
    return {
        "contact": {
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "email": row["email"],
            "title": row["title"],
            "company": row["account__name"] or "",
            "custom": {
                str(k): v
                for k, v in (row["custom"] or {}).items()
                if isinstance(v, str | int | float | bool)
            },
        }
    }


SANITISE_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": GENERIC_ATTRIBUTES,
    "table": TABLE_ATTRIBUTES,
    "a": {"href", "title", "target"},
    "img": {"src", "alt", "width", "height"},
}
URL_SCHEMES = {"http", "https", "mailto"}
CLEANER = nh3.Cleaner(
    tags=HTML_TAGS,
    attributes=SANITISE_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer",
)


def sanitise(html: str) -> str:
    """The allowlisted HTML (one reusable cleaner: the rules are built once per process)."""
    return CLEANER.clean(html)


TEXT_BLOCKS = {"p", "div", "br", "tr", "h1", "h2", "h3", "h4", "li", "table", "hr"}
TEXT_SKIPPED = {"style", "script", "head", "title"}
TOKEN = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|<!--.*?-->|([^<]+)|<", re.S
)
HREF_ATTRIBUTE = re.compile(r"""\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
SPACES = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """The text part: blocks on their own lines, list items with "- ", links followed by their
    URL in brackets. Made for `sanitise`d HTML (well-formed, quoted attributes, no comments)."""
    out: list[str] = []
    href: str | None = None
    skip = 0
    for match in TOKEN.finditer(html):
        closing, tag, attrs, data = match.groups()
        if tag is None:  # text, a comment, or a stray "<"
            if not skip and not match.group(0).startswith("<!--"):
                out.append(SPACES.sub(" ", unescape(data if data is not None else "<")))
            continue
        tag = tag.lower()
        if not closing:
            if tag in TEXT_SKIPPED:
                skip += 1
            if tag in TEXT_BLOCKS:
                out.append("\n")
            if tag == "li":
                out.append("- ")
            if tag == "a":
                found = HREF_ATTRIBUTE.search(attrs)
                href = unescape(next(g for g in found.groups() if g is not None)) if found else None
        if closing or attrs.rstrip().endswith("/"):
            if tag in TEXT_SKIPPED:
                skip = max(0, skip - 1)
            if tag == "a" and href:
                out.append(f" ({href})")
                href = None
            if tag in TEXT_BLOCKS:
                out.append("\n")
    lines = [line.strip() for line in "".join(out).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass(frozen=True)
class Compiled:
    subject: Template
    html: Template


def compile_templates(*, subject: str, html: str) -> Compiled:
    """Check and compile once; render many times (a send renders one per recipient)."""
    check_template(subject, field="subject")
    check_template(html)
    return Compiled(subject=ENGINE.from_string(subject), html=ENGINE.from_string(html))


def render_compiled(compiled: Compiled, context: dict[str, Any]) -> Rendered:
    subject_raw = str(compiled.subject.render(Context(context, autoescape=False)))
    subject_out = re.sub(r"[\r\n]+", " ", subject_raw).strip()[:300]
    body = sanitise(compiled.html.render(Context(context)))
    return Rendered(subject=subject_out, html=body, text=html_to_text(body))


def render(*, subject: str, html: str, context: dict[str, Any]) -> Rendered:
    """Render subject and body for one person; InvalidInput for a template outside the rules."""
    return render_compiled(compile_templates(subject=subject, html=html), context)
