"""A new organisation's first walk through Tandem, in a real browser, through pages alone.

The database starts empty but for one admin (made as `tandem createuser` makes it). The admin
builds a team and invites a rep (the invitation arrives at a real SMTP server; the rep chooses a
password from its link), fills the catalogue, sets up lead routing and a scoring rule, a website
form and its source, a campaign and a segment, and sends the segment an email. A visitor sends
the form from a page that embeds it; the scoring makes the contact an MQL, and the hand-off goes
to the rep, who accepts it within its SLA, opens a deal, adds the product, sends a quote; the
buyer accepts the quote from its public link, and the deal is won. The contact's timeline shows
every step.

Background work runs as in production: pages enqueue it in the database, and the walk runs
`tandem worker --burst` where a person would wait for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command

from conftest import PASSWORD
from tandem.core import services as core
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.marketing.models import SubscriptionType
from tandem.marketing.subscriptions.defaults import ensure_defaults

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REP_EMAIL = "rita.rep@tandem.test"
BUYER_EMAIL = "bob.buyer@farm.example.com"
SITE = "http://www.greenfarm.example.com"
TEAM = "form[action$='/settings/teams/']"


def work() -> None:
    """What `tandem worker --burst` does: run every queued task, then return."""
    call_command("worker", "--burst", "--interval", "0.05", verbosity=0)


def go(page: Any, workspace: str, item: str) -> None:
    """Open a page from the top bar: the workspace's menu, then its entry."""
    group = page.locator(f"nav.nav details[data-group={workspace}]")
    if group.count():
        group.locator("summary").click()
        group.get_by_role("link", name=item, exact=True).click()
    else:
        page.locator("nav.nav").get_by_role("link", name=item, exact=True).click()
    page.wait_for_load_state()


def submit(page: Any, form: str, button: str | None = None) -> None:
    """Press the form's (named) submit button and wait for the page it leads to."""
    scope = page.locator(form)
    target = (
        scope.get_by_role("button", name=button, exact=True)
        if button
        else scope.locator("button[type=submit]")
    )
    try:
        with page.expect_navigation():
            target.first.click()
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "new-user-walk-failed.png"), full_page=True)
        raise


def fill(page: Any, form: str, values: dict[str, str]) -> None:
    """Type into (or choose in, by visible label) the named fields of one form."""
    scope = page.locator(form)
    for name, value in values.items():
        field = scope.locator(f"[name='{name}']").first
        tag = field.evaluate("e => e.tagName")
        if tag == "SELECT":
            field.select_option(label=value)
        elif field.get_attribute("type") == "checkbox":
            field.set_checked(value == "on")
        else:
            field.fill(value)


def pick(page: Any, form: str, field: str, typed: str, label: str) -> None:
    """Choose a record by name in a search picker: type, then tick the suggestion."""
    page.locator(form).locator(f"input[name='{field}__search']").fill(typed)
    option = page.locator(form).locator("label.picker-option", has_text=label).first
    option.locator(f"input[name='{field}']").check()


def message(page: Any) -> str:
    return str(page.locator(".messages").inner_text())


def hub(page: Any, label: str) -> None:
    """Settings > Organisation, then one of its 'More settings' pages."""
    go(page, "settings", "Organisation")
    with page.expect_navigation():
        page.locator(".settings-links").get_by_role("link", name=label, exact=True).click()


