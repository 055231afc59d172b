"""On a 390-pixel-wide phone every top-level page of every role fits the screen (no horizontal
scrolling), and the grouped navigation opens and leads to its pages."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ("head", "marketer", "sales_rep", "field_rep", "admin")
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# the innermost element reaching past the right edge, to say what is too wide
CULPRIT = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(
    el => el.getBoundingClientRect().right > width + 1 && !el.closest("table")
  );
  const inner = wide.filter(el => !wide.some(other => other !== el && el.contains(other)));
  const classes = el => typeof el.className === "string" && el.className
    ? "." + el.className.split(" ").join(".") : "";
  return inner.slice(0, 3).map(
    el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes(el)
  );
}"""


def test_every_top_level_page_fits_a_390_pixel_phone(
    browser: Any, live_server: Any, world: Any, settings: Any
) -> None:
    settings.STATIC_URL = "/static/"
    base = live_server.url
    failures: list[str] = []
    for role in ROLES:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            sign_in(page, base, f"{role}_north")
            tops = page.locator("nav.nav > a, nav.nav > details > summary")
            assert 2 <= tops.count() <= 8, (role, tops.count())
            urls = page.eval_on_selector_all("nav.nav a", "links => links.map(a => a.href)")
            assert urls, role
            # a workspace opens onto its pages, and one of them can be reached by touch
            groups = page.locator("nav.nav > details.nav-group")
            if groups.count():
                groups.first.locator("summary").click()
                link = groups.first.locator(".nav-menu a").first
                assert link.is_visible()
                href = link.get_attribute("href")
                link.click()
                page.wait_for_url(f"{base}{href}")
            for url in urls:
                page.goto(url)
                overflow = page.evaluate(OVERFLOW)
                if overflow > 1:
                    culprit = page.evaluate(CULPRIT)
                    failures.append(f"{role} {url}: {overflow}px too wide ({culprit})")
        finally:
            context.close()
    assert not failures, "\n".join(failures)
