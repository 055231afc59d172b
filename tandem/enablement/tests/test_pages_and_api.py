"""Enablement through its pages and its API: who reaches what, sharing from the asset page,
the buyer's public viewer and its pings, bad input answered with reasons, audit entries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.enablement import services
from tandem.enablement.models import Asset, Share, ShareViewPage

pytestmark = pytest.mark.django_db
API = "/api/v1/enablement"


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("role", "library", "health", "voice"),
    [
        ("sales_rep", 200, 403, 200),
        ("field_rep", 200, 403, 200),
        ("marketer", 200, 403, 200),
        ("head", 200, 200, 200),
    ],
)
def test_each_role_reaches_its_pages(
    world: World, asset: Asset, role: str, library: int, health: int, voice: int
) -> None:
    client = _client(world, role)
    assert client.get("/enablement/").status_code == library
    assert client.get(f"/enablement/assets/{asset.pk}/").status_code == 200
    assert client.get("/enablement/health/").status_code == health
    assert client.get("/enablement/voice/").status_code == voice
    assert client.get("/enablement/requests/").status_code == 200
    assert client.get("/enablement/joint/").status_code == 200
    assert client.get("/enablement/value/").status_code == 200


def test_only_marketing_adds_assets(world: World) -> None:
    rep = _client(world, "sales_rep")
    assert rep.get("/enablement/assets/new/").status_code == 403
    marketer = _client(world, "marketer")
    bad = marketer.post("/enablement/assets/new/", {"title": "", "url": "ftp://x"})
    assert bad.status_code == 200
    assert "errorlist" in bad.content.decode()
    good = marketer.post(
        "/enablement/assets/new/",
        {
            "title": "Seeder deck",
            "kind": "deck",
            "language": "en",
            "url": "https://files.example.com/seeder.pdf",
            "pages": "12",
        },
    )
    assert good.status_code == 302
    assert Asset.objects.get(key="seeder-deck").versions.get().pages == 12


def test_a_rep_shares_from_the_page_and_the_buyer_opens_the_link(
    world: World, asset: Asset
) -> None:
    rep = _client(world, "sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    answer = rep.post(f"/enablement/assets/{asset.pk}/share/", {"contact_id": contact.pk})
    assert answer.status_code == 200
    share = Share.objects.get()
    assert share.token in answer.content.decode()

    buyer = Client()
    page = buyer.get(f"/enablement/s/{share.token}/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux)")
    assert page.status_code == 200
    assert page["X-Robots-Tag"] == "noindex"
    visit = page.context["visit"]
    ping = buyer.post("/enablement/s/ping/", {"visit": visit, "page": "2", "seconds": "9"})
    assert ping.status_code == 200
    assert ShareViewPage.objects.get().seconds == 9
    assert buyer.post("/enablement/s/ping/", {"visit": visit, "page": "x"}).status_code == 400
    assert buyer.get("/enablement/s/not-a-token/").status_code == 404
    viewed = Touchpoint.objects.get(kind="collateral_viewed")
    assert viewed.actor == world.user("sales_rep")


def test_sharing_with_an_invisible_contact_is_refused_on_the_page(
    world: World, asset: Asset
) -> None:
    rep = _client(world, "sales_rep")
    other = world.contacts[("sales_rep", "south")]
    answer = rep.post(f"/enablement/assets/{asset.pk}/share/", {"contact_id": other.pk})
    assert answer.status_code == 400
    assert not Share.objects.exists()


def test_the_api_creates_searches_shares_and_refuses_expired(world: World) -> None:
    marketer = _client(world, "marketer")
    created = _post(
        marketer,
        f"{API}/assets",
        {
            "title": "Прайс-лист 2026",
            "kind": "price_list",
            "language": "ru",
            "url": "https://files.example.com/price.pdf",
            "key": "price-2026",
            "expires_on": "2020-01-01",
        },
    )
    assert created.status_code == 201, created.content
    asset_id = created.json()["id"]
    rep = _client(world, "sales_rep")
    found = rep.get(f"{API}/assets", {"q": "прайс-листы"})
    assert [a["id"] for a in found.json()] == [asset_id]
    contact = world.contacts[("sales_rep", "north")]
    refused = _post(rep, f"{API}/assets/{asset_id}/shares", {"contact_id": contact.pk})
    assert refused.status_code == 400
    assert refused.json()["code"] == "expired"
    valid = {"title": "x", "kind": "deck", "language": "en", "url": "https://e.example.com/x"}
    assert _post(rep, f"{API}/assets", valid).status_code == 403
    fixed = marketer.patch(
        f"{API}/assets/{asset_id}",
        json.dumps({"expires_on": "2099-01-01"}),
        content_type="application/json",
    )
    assert fixed.status_code == 200
    shared = _post(rep, f"{API}/assets/{asset_id}/shares", {"contact_id": contact.pk})
    assert shared.status_code == 201
    assert "/enablement/s/" in shared.json()["url"]
    assert AuditEntry.objects.filter(model="enablement.Share").count() == 1


def test_ratings_need_stars_and_known_reasons(world: World, asset: Asset) -> None:
    rep = _client(world, "sales_rep")
    bad = _post(rep, f"{API}/assets/{asset.pk}/ratings", {"stars": 4, "reasons": ["boring"]})
    assert bad.status_code == 400
    assert _post(rep, f"{API}/assets/{asset.pk}/ratings", {"stars": 9}).status_code == 400
    ok = _post(rep, f"{API}/assets/{asset.pk}/ratings", {"stars": 2, "reasons": ["outdated_price"]})
    assert ok.status_code == 201
    page = rep.post(
        f"/enablement/assets/{asset.pk}/rate/", {"stars": "5", "reasons": ["convincing"]}
    )
    assert page.status_code == 302
    assert sorted(asset.ratings.values_list("stars", flat=True)) == [2, 5]


def test_a_request_goes_from_new_to_delivered_and_the_requester_is_told(
    world: World, asset: Asset
) -> None:
    rep = _client(world, "sales_rep")
    filed = _post(rep, f"{API}/requests", {"title": "A case study for dairy farms"})
    assert filed.status_code == 201
    req_id = filed.json()["id"]
    marketer = _client(world, "marketer")
    skipped = _post(marketer, f"{API}/requests/{req_id}/move", {"status": "delivered"})
    assert skipped.status_code == 409
    assert _post(rep, f"{API}/requests/{req_id}/move", {"status": "triaged"}).status_code == 403
    for status in ("triaged", "planned"):
        assert (
            _post(marketer, f"{API}/requests/{req_id}/move", {"status": status}).status_code == 200
        )
    no_asset = _post(marketer, f"{API}/requests/{req_id}/move", {"status": "delivered"})
    assert no_asset.status_code == 400
    done = marketer.post(
        f"/enablement/requests/{req_id}/", {"status": "delivered", "asset_id": asset.pk}
    )
    assert done.status_code == 302
    body = rep.get(f"{API}/requests").json()[0]
    assert (body["status"], body["asset_id"]) == ("delivered", asset.pk)
    notes = world.user("sales_rep").lead_notifications.filter(kind="content_request")
    assert notes.count() == 3


def test_health_numbers_for_the_head(world: World, asset: Asset) -> None:
    services.share_create(
        actor=Actor(user=world.user("sales_rep")),
        asset=asset,
        contact=world.contacts[("sales_rep", "north")],
    )
    services.request_create(actor=Actor(user=world.user("sales_rep")), title="Dairy deck")
    head = _client(world, "head")
    body = head.get(f"{API}/health").json()
    assert (body["produced"], body["used"], body["open_requests"]) == (1, 1, 1)
    assert _client(world, "marketer").get(f"{API}/health").status_code == 403
    page = head.get("/enablement/health/")
    assert page.status_code == 200
    assert page.context["h"]["used"] == 1


def test_the_russian_page_speaks_russian(world: World, asset: Asset) -> None:
    client = _client(world, "sales_rep")
    page = client.get("/enablement/", HTTP_ACCEPT_LANGUAGE="ru")
    assert "Библиотека продаж" in page.content.decode()


def test_the_cockpit_shows_the_loop_summary_to_the_head_only(world: World, asset: Asset) -> None:
    services.request_create(actor=Actor(user=world.user("sales_rep")), title="Dairy deck")
    page = _client(world, "head").get("/insights/")
    assert page.status_code == 200
    assert page.context["loop"]["open_requests"] == 1
    assert 'id="loop-summary"' in page.content.decode()
    other = _client(world, "marketer").get("/insights/")
    assert "loop" not in other.context


def test_hostile_input_is_answered_without_a_server_error(world: World, asset: Asset) -> None:
    rep = _client(world, "sales_rep")
    assert rep.get(f"{API}/assets", {"q": "a\x00b", "industry": "x\x00"}).status_code == 200
    assert rep.get("/enablement/", {"q": "a\x00b", "stage": "\x00"}).status_code == 200
    assert rep.get(f"{API}/requests", {"status": "bogus"}).status_code == 400
    assert rep.get(f"{API}/tags", {"status": "bogus"}).status_code == 400
    assert rep.get("/enablement/requests/", {"status": "a\x00"}).status_code == 200
    assert Client().get("/enablement/s/a%00b/").status_code == 404
    assert (
        Client()
        .post("/enablement/s/ping/", {"visit": "a\x00", "page": "1", "seconds": "1"})
        .status_code
        == 400
    )


def test_the_account_page_shows_insights_and_the_contact_page_the_shares(
    world: World, asset: Asset
) -> None:
    from tandem.enablement import joint

    account = world.accounts[("sales_rep", "north")]
    contact = world.contacts[("sales_rep", "north")]
    joint.insight_add(
        actor=Actor(user=world.user("marketer")), account=account, text="They fear downtime"
    )
    services.share_create(actor=Actor(user=world.user("sales_rep")), asset=asset, contact=contact)
    rep = _client(world, "sales_rep")
    assert "They fear downtime" in rep.get(f"/crm/accounts/{account.pk}/").content.decode()
    assert asset.title in rep.get(f"/crm/contacts/{contact.pk}/").content.decode()
    south = _client(world, "sales_rep", "south")
    assert south.get(f"/crm/accounts/{account.pk}/").status_code == 404


def test_unknown_choices_and_far_dates_are_refused_with_reasons(world: World) -> None:
    marketer = _client(world, "marketer")
    body = {"title": "Deck", "kind": "deck", "language": "en", "url": "https://e.example.com/d"}
    bad = _post(marketer, f"{API}/assets", {**body, "industry": "mars", "language": "xx"})
    assert bad.status_code == 400
    assert set(bad.json()["details"]) == {"industry", "language"}
    assert _post(marketer, f"{API}/requests", {"title": "x", "kind": "poem"}).status_code == 400
    account = world.accounts[("sales_rep", "north")]
    far = _post(
        marketer,
        f"{API}/joint",
        {"account_id": account.pk, "kind": "meeting", "planned_at": "0001-01-01T00:00:00+14:00"},
    )
    assert far.status_code == 400
    assert "planned_at" in far.json()["details"]


def test_the_viewer_may_frame_only_the_shared_files_origin(world: World, asset: Asset) -> None:
    share = services.share_create(
        actor=Actor(user=world.user("sales_rep")),
        asset=asset,
        contact=world.contacts[("sales_rep", "north")],
    )
    page = Client().get(f"/enablement/s/{share.token}/", HTTP_USER_AGENT="Mozilla/5.0")
    policy = page["Content-Security-Policy"]
    assert "frame-src 'self' https://files.example.com" in policy
    assert "<style>" not in page.content.decode()