def sign_in_as(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")


@contextmanager
def _site_server(body: str) -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/irrigation"
    finally:
        server.shutdown()
        server.server_close()


def send_form(visitor: Any) -> None:
    """Press the embedded form's button: Tandem answers the browser's post with the page after
    sending (the farm's public thank-you page, not reachable from this machine)."""
    with visitor.expect_response(lambda r: r.url.endswith("/submit")) as answer:
        visitor.click("form.tandem-form button[type=submit]")
    assert answer.value.status == 303
    assert answer.value.headers["location"] == f"{SITE}/thanks"


def link_in(message: bytes, base: str) -> str:
    found = re.search(rf"{re.escape(base)}/\S+", message.decode("utf-8", "replace"))
    assert found, message
    return found.group(0)


def test_a_new_users_walk(
    page: Any,
    browser: Any,
    live_server: Any,
    smtp_inbox: Any,
    settings: Any,
    request: pytest.FixtureRequest,
) -> None:
    # The rows a fresh install has from its migrations (an earlier live-server test's flush
    # removed them; restoring a serialized copy clashes with the content types flush re-creates).
    ensure_defaults(SubscriptionType)
    stack = ExitStack()
    request.addfinalizer(stack.close)

    def serve(body: str) -> str:
        return stack.enter_context(_site_server(body))

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    base = live_server.url
    core.user_create(
        actor=Actor.system(),
        username="ada",
        role=Role.ADMIN,
        password=PASSWORD,
        email="ada@tandem.test",
        first_name="Ada",
        last_name="Admin",
    )
    sign_in_as(page, base, "ada", PASSWORD)

    # --- a team and a rep ---------------------------------------------------------------------
    go(page, "settings", "Users and teams")
    fill(page, TEAM, {"name": "Inside sales", "department": "Sales", "region": "North"})
    submit(page, TEAM)
    assert "Team created." in page.content()
    page.fill("#id_email", REP_EMAIL)
    page.fill("#id_first_name", "Rita")
    page.fill("#id_last_name", "Rep")
    page.select_option("#id_role", Role.SALES_REP)
    page.select_option("#id_team", label="Inside sales")
    submit(page, "form[action$='/settings/people/invite/']")
    assert f"Invitation sent to {REP_EMAIL}" in page.content()
    work()
    assert len(smtp_inbox.messages) == 1
    assert smtp_inbox.messages[0].rcpt_tos == [REP_EMAIL]
    invitation = link_in(smtp_inbox.parsed(0).get_content().encode(), base)

    rep_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    rep = rep_context.new_page()
    rep.set_default_timeout(30_000)
    rep.goto(invitation)
    rep.fill("#id_new_password1", "rita-" + PASSWORD)
    rep.fill("#id_new_password2", "rita-" + PASSWORD)
    submit(rep, "form:has(#id_new_password1)")
    sign_in_as(rep, base, REP_EMAIL, "rita-" + PASSWORD)

    # --- lead routing: the hand-off agreement and the rep's seat in the round-robin -----------
    hub(page, "Lead routing and hand-off agreement")
    policy = "form[action$='/leads/routing/policy/']"
    fill(page, policy, {"accept_within_hours": "4", "first_contact_within_hours": "8"})
    submit(page, policy)
    capacity = "form[action$='/leads/routing/capacity/']"
    fill(page, capacity, {"rep": "Rita Rep", "weight": "1", "capacity": "10"})
    submit(page, capacity)
    assert "0 / 10" in page.locator("main").inner_text()

    # --- the catalogue and a pipeline ---------------------------------------------------------
    hub(page, "Products and price lists")
    product = "form[action$='/sales/catalogue/products/']"
    fill(page, product, {"product-sku": "DRIP-100", "product-name": "Drip irrigation kit"})
    submit(page, product)
    price_list = "form[action$='/sales/catalogue/price-lists/']"
    fill(
        page,
        price_list,
        {
            "price_list-name": "Euro 2026",
            "price_list-currency": "EUR",
            "price_list-tax_percent": "19",
        },
    )
    submit(page, price_list)
    assert "Price list created: now give it prices." in message(page)
    prices = "form[action$='/prices/']"
    fill(page, prices, {"product": "Drip irrigation kit (DRIP-100)", "unit_price": "1200"})
    submit(page, prices)
    assert "€1,200.00" in page.locator("main").inner_text()
    hub(page, "Pipelines")
    fill(page, "#pipeline-form", {"name": "New business"})
    submit(page, "#pipeline-form")
    assert "Pipeline New business created." in message(page)

    # --- scoring: a form submission is worth 30 points, 50 make an MQL ------------------------
    go(page, "settings", "Lead scoring")
    fill(page, "main form", {"name": "Everyone", "mql_threshold": "50"})
    submit(page, "main form")
    fill(
        page,
        "#rule-form",
        {
            "kind": "Engagement",
            "touchpoint_kind": "Form submitted (form_submitted)",
            "points": "30",
        },
    )
    submit(page, "#rule-form")
    submit(page, "form[action$='/activate/']")
    assert page.locator("#group-status").inner_text() == "On"
    scoring_url = page.url

    # --- tracking: the website's source and its form ------------------------------------------
    go(page, "settings", "Tracking")
    with page.expect_navigation():
        page.get_by_role("link", name="Sources and write keys").click()
    fill(page, "form[action$='/settings/tracking/sources/']", {"name": "Farm website"})
    submit(page, "form[action$='/settings/tracking/sources/']")
    write_key = page.locator("#new-key code.secret").inner_text()
    go(page, "settings", "Tracking")
    with page.expect_navigation():
        page.get_by_role("link", name="Website forms").click()
    with page.expect_navigation():
        page.get_by_role("link", name="New form").click()
    form = "form[action$='/settings/tracking/forms/new/']"
    fill(
        page,
        form,
        {
            "name": "Ask for a demo",
            "source": "Farm website",
            "consent_purpose": "Newsletter",
            "consent_wording": "Send me the newsletter.",
            "double_opt_in": "off",
            "campaign": "Spring irrigation",
            "redirect_url": f"{SITE}/thanks",
            "fields-0-name": "first_name",
            "fields-0-label": "First name",
            "fields-1-name": "last_name",
            "fields-1-label": "Last name",
        },
    )
    submit(page, form)
    embed_url = page.locator("#embed dl a").first.get_attribute("href")
    snippet = page.locator("#embed pre.snippet").inner_text().replace("tdw_…", write_key)

    # --- a campaign and a segment -------------------------------------------------------------
    go(page, "marketing", "Campaigns")
    with page.expect_navigation():
        page.get_by_role("link", name="New campaign").click()
    fill(page, "main form", {"name": "Spring irrigation", "utm_code": "spring-irrigation"})
    submit(page, "main form")
    go(page, "marketing", "Segments")
    with page.expect_navigation():
        page.get_by_role("link", name="New segment").click()
    page.wait_for_selector("#segment-builder .sb-group")
    page.fill("input[name=name]", "Leads")
    while page.locator("#sb-0-remove").count():
        page.click("#sb-0-remove")
    page.click("#sb-root-add-condition")
    page.select_option("#sb-0-what", "contact.lifecycle_stage")
    page.select_option("#sb-0-value", "lead")
    with page.expect_navigation():
        page.click("main button[type=submit].button")

    # --- a visitor asks for a demo on the farm's website, which embeds the form ---------------
    visitor_context = browser.new_context(locale="en-GB")
    visitor = visitor_context.new_page()
    visitor.set_default_timeout(30_000)
    site_page = f"<html><head><title>Drip kits</title></head><body>{snippet}</body></html>"
    # The farm's page is served by a web server of its own on this machine (a routed page counts
    # as public, and a public page may not reach a loopback Tandem).
    farm_page = serve(site_page)
    console: list[str] = []
    visitor.on("console", lambda line: console.append(line.text))
    visitor.goto(farm_page)
    visitor.wait_for_selector("form.tandem-form input[name=email]")
    assert not [line for line in console if "blocked" in line], console
    visitor.fill("form.tandem-form input[name=email]", BUYER_EMAIL)
    visitor.fill("form.tandem-form input[name=first_name]", "Bob")
    visitor.fill("form.tandem-form input[name=last_name]", "Buyer")
    visitor.check("form.tandem-form input[name=consent]")
    send_form(visitor)
    assert embed_url

    # the newsletter asks to confirm by email (double opt-in): the buyer opens the link
    work()
    to_buyer = [m for m in smtp_inbox.messages if BUYER_EMAIL in m.rcpt_tos]
    assert len(to_buyer) == 1
    confirmation = smtp_inbox.parsed(smtp_inbox.messages.index(to_buyer[0]))
    assert confirmation["Subject"] == "Please confirm your subscription"
    body = confirmation.get_body(("plain",))
    assert body is not None
    visitor.goto(link_in(body.get_content().encode(), base))
    assert visitor.locator("body").inner_text()

    # --- an email to the segment, sent by the worker to the SMTP server -----------------------
    go(page, "marketing", "Email")
    with page.expect_navigation():
        page.get_by_role("link", name="New template").click()
    fill(
        page,
        "main form",
        {
            "name": "Spring news",
            "subject": "Spring irrigation ideas",
            "html": "<p>Hello {{ contact.first_name }}, spring is coming.</p>",
        },
    )
    submit(page, "main form", "Save")
    go(page, "marketing", "Email")
    with page.expect_navigation():
        page.get_by_role("link", name="New send").click()
    fill(
        page,
        "main form",
        {
            "name": "Spring news to leads",
            "template": "Spring news",
            "segment": "Leads",
            "subscription_type": "Newsletter",
            "from_email": "news@farmtech.example.com",
        },
    )
    submit(page, "main form", "Save and send")
    work()
    page.reload()
    to_buyer = [m for m in smtp_inbox.messages if BUYER_EMAIL in m.rcpt_tos]
    assert len(to_buyer) == 2
    assert smtp_inbox.parsed(smtp_inbox.messages.index(to_buyer[1]))["Subject"] == (
        "Spring irrigation ideas"
    )

    # --- the buyer comes back and asks again: the score passes the threshold ------------------
    visitor.goto(farm_page)
    visitor.wait_for_selector("form.tandem-form input[name=email]")
    visitor.fill("form.tandem-form input[name=email]", BUYER_EMAIL)
    visitor.check("form.tandem-form input[name=consent]")
    send_form(visitor)
    page.goto(scoring_url)
    submit(page, "form[action$='/jobs/rescore/']")
    work()

    # --- the rep accepts the hand-off within its SLA ------------------------------------------
    go(rep, "sales", "Hand-offs")
    with rep.expect_navigation():
        rep.get_by_role("link", name="Bob Buyer").first.click()
    submit(rep, "form[action$='/accept/']")
    assert "Accepted" in rep.locator("main").inner_text()

    # --- a deal with the product, a quote the buyer accepts -----------------------------------
    go(rep, "sales", "Pipeline")
    with rep.expect_navigation():
        rep.get_by_role("link", name="New deal").click()
    deal_form = "main form:has([name=pipeline])"
    fill(rep, deal_form, {"name": "Drip kits for Bob's farm"})
    pick(rep, deal_form, "contact", "Buyer", "Bob Buyer")
    submit(rep, deal_form)
    line = "form[action$='/lines/']"
    fill(rep, line, {"product": "Drip irrigation kit (DRIP-100)", "quantity": "3"})
    submit(rep, line)
    fill(rep, "form[action*='/quotes/']", {"use_deal_products": "on"})
    submit(rep, "form[action*='/quotes/']", "Create quote")
    submit(rep, "form[action$='/send/']")
    quote_link = rep.get_by_role("link", name="Buyer's link").get_attribute("href")
    buyer_context = browser.new_context(locale="en-GB")
    buyer = buyer_context.new_page()
    buyer.set_default_timeout(30_000)
    buyer.goto(quote_link)
    buyer.fill("input[name=name]", "Bob Buyer")
    buyer.check("input[name=agree]")
    with buyer.expect_navigation():
        buyer.get_by_role("button", name="Accept").click()
    rep.reload()
    assert "Won" in rep.locator(".page-head").inner_text()

    # --- every step on the contact's timeline -------------------------------------------------
    go(page, "customers", "Contacts")
    with page.expect_navigation():
        page.get_by_role("link", name="Bob Buyer").first.click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "new-user-walk-contact.png"), full_page=True)
    kinds = page.locator("#timeline-items .tp-kind").all_inner_texts()
    for label in (
        "Form submitted",
        "Email sent",
        "Lifecycle stage changed",
        "Deal created",
        "Quote viewed",
        "Quote accepted",
        "Deal won",
    ):
        assert label in kinds, (label, kinds)
    # handed over as an MQL (the move names the stage), routed, then accepted by sales
    changes = page.locator("#timeline-items .tp-change").all_inner_texts()
    assert any(change.endswith("→ Marketing qualified lead") for change in changes), changes
    assert any(change.endswith("→ Sales accepted lead") for change in changes), changes
    assert "Hand-off routed" in kinds, kinds
    assert "Hand-off accepted" in kinds, kinds
    assert kinds.count("Form submitted") == 2, kinds
    for context in (rep_context, visitor_context, buyer_context):
        context.close()
