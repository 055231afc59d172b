"""A rep shares an asset from the sales library and the buyer opens it, in a real browser: the
rep signs in, finds the asset by a Russian word form, shares it with a contact and reads the
tracked link; a buyer with no session opens the link, turns a page and leaves. The view is a
touchpoint credited to the rep and the asset, and the seconds on each page reach Tandem."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import World
from tandem.core.audit import Actor
from tandem.crm.models import Touchpoint
from tandem.enablement import services
from tandem.enablement.models import ShareViewPage

from .conftest import sign_in

BUYER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_rep_shares_an_asset_and_the_buyer_opens_it(
    page: Any, browser: Any, live_server: Any, world: World
) -> None:
    base = live_server.url
    asset = services.asset_create(
        actor=Actor(user=world.user("marketer")),
        title="Кейс молочной фермы",
        kind="case_study",
        language="ru",
        key="dairy-ru",
        url=f"{base}/static/enablement/viewer.js",  # any file the live server has
        pages=3,
    )
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]

    sign_in(page, base, rep.username)
    page.goto(f"{base}/enablement/?q=молочные")
    page.click(f"a[href='/enablement/assets/{asset.pk}/']")
    page.select_option("#share-contact", str(contact.pk))
    page.click("#share-form button[type=submit]")
    link = page.text_content("#share-link") or ""
    assert "/enablement/s/" in link
    token = link.rstrip("/").rsplit("/", 1)[1]

    # a buyer's ordinary browser: headless chromium's own user agent is flagged as a bot
    buyer_context = browser.new_context(locale="ru-RU", user_agent=BUYER_AGENT)
    buyer = buyer_context.new_page()
    buyer.goto(f"{base}/enablement/s/{token}/")
    assert buyer.text_content("#page-number") == "1"
    time.sleep(1.5)
    with buyer.expect_request(lambda r: r.url.endswith("/enablement/s/ping/")):
        buyer.click("#next-page")
    assert buyer.text_content("#page-number") == "2"
    time.sleep(1.2)
    with buyer.expect_request(lambda r: r.url.endswith("/enablement/s/ping/")):
        buyer.evaluate("window.dispatchEvent(new Event('pagehide'))")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ShareViewPage.objects.count() < 2:
        time.sleep(0.2)
    buyer_context.close()

    viewed = Touchpoint.objects.get(kind="collateral_viewed")
    assert (viewed.actor_id, viewed.contact_id, viewed.content) == (rep.pk, contact.pk, "dairy-ru")
    assert not viewed.is_bot
    seconds = dict(ShareViewPage.objects.values_list("page", "seconds"))
    assert seconds[1] >= 1
    assert seconds[2] >= 1
    assert all(url.startswith(base) for url in page.requested_urls)
