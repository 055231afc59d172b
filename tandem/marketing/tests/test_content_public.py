"""Public engagement with content: the signed download link, the view beacon, archiving.

Through real HTTP requests (Django's test client): forged values are 404s, bots are flagged,
the download redirects only to the asset's stored address, and archived assets stop counting.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.marketing.content import services
from tandem.marketing.models import ContentAsset

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def _asset(
    title: str = "Pricing 2027", url: str = "https://files.example.com/p.pdf"
) -> ContentAsset:
    return services.asset_create(actor=SYSTEM, kind="price_list", title=title, url=url)


def _path(url: str) -> str:
    return urlsplit(url).path


def _login(username: str) -> Client:
    client = Client(HTTP_USER_AGENT=BROWSER)
    assert client.login(username=username, password=PASSWORD)
    return client


def test_download_link_records_a_download_and_redirects_to_the_stored_url(world: World) -> None:
    asset = _asset()
    contact = world.contacts[("sales_rep", "north")]
    personal = _path(services.download_url(asset, contact))
    anonymous = _path(services.download_url(asset))
    visitor = Client(HTTP_USER_AGENT=BROWSER)

    response = visitor.get(personal + "?next=https://evil.example.net/")
    assert response.status_code == 302
    assert response["Location"] == "https://files.example.com/p.pdf"  # never the parameter
    response = visitor.get(anonymous)
    assert response.status_code == 302
    touches = list(Touchpoint.objects.filter(kind="content_downloaded").order_by("id"))
    assert [(t.contact_id, t.is_bot, t.content) for t in touches] == [
        (contact.pk, False, asset.key),
        (None, False, asset.key),
    ]
    assert touches[1].anonymous_id  # the visitor cookie
    assert visitor.cookies["tdm_aid"].value == touches[1].anonymous_id
    assert Touchpoint.objects.filter(kind="link_click").count() == 0  # a download, not a click
    stats = services.engagement_by_asset(world.user("marketer"), [asset.key])[asset.key]
    assert stats == {"views": 0, "clicks": 0, "downloads": 2}


def test_forged_or_mismatched_signatures_are_404(world: World) -> None:
    asset = _asset()
    other = _asset("Other", "https://files.example.com/o.pdf")
    good = _path(services.download_url(asset)).rsplit("/", 1)[-1]
    visitor = Client(HTTP_USER_AGENT=BROWSER)
    assert visitor.get(f"/e/content/d/{good[:-2]}xx").status_code == 404
    assert visitor.get("/e/content/d/not-signed").status_code == 404
    assert visitor.get(f"/e/content/d/{'a' * 3000}").status_code == 404
    # a view token is not a download token, and the other way round
    view = _path(services.beacon_url(asset)).rsplit("/", 1)[-1]
    assert visitor.get(f"/e/content/d/{view}").status_code == 404
    assert visitor.get(f"/e/content/v/{good}").status_code == 404
    # deleted asset
    token = _path(services.download_url(other)).rsplit("/", 1)[-1]
    other.delete()
    assert visitor.get(f"/e/content/d/{token}").status_code == 404
    assert not Touchpoint.objects.filter(kind__startswith="content_").exists()


def test_only_http_urls_are_followed(world: World) -> None:
    asset = _asset()
    # a stored value that is not http(s) (e.g. written before validation) is never redirected to
    ContentAsset.objects.filter(pk=asset.pk).update(url="javascript:alert(1)")
    asset.refresh_from_db()
    assert Client().get(_path(services.download_url(asset))).status_code == 404
    ContentAsset.objects.filter(pk=asset.pk).update(url="https:\\\\evil.example.net")
    asset.refresh_from_db()
    assert Client().get(_path(services.download_url(asset))).status_code == 404


def test_view_beacon_records_views_and_flags_bots(world: World) -> None:
    asset = _asset()
    beacon = _path(services.beacon_url(asset))
    person = Client(HTTP_USER_AGENT=BROWSER)
    response = person.get(beacon)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert person.post(beacon).status_code == 200  # navigator.sendBeacon
    assert Client(HTTP_USER_AGENT=GOOGLEBOT).get(beacon).status_code == 200
    assert (
        Client(HTTP_USER_AGENT=BROWSER, HTTP_SEC_PURPOSE="prefetch").get(beacon).status_code == 200
    )
    views = list(Touchpoint.objects.filter(kind="content_viewed").order_by("id"))
    assert [(v.is_bot, v.properties.get("bot_reason", "")) for v in views] == [
        (False, ""),
        (False, ""),
        (True, "crawler"),
        (True, "prefetch"),
    ]
    assert views[0].channel == "content"
    assert views[0].department == "marketing"
    stats = services.engagement_by_asset(world.user("marketer"), [asset.key])[asset.key]
    assert stats["views"] == 2  # bots left out
    bot_download = Client(HTTP_USER_AGENT="curl/8.5.0").get(_path(services.download_url(asset)))
    assert bot_download.status_code == 302
    assert Touchpoint.objects.get(kind="content_downloaded").is_bot


def test_beacon_rate_limit_per_address_and_asset(world: World, settings: object) -> None:
    settings.MARKETING_CONTENT_RATE_LIMIT = 3  # type: ignore[attr-defined]
    asset = _asset()
    beacon = _path(services.beacon_url(asset))
    person = Client(HTTP_USER_AGENT=BROWSER)
    codes = [person.get(beacon).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Touchpoint.objects.filter(kind="content_viewed").count() == 3
    # downloads past the limit still reach the file, uncounted
    download = _path(services.download_url(asset))
    assert [person.get(download).status_code for _ in range(4)] == [302] * 4
    assert Touchpoint.objects.filter(kind="content_downloaded").count() == 3
    other = Client(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="192.0.2.9")
    assert other.get(beacon).status_code == 200


def test_archive_button_permissions_audit_and_archived_assets_stop_counting(world: World) -> None:
    asset = _asset()
    rep = _login("sales_rep_north")
    assert rep.post(f"/marketing/content/{asset.pk}/archive").status_code == 403
    assert rep.get(f"/marketing/content/{asset.pk}/archive").status_code == 405
    marketer = _login("marketer_north")
    page = marketer.get(f"/marketing/content/{asset.pk}/").content.decode()
    assert 'id="archive-button"' in page
    assert "/e/content/d/" in page
    assert "/e/content/v/" in page
    assert 'id="archive-button"' not in rep.get(f"/marketing/content/{asset.pk}/").content.decode()

    csrf = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=BROWSER)
    assert csrf.login(username="marketer_north", password=PASSWORD)
    assert csrf.post(f"/marketing/content/{asset.pk}/archive").status_code == 403  # no token

    response = marketer.post(f"/marketing/content/{asset.pk}/archive", {"archived": "1"})
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.archived
    entry = AuditEntry.objects.filter(
        model="marketing.ContentAsset", object_id=str(asset.pk), action="update"
    ).latest("id")
    assert entry.changes == {"archived": [False, True]}
    assert asset.title not in marketer.get("/marketing/content/").content.decode()
    assert asset.title in marketer.get("/marketing/content/?archived=1").content.decode()

    # archived: the link still leads to the file, the beacon answers, nothing is counted
    person = Client(HTTP_USER_AGENT=BROWSER)
    assert person.get(_path(services.download_url(asset))).status_code == 302
    assert person.get(_path(services.beacon_url(asset))).status_code == 200
    assert not Touchpoint.objects.filter(kind__startswith="content_").exists()

    assert (
        marketer.post(f"/marketing/content/{asset.pk}/archive", {"archived": "0"}).status_code
        == 302
    )
    asset.refresh_from_db()
    assert not asset.archived
    assert person.get(_path(services.beacon_url(asset))).status_code == 200
    assert Touchpoint.objects.filter(kind="content_viewed").count() == 1
