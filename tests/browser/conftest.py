"""Playwright against Debian's chromium and pytest-django's live server.

The tests are marked `browser` (run with `-m browser`); they skip with a reason when chromium or
Playwright is missing. Chromium is launched with networking extras off, and every request a page
makes is recorded so a test can assert that none left 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD

CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(
    os.environ.get(
        "TANDEM_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"
    )
)


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    settings.STATIC_URL = "/static/"
    # Playwright's wait_for_function polls with eval, which the Content Security Policy refuses;
    # these tests check behaviour, so their pages skip the policy. The policy itself is tested
    # in a context of its own (test_content_policy.py).
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", bypass_csp=True
    )
    page = context.new_page()
    page.requested_urls = []  # every URL the page asked for, to check none left the machine
    page.on("request", lambda request: page.requested_urls.append(request.url))
    page.set_default_timeout(30_000)  # a busy 2-core CI machine is slow, not broken
    yield page
    context.close()


def sign_in(page: Any, base: str, username: str) -> None:
    """Sign in through the login form as a `world` user (all share the test password)."""
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
