"""Content library: assets with tracked links, engagement as touchpoints, reps read and share."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Touchpoint
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.content import services
from tandem.marketing.models import ContentAsset
from tandem.tracking.models import TrackedLink

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def _client(username: str) -> Client:
    client = Client(HTTP_USER_AGENT=BROWSER)
    assert client.login(username=username, password=PASSWORD)
    return client


def test_asset_gets_a_tracked_link_and_engagement_counts(world: World, settings: object) -> None:
    campaign = campaigns.campaign_create(actor=SYSTEM, name="Q3", utm_code="q3")
    marketer = Actor(user=world.user("marketer"))
    asset = services.asset_create(
        actor=marketer,
        kind="whitepaper",
        title="The Revenue Team Guide",
        url="https://example.com/guide.pdf?lang=en",
        campaign_id=campaign.pk,
    )
    link = asset.tracked_link
    assert link is not None
    assert (asset.key, link.utm_campaign, link.utm_content, link.utm_source, link.utm_medium) == (
        "the-revenue-team-guide",
        "q3",
        "the-revenue-team-guide",
        "content",
        "content",
    )
    with pytest.raises(InvalidInput) as dup:
        services.asset_create(
            actor=marketer, kind="deck", title="The Revenue Team Guide", url="https://e.com/x"
        )
    assert list(dup.value.errors) == ["key"]
    with pytest.raises(InvalidInput) as bad:
        services.asset_create(actor=marketer, kind="poster", title="", url="javascript:alert(1)")
    assert set(bad.value.errors) == {"kind", "title", "url", "key"}
    assert ContentAsset.objects.count() == 1

    contact = world.contacts[("sales_rep", "north")]
    services.engagement_record(asset=asset, action="view", contact=contact)
    services.engagement_record(asset=asset, action="view", anonymous_id="anon-1")
    services.engagement_record(asset=asset, action="download", contact=contact)
    with pytest.raises(InvalidInput):
        services.engagement_record(asset=asset, action="like", contact=contact)
    click = Client(HTTP_USER_AGENT=BROWSER).get(f"/l/{link.token}")
    assert click.status_code == 302
    assert click["Location"] == (
        "https://example.com/guide.pdf?lang=en&utm_source=content&utm_medium=content"
        "&utm_campaign=q3&utm_content=the-revenue-team-guide"
    )
    stats = services.engagement_by_asset(world.user("marketer"), [asset.key])
    assert stats == {asset.key: {"views": 2, "clicks": 1, "downloads": 1}}
    download = Touchpoint.objects.get(kind="content_downloaded")
    assert (download.channel, download.department, download.campaign, download.content) == (
        "content",
        "marketing",
        "q3",
        asset.key,
    )


def test_reps_read_the_library_and_share_personal_links(world: World) -> None:
    asset = services.asset_create(
        actor=SYSTEM, kind="case_study", title="Acme case", url="https://example.com/acme"
    )
    rep = _client("sales_rep_north")
    page = rep.get("/marketing/content/")
    assert page.status_code == 200
    assert "Acme case" in page.content.decode()
    assert 'href="/marketing/content/new"' not in page.content.decode()
    assert rep.get("/marketing/content/new").status_code == 404
    assert rep.post(f"/marketing/content/{asset.pk}/edit", {"title": "x"}).status_code == 404
    assert rep.get(f"/marketing/content/{asset.pk}/").status_code == 200

    assert rep.post(f"/marketing/content/{asset.pk}/share").status_code == 302
    assert rep.post(f"/marketing/content/{asset.pk}/share").status_code == 302
    shared = TrackedLink.objects.get(sharer=world.user("sales_rep", "north"))
    assert shared.utm_content == "acme-case"
    Client(HTTP_USER_AGENT=BROWSER).get(f"/l/{shared.token}")
    touch = Touchpoint.objects.get(kind="link_click")
    assert (touch.department, touch.actor_id, touch.content) == (
        "sales",
        world.user("sales_rep", "north").pk,
        "acme-case",
    )

    marketer = _client("marketer_north")
    response = marketer.post(
        f"/marketing/content/{asset.pk}/edit",
        {"kind": "case_study", "title": "Acme case study", "url": "https://example.com/acme-2"},
    )
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.title == "Acme case study"
    assert asset.tracked_link is not None
    assert asset.tracked_link.destination == "https://example.com/acme-2"
