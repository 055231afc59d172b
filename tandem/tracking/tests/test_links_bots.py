"""Tracked links (no open redirect, credit to the sharer) and bot/scanner flags."""
# ruff: noqa: E501  (real user-agent strings are long)

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Touchpoint
from tandem.tracking import bots, links

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


def test_utm_builder_keeps_other_parameters() -> None:
    url = links.build_utm_url(
        "https://blog.example/post?id=7&utm_source=old#top",
        utm_source="linkedin",
        utm_medium="social",
        utm_campaign="q3",
    )
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {
        "id": ["7"],
        "utm_source": ["linkedin"],
        "utm_medium": ["social"],
        "utm_campaign": ["q3"],
    }
    assert parts.fragment == "top"


def test_a_reps_linkedin_share_counts_for_that_rep(world: Any) -> None:
    rep = world.user("sales_rep", "south")
    link = links.link_create(
        actor=Actor(user=rep),
        destination="https://blog.example/soil",
        utm_source="linkedin",
        utm_medium="social",
        utm_campaign="spring",
        utm_content="soil-post",
        sharer=rep,
    )
    assert len(link.token) >= 20
    response = Client().get(f"/l/{link.token}", HTTP_USER_AGENT=FIREFOX)
    assert response.status_code == 302
    assert response["Location"] == (
        "https://blog.example/soil?utm_source=linkedin&"
        "utm_medium=social&utm_campaign=spring&utm_content=soil-post"
    )
    click = Touchpoint.objects.get(kind="link_click")
    assert (
        click.actor_id,
        click.department,
        click.channel,
        click.campaign,
        click.content,
        click.is_bot,
    ) == (rep.pk, "sales", "linkedin", "spring", "soil-post", False)
    assert click.anonymous_id == response.cookies["tdm_aid"].value


def test_unknown_tokens_and_other_destinations_do_not_redirect(db: None) -> None:
    assert Client().get("/l/not-a-token").status_code == 404
    assert Client().get("/l/x?next=https://evil.example").status_code == 404
    for bad in ("javascript:alert(1)", "//evil.example", "ftp://x.example/f"):
        with pytest.raises(InvalidInput):
            links.link_create(actor=Actor.system(), destination=bad)
    assert Touchpoint.objects.count() == 0


def test_signed_recipient_credits_the_contact_and_scanner_clicks_are_flagged(world: Any) -> None:
    contact = world.contacts[("field_rep", "north")]
    link = links.link_create(
        actor=Actor.system(),
        destination="https://shop.example/",
        utm_source="newsletter",
        utm_medium="email",
    )
    just_now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    path = links.link_path(link, contact_id=contact.pk, delivered_at=just_now)
    assert Client().get(path, HTTP_USER_AGENT=FIREFOX).status_code == 302
    scanner = Touchpoint.objects.get(kind="link_click")
    assert (
        scanner.contact_id,
        scanner.is_bot,
        scanner.properties["bot_reason"],
        scanner.channel,
    ) == (contact.pk, True, "scanner_click", "email_newsletter")

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Client().get(
        links.link_path(link, contact_id=contact.pk, delivered_at=an_hour_ago),
        HTTP_USER_AGENT=FIREFOX,
    )
    person = Touchpoint.objects.filter(kind="link_click").order_by("-id").first()
    assert person is not None
    assert (person.contact_id, person.is_bot) == (contact.pk, False)
    # A forged recipient is ignored, not trusted.
    Client().get(f"/l/{link.token}?r=eyJjIjoxfQ:forged", HTTP_USER_AGENT=FIREFOX)
    assert Touchpoint.objects.filter(kind="link_click").order_by("-id")[0].contact_id is None


def test_trap_link_and_prefetch_are_flagged(db: None) -> None:
    trap = links.link_create(
        actor=Actor.system(), destination="https://shop.example/t", is_trap=True
    )
    Client().get(f"/l/{trap.token}", HTTP_USER_AGENT=FIREFOX)
    normal = links.link_create(actor=Actor.system(), destination="https://shop.example/n")
    Client().get(f"/l/{normal.token}", HTTP_USER_AGENT=FIREFOX, HTTP_SEC_PURPOSE="prefetch")
    assert sorted(Touchpoint.objects.values_list("properties__bot_reason", flat=True)) == [
        "prefetch",
        "trap_link",
    ]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {
                "user_agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
            },
            "crawler",
        ),
        (
            {"user_agent": "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"},
            "crawler",
        ),
        (
            {
                "user_agent": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
            },
            "crawler",
        ),
        (
            {
                "user_agent": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)"
            },
            "crawler",
        ),
        (
            {
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "HeadlessChrome/126.0.0.0 Safari/537.36"
            },
            "crawler",
        ),
        ({"user_agent": "python-requests/2.31.0"}, "crawler"),
        (
            {
                "user_agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via "
                "ggpht.com GoogleImageProxy)",
                "kind": "open",
            },
            "proxied_open",
        ),
        ({"user_agent": "Mozilla/5.0", "ip": "17.58.101.12", "kind": "open"}, "proxied_open"),
        (
            {
                "user_agent": "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
                "kind": "open",
            },
            "proxied_open",
        ),
        ({"user_agent": FIREFOX, "meta": {"HTTP_PURPOSE": "prefetch"}}, "prefetch"),
        ({"user_agent": FIREFOX, "meta": {"HTTP_X_PURPOSE": "preview"}}, "prefetch"),
        (
            {
                "user_agent": FIREFOX,
                "kind": "click",
                "delivered_at": dt.datetime(2026, 1, 1, 9, 0, 0, tzinfo=dt.UTC),
                "at": dt.datetime(2026, 1, 1, 9, 0, 4, tzinfo=dt.UTC),
            },
            "scanner_click",
        ),
        (
            {
                "user_agent": FIREFOX,
                "kind": "click",
                "delivered_at": dt.datetime(2026, 1, 1, 9, 0, 0, tzinfo=dt.UTC),
                "at": dt.datetime(2026, 1, 1, 9, 5, 0, tzinfo=dt.UTC),
            },
            "",
        ),
        ({"user_agent": FIREFOX, "ip": "17.58.101.12"}, ""),
        (
            {
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
            },
            "",
        ),
        (
            {
                "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36 YaBrowser/24.6"
            },
            "",
        ),
    ],
)
def test_bot_reasons(kwargs: dict[str, Any], reason: str) -> None:
    assert bots.bot_reason(**kwargs) == reason
