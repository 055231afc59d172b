"""Email templates: Django template syntax in a sandbox, sanitised HTML, a generated text part.

Invariants:
- only the tags in `ALLOWED_TAGS` may appear (no load/include/extends/url/debug/csrf…), the engine
  has no template loaders or extra libraries, and the context holds only plain strings, numbers
  and dicts built by `contact_context`: nothing reachable beyond that allowlist;
- the rendered HTML is sanitised with nh3 (no script, no event handlers, no javascript: URLs);
- the subject is rendered without HTML escaping and loses line breaks (no header injection);
- a send sanitises each distinct *skeleton* of its template once (the render with every escaped
  personalised value replaced by a sentinel) and puts each person's values into the result; a
  skeleton is only used where every value is plain text that the sanitiser would keep as it
  is (checked with probe values when the skeleton is made); anything else (a value in a tag or
  an attribute, after "&", in raw text, blank, starting with a line break, with control
  characters; `spaceless`) is
  sanitised message by message. The output is identical either way (tests/test_render_skeleton).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import nh3
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import Lexer, NodeList, TokenType, VariableNode, render_value_in_context
from django.template.defaulttags import IfNode
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData
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


SENTINEL_PREFIX = "tndm" + secrets.token_hex(6) + "v"
SENTINEL = re.compile(SENTINEL_PREFIX + r"(\d+)x")
ENTITY_START = re.compile(r"&[#A-Za-z0-9]*$")
FAST_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
PROBE = "a<b>&\"' \u00a0z"
SKELETONS_PER_TEMPLATE = 256


class _RecordingVariableNode(VariableNode):
    """A `{{ variable }}` that, when the context carries a `tandem_values` list, appends its
    escaped output there and renders a sentinel instead; output marked safe (a literal filter
    argument such as `default:"there"`, or `|safe`) is rendered as it is, into the skeleton."""

    def render(self, context: Context) -> str:
        values: list[str] | None = getattr(context, "tandem_values", None)
        try:
            output = self.filter_expression.resolve(context)
        except UnicodeDecodeError:
            return ""
        if values is None or isinstance(output, SafeData):
            return str(render_value_in_context(output, context))
        values.append(str(render_value_in_context(output, context)))
        return f"{SENTINEL_PREFIX}{len(values) - 1}x"


def _recording(template: Template) -> Template:
    """`template` with every VariableNode (also inside if/for/with) recording (in place)."""
    stack = [template.nodelist]
    while stack:
        nodelist = stack.pop()
        for index, node in enumerate(nodelist):
            if type(node) is VariableNode:
                nodelist[index] = _RecordingVariableNode(node.filter_expression)
            elif isinstance(node, IfNode):
                stack.extend(child for _condition, child in node.conditions_nodelists)
            else:
                stack.extend(
                    child
                    for name in node.child_nodelists
                    if isinstance(child := getattr(node, name, None), NodeList)
                )
    return template


def _text_escape(value: str) -> str:
    """How the sanitiser (html5ever) writes text: &, no-break space, < and >."""
    return (
        value.replace("&", "&amp;")
        .replace("\u00a0", "&nbsp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _interleave(parts: list[str], order: list[int], values: list[str]) -> str:
    out = [parts[0]]
    for position, index in enumerate(order):
        out += [values[index], parts[position + 1]]
    return "".join(out)


@dataclass(frozen=True)
class Skeleton:
    """The sanitised HTML (and its text part) of one rendered skeleton, split at the
    personalised values: `html[0] value html[1] value ...` in `order` of the values."""

    html: list[str]
    order: list[int]
    empty_ok: bool
    text: list[str] | None
    text_order: list[int]


def _split(clean: str, n: int) -> tuple[list[str], list[int]] | None:
    pieces = SENTINEL.split(clean)
    parts, order = pieces[0::2], [int(i) for i in pieces[1::2]]
    return (parts, order) if sorted(order) == list(range(n)) else None


def _skeleton(raw: str, n: int) -> Skeleton | None:
    """Sanitise a skeleton once, or None when a value is not plain text in it (inside a tag or
    an attribute, after a "&", in raw text...), checked by sanitising probe values too."""
    for match in SENTINEL.finditer(raw):
        if ENTITY_START.search(raw, 0, match.start()):
            return None
    clean = sanitise(raw)
    for token in TOKEN.finditer(clean):
        if token.group(4) is None and SENTINEL.search(token.group(0)):
            return None  # inside a tag (an attribute, a URL): the sanitiser must see it
    split = _split(clean, n)
    if split is None:
        return None
    parts, order = split

    def real(values: list[str]) -> str:
        return SENTINEL.sub(lambda m: values[int(m.group(1))], raw)

    probes = [f"{PROBE}{i}" for i in range(n)]
    escaped = [str(conditional_escape(p)) for p in probes]
    expected = _interleave(parts, order, [_text_escape(p) for p in probes])
    if sanitise(real(escaped)) != expected:
        return None
    empty_ok = sanitise(real([""] * n)) == _interleave(parts, order, [""] * n)
    text: list[str] | None = None
    text_order: list[int] = []
    text_split = _split(html_to_text(clean), n)
    if text_split is not None:
        words = [f"Ab{i} c&d<e>" for i in range(n)]
        html = _interleave(parts, order, [_text_escape(w) for w in words])
        if html_to_text(html) == _interleave(text_split[0], text_split[1], words):
            text, text_order = text_split
    return Skeleton(html=parts, order=order, empty_ok=empty_ok, text=text, text_order=text_order)


@dataclass
class Compiled:
    subject: Template
    html: Template
    recording: Template | None = None  # `html` with recording variables (no fast path: None)
    skeletons: dict[str, Skeleton | None] = field(default_factory=dict)


def compile_templates(*, subject: str, html: str) -> Compiled:
    """Check and compile once; render many times (a send renders one per recipient)."""
    check_template(subject, field="subject")
    check_template(html)
    recording = None if "spaceless" in html else _recording(ENGINE.from_string(html))
    return Compiled(
        subject=ENGINE.from_string(subject), html=ENGINE.from_string(html), recording=recording
    )


def _html_and_text(compiled: Compiled, context: dict[str, Any]) -> tuple[str, str]:
    """Sanitised HTML and its text part. The template is rendered with each personalised value
    replaced by a sentinel; that skeleton is sanitised once per send (`Skeleton`), and each
    message only puts its (escaped) values in. Anything the skeleton cannot vouch for - a
    value that is blank, has control characters, or sits where the sanitiser would treat it
    as more than text - goes through the sanitiser itself. Same result either way (tested)."""
    if compiled.recording is None:
        body = sanitise(compiled.html.render(Context(context)))
        return body, html_to_text(body)
    ctx = Context(context)
    values: list[str] = []
    ctx.tandem_values = values  # type: ignore[attr-defined]
    raw = compiled.recording.render(ctx)
    if raw in compiled.skeletons:
        skeleton = compiled.skeletons[raw]
    else:
        skeleton = _skeleton(raw, len(values))
        if len(compiled.skeletons) < SKELETONS_PER_TEMPLATE:
            compiled.skeletons[raw] = skeleton
    plain = [unescape(v) for v in values]
    if skeleton is None or any(
        FAST_UNSAFE.search(p)
        or p.startswith("\n")  # dropped right after <pre>, <textarea> or <listing>
        or (p.isspace() if p else not skeleton.empty_ok)
        for p in plain
    ):
        body = sanitise(SENTINEL.sub(lambda m: values[int(m.group(1))], raw))
        return body, html_to_text(body)
    body = _interleave(skeleton.html, skeleton.order, [_text_escape(p) for p in plain])
    if skeleton.text is None or any(
        not p or p != p.strip() or SPACES.sub(" ", p) != p for p in plain
    ):
        return body, html_to_text(body)
    return body, _interleave(skeleton.text, skeleton.text_order, plain)


def render_compiled(compiled: Compiled, context: dict[str, Any]) -> Rendered:
    subject_raw = str(compiled.subject.render(Context(context, autoescape=False)))
    subject_out = re.sub(r"[\r\n]+", " ", subject_raw).strip()[:300]
    body, text = _html_and_text(compiled, context)
    return Rendered(subject=subject_out, html=body, text=text)


def render(*, subject: str, html: str, context: dict[str, Any]) -> Rendered:
    """Render subject and body for one person; InvalidInput for a template outside the rules."""
    return render_compiled(compile_templates(subject=subject, html=html), context)
