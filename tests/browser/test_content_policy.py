"""The Content Security Policy in a real browser: signed in as the head, the main pages (charts,
board, segment builder, timeline, settings, the email template editor with its sandboxed
preview) load with no violation reported, and the preview frame still shows the email's own
styles (attributes: the template sanitiser keeps no `<style>` element). A violation shows as a
console error ("Refused to …") and a `securitypolicyviolation` event; both are collected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tandem.marketing.models import EmailTemplate

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/insights/",
    "/insights/process/",
    "/attribution/",
    "/crm/contacts/",
    "/sales/",
    "/sales/deals/",
    "/marketing/segments/new",
    "/marketing/email/",
    "/settings/",
    "/profile/",
    "/tokens/",
    "/api/v1/docs",
]

LISTEN = """() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
    });
}"""


@pytest.fixture
def page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    """A page that keeps the Content Security Policy (the shared fixture bypasses it)."""
    settings.STATIC_URL = "/static/"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_main_pages_break_no_rule_of_the_policy(page: Any, live_server: Any, world: Any) -> None:
    template = EmailTemplate.objects.create(
        name="Styled",
        subject="Hello",
        html='<p style="color:rgb(200, 0, 0);font-weight:700">Styled by its attribute</p>',
    )
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.context.add_init_script(f"({LISTEN})()")
    sign_in(page, live_server.url, "head_north")
    answer = page.goto(f"{live_server.url}/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy

    for path in [*PAGES, f"/marketing/email/templates/{template.pk}/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status < 400, path
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], (path, violations)
    assert refused == []

    styled = page.frame_locator("iframe.email-preview").get_by_text("Styled by its attribute")
    assert styled.evaluate("e => getComputedStyle(e).color") == "rgb(200, 0, 0)"
    assert styled.evaluate("e => getComputedStyle(e).fontWeight") == "700"
