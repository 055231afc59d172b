"""An email template's preview is user-authored HTML: it is shown inside a sandboxed frame
(no scripts, no same origin), never inline in Tandem's page, so a saved template cannot cover
the page with a fixed layer or run anything in Tandem's origin."""

from __future__ import annotations

from html.parser import HTMLParser

from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.marketing.email import sending
from tandem.marketing.tests.test_send_page import _send

OVERLAY = (
    '<div id="cover" style="position:fixed;inset:0;z-index:99999;background:#fff">'
    "Session expired, sign in again</div><script>document.title='owned'</script>"
    "<p>Dear {{ contact.first_name }}</p>"
)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "iframe":
            self.frames.append(found)
        if found.get("style"):
            self.styles.append(str(found["style"]))


def _parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _assert_sandboxed(html: str) -> None:
    page = _parsed(html)
    previews = [f for f in page.frames if "srcdoc" in f]
    assert previews, "the preview is in an iframe"
    for frame in previews:
        assert "sandbox" in frame
        tokens = (frame["sandbox"] or "").split()
        assert "allow-scripts" not in tokens
        assert "allow-same-origin" not in tokens
        assert "position:fixed" in (frame["srcdoc"] or "")  # the markup is inside the frame...
    assert not [s for s in page.styles if "position:fixed" in s]  # ...not in Tandem's page
    assert "<script>document.title" not in html
    assert 'style="position:fixed' not in html


def test_template_preview_is_a_sandboxed_frame(world: World) -> None:
    template = sending.template_save(
        actor=Actor.system(), name="Trap", subject="Hello", html=OVERLAY
    )
    client = Client()
    client.force_login(world.user(Role.MARKETER))
    answer = client.get(f"/marketing/email/templates/{template.pk}/")
    assert answer.status_code == 200
    _assert_sandboxed(answer.content.decode())


def test_send_form_previews_are_sandboxed_frames(world: World) -> None:
    send = _send()
    template = send.template
    template.html = OVERLAY
    template.save()
    client = Client()
    client.force_login(world.user(Role.MARKETER))
    form = {
        "name": "Form",
        "template": send.template_id,
        "segment": send.segment_id,
        "subscription_type": send.subscription_type_id,
        "from_email": "news@news.example",
        "preview": "1",
    }
    answer = client.post("/marketing/email/sends/new", form)
    assert answer.status_code == 200
    _assert_sandboxed(answer.content.decode())
