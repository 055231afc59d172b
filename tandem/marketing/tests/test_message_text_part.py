"""The generated text part matches a straightforward HTMLParser conversion on sanitised HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.marketing.email import render


class Reference(HTMLParser):
    """The previous implementation, kept here as the oracle."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: str | None = None
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in render.TEXT_SKIPPED:
            self.skip += 1
        if tag in render.TEXT_BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in render.TEXT_SKIPPED:
            self.skip = max(0, self.skip - 1)
        if tag == "a" and self.href:
            self.out.append(f" ({self.href})")
            self.href = None
        if tag in render.TEXT_BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def reference(html: str) -> str:
    parser = Reference()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


TAGS = ["p", "div", "br", "li", "ul", "a", "b", "table", "tr", "td", "h1", "hr", "img", "span"]
pieces = st.one_of(
    st.sampled_from([f"<{t}>" for t in TAGS] + [f"</{t}>" for t in TAGS]),
    st.sampled_from(
        [
            '<a href="https://x.example/?a=1&amp;b=2">',
            '<a href="mailto:a@b.c">',
            '<img src="https://x.example/i.png" alt="&quot;x&quot;">',
        ]
    ),
    st.text(alphabet="ab <>&;\"'\n\t\xa0ё=.", max_size=12),
    st.sampled_from(["&amp;", "&lt;", "&nbsp;", "&#1105;", "<!-- note -->", "<script>x</script>"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=25))
def test_text_part_matches_the_reference_on_sanitised_html(parts: list[str]) -> None:
    html = render.sanitise("".join(parts))
    assert render.html_to_text(html) == reference(html)


def test_text_part_examples() -> None:
    html = render.sanitise(
        "<h1>Hi</h1><p>One &amp; two</p><ul><li>a</li><li>b</li></ul>"
        '<p><a href="https://x.example/?a=1&amp;b=2">Read</a></p>'
    )
    assert render.html_to_text(html) == (
        "Hi\n\nOne & two\n\n- a\n\n- b\n\nRead (https://x.example/?a=1&b=2)\n"
    )
