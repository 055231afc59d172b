"""A person's path through Tandem in a real browser: sign in, search, read a timeline, log an
activity, switch to Russian; and no request leaves the machine."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.leads import services as leads
from tandem.tracking.services import consent_record

from .conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rich_contact(world: Any) -> Contact:
    owner: User = world.user("sales_rep", "north")
    contact = world.contacts[("sales_rep", "north")]
    now = timezone.now()
    crm.contact_update(
        actor=crm.Actor(user=owner),
        contact=contact,
        title="Head of purchasing",
        phone="+49 30 1234567",
        tags=["key account", "fair 2026"],
    )
    leads.lifecycle_move(actor=crm.Actor(user=owner), contact=contact, stage="sql", reason="fair")
    consent_record(contact=contact, purpose="newsletter", state="granted")
    steps = [
        ("email", "email_open", "marketing", "Spring launch", "Launch newsletter"),
        ("website", "form_submit", "marketing", "Spring launch", "Pricing request"),
        ("phone", "sales_call", "sales", "", ""),
        ("webinar", "webinar", "marketing", "Product webinar", "Irrigation 101"),
    ]
    for i, (channel, kind, dept, campaign, content) in enumerate(steps):
        crm.touchpoint_record(
            channel=channel,
            kind=kind,
            department=dept,
            contact=contact,
            campaign=campaign,
            content=content,
            occurred_at=now - dt.timedelta(days=10 - i * 2),
            actor=owner if dept == "sales" else None,
        )
    crm.contact_create(
        actor=crm.Actor(user=owner),
        first_name="Olga",
        last_name="Ivanova",
        email="olga@agro.example.org",
        owner_id=owner.pk,
    )
    return contact


def test_sign_in_search_timeline_activity_and_russian(
    page: Any, live_server: Any, world: Any
) -> None:
    base = live_server.url
    contact = _rich_contact(world)
    sign_in(page, base, "sales_rep_north")

    page.click("nav summary:has-text('Customers')")  # the workspace opens its menu
    page.click("nav >> text=Contacts")
    page.wait_for_url(f"{base}/crm/contacts/")
    assert page.locator("#contact-table tbody tr").count() == 2  # the rep's own two
    with page.expect_response(lambda r: "/crm/contacts/?" in r.url and "q=purch" in r.url):
        page.fill("#id_q", "purch")
    page.wait_for_function("document.querySelectorAll('#contact-table tbody tr').length === 1")
    assert "q=purch" in page.url  # htmx pushed the search into the address bar
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "contacts.png"))
    assert page.locator("#contact-table tbody tr").inner_text().startswith("north sales_rep")

    page.click(f"#contact-table a[href='/crm/contacts/{contact.pk}/']")
    page.wait_for_url(f"{base}/crm/contacts/{contact.pk}/")
    timeline = page.locator("#timeline-items")
    assert timeline.locator("li.tp").count() == 6  # the five touches and the move to SQL
    assert timeline.locator(".tp-kind").all_inner_texts() == [
        "Lifecycle stage changed",
        "Page view",
        "Webinar",
        "Sales call",
        "Form submitted",
        "Email opened",
    ]

    page.select_option("#id_kind", "meeting")
    page.fill("#id_note", "Agreed on a pilot for two farms.")
    page.click("#activity-form button[type=submit]")
    page.wait_for_url(f"{base}/crm/contacts/{contact.pk}/")
    first = timeline.locator("li.tp").first
    assert first.locator(".tp-kind").inner_text() == "Meeting"
    assert first.locator(".tp-note").inner_text() == "Agreed on a pilot for two farms."
    assert timeline.locator("li.tp").count() == 7

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "contact.png"), full_page=True)

    page.click(".lang-switch button[value=ru]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("nav.nav").inner_text().split("\n")[:3] == [
        "Главная",
        "Клиенты",
        "Маркетинг",
    ]
    page.click("nav summary:has-text('Клиенты')")
    assert page.locator("nav details[data-group=customers] a").all_inner_texts()[:2] == [
        "Контакты",
        "Компании",
    ]
    assert page.locator("#timeline-items li.tp").first.locator(".tp-kind").inner_text() == (
        "Встреча"
    )
    page.screenshot(path=str(SCREENSHOTS / "contact-ru.png"), full_page=True)
    assert User.objects.get(username="sales_rep_north").language == "ru"

    hosts = {urlsplit(url).hostname for url in page.requested_urls}
    assert hosts == {"localhost"} or hosts == {"127.0.0.1"}, hosts


SETTLED = (
    "document.querySelector('#tl-channel')"
    " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
)


def test_timeline_load_more_and_filters(page: Any, live_server: Any, world: Any) -> None:
    base = live_server.url
    contact = world.contacts[("field_rep", "south")]
    now = timezone.now()
    for i in range(30):
        crm.touchpoint_record(
            channel="email" if i % 2 else "website",
            kind="email_open" if i % 2 else "page_view",
            department="marketing",
            contact=contact,
            occurred_at=now - dt.timedelta(hours=i + 1),
        )
    crm.touchpoint_record(
        channel="website", kind="page_view", department="marketing", contact=contact, is_bot=True
    )
    sign_in(page, base, "head_south")
    page.goto(f"{base}/crm/contacts/{contact.pk}/")
    items = page.locator("#timeline-items li.tp")
    assert items.count() == 20
    page.click("#timeline-items .load-more button")
    page.wait_for_function("document.querySelectorAll('#timeline-items li.tp').length === 31")
    assert page.locator("#timeline-items .load-more").count() == 0
    page.select_option("#tl-channel", "email")
    page.wait_for_function("document.querySelectorAll('#timeline-items li.tp').length === 15")
    assert page.locator("#timeline-items li.is-bot").count() == 0
    # The filter form is part of what htmx swapped in: let the swap settle before using it again.
    page.wait_for_function(SETTLED)
    page.select_option("#tl-channel", "")
    page.wait_for_function("document.querySelectorAll('#timeline-items li.tp').length === 20")
    page.wait_for_function(SETTLED)
    page.check("input[name=bots]")
    page.wait_for_selector("#timeline-items li.is-bot")
    assert page.locator("#timeline-items li.tp").count() == 20
    assert page.locator("#timeline-items li.is-bot").count() == 1
    hosts = {urlsplit(url).hostname for url in page.requested_urls}
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
