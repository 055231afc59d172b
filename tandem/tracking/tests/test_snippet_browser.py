"""The website snippet in headless Chromium, on a page of another local origin."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tandem.crm.models import Contact, Touchpoint
from tandem.tracking.models import Source

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
]

PAGE = """<!doctype html><html><head><title>Soil sensors</title>
<script src="{tandem}/static/tracking/tandem.js" data-write-key="{key}"></script></head>
<body><form id="demo-request"><input type="email" name="email">
<button type="submit">Ask for a demo</button></form>
<script>document.getElementById("demo-request").addEventListener("submit",
  function (e) {{ e.preventDefault(); document.body.dataset.sent = "1"; }});</script>
</body></html>"""


@pytest.fixture
def site(live: Any, website: tuple[Source, str]) -> Iterator[str]:
    """A customer's page, served from its own origin on 127.0.0.1."""
    html = PAGE.format(tandem=live.url, key=website[1]).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            if self.path != "/favicon.ico":
                self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _wait(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_snippet_sends_page_view_and_form_submission(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM checks here are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(f"{site}/products?utm_source=telegram&utm_medium=social")
        _wait(lambda: Touchpoint.objects.filter(kind="page_view").exists())
        anonymous_id = page.evaluate("localStorage.getItem('tdm_aid')")
        assert page.evaluate("document.cookie").startswith("tdm_aid=")
        page.fill("input[type=email]", "visitor@farm.example")
        page.click("button[type=submit]")
        _wait(
            lambda: (
                Contact.objects.filter(email="visitor@farm.example").exists()
                and Touchpoint.objects.filter(kind="Form Submitted").exists()
            )
        )
        browser.close()

    view = Touchpoint.objects.get(kind="page_view")
    assert view.anonymous_id == anonymous_id
    assert (view.channel, view.properties["name"]) == ("telegram", "Soil sensors")
    assert view.properties["context"]["page"]["url"] == (
        f"{site}/products?utm_source=telegram&utm_medium=social"
    )
    contact = Contact.objects.get(email="visitor@farm.example")
    _wait(lambda: Touchpoint.objects.filter(contact=contact).count() == 3)
    assert sorted(Touchpoint.objects.filter(contact=contact).values_list("kind", flat=True)) == [
        "Form Submitted",
        "identify",
        "page_view",
    ]
    submitted = Touchpoint.objects.get(kind="Form Submitted")
    assert submitted.properties["properties"]["form_id"] == "demo-request"
