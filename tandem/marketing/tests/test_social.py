"""Social posts: tracked links, publishing through adapters (manual without credentials; a
recorded contract against a local fake API server with them), statistics imports, pages."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.models import SocialPost, SocialPostStats
from tandem.marketing.social import services

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


class FakeApi(BaseHTTPRequestHandler):
    """Answers like Telegram's Bot API, VK's API and Facebook's Graph API (recorded shapes)."""

    calls: list[tuple[str, dict[str, str]]] = []
    refuse = False

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        FakeApi.calls.append((self.path, form))
        if FakeApi.refuse:
            status, body = 400, {"ok": False, "description": "Bad Request: chat not found"}
        elif self.path.endswith("/sendMessage"):
            status, body = 200, {"ok": True, "result": {"message_id": 42, "chat": {"id": -100}}}
        elif self.path == "/method/wall.post":
            status, body = 200, {"response": {"post_id": 7}}
        elif self.path == "/1234/feed":
            status, body = 200, {"id": "1234_5678"}
        else:
            status, body = 404, {"error": "unknown"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    FakeApi.calls = []
    FakeApi.refuse = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _post(network: str, **extra: Any) -> SocialPost:
    data: dict[str, Any] = {
        "network": network,
        "text": "Join our webinar on revenue teams",
        "link_url": "https://example.com/webinar",
        "scheduled_at": timezone.now() - dt.timedelta(minutes=1),
    }
    data.update(extra)
    return services.post_create(actor=SYSTEM, **data)


def test_without_credentials_posts_are_marked_manual(world: Any, settings: Any) -> None:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    campaign = campaigns.campaign_create(actor=SYSTEM, name="Webinar push", utm_code="wpush")
    post = _post("telegram", campaign_id=campaign.pk)
    link = post.tracked_link
    assert link is not None
    assert (link.utm_source, link.utm_medium, link.utm_campaign, link.utm_content) == (
        "telegram",
        "social",
        "wpush",
        f"telegram-post-{post.pk}",
    )
    linkedin = _post("linkedin")
    draft = _post("vk", scheduled_at="")
    settings.SOCIAL_LINKEDIN = {"access_token": "x"}  # no automatic LinkedIn publishing at all
    assert services.posts_publish_due() == {"manual": 2}
    post.refresh_from_db()
    linkedin.refresh_from_db()
    draft.refresh_from_db()
    assert (post.status, linkedin.status, draft.status) == ("manual", "manual", "draft")
    assert post.get_status_display() == "Manual publishing needed"
    assert services.posts_publish_due() == {}

    marked = services.post_mark_published(
        actor=SYSTEM, post=post, url="https://t.me/tandem_news/99"
    )
    assert (marked.status, marked.external_id) == ("published", "99")
    with pytest.raises(InvalidInput):
        services.post_update(actor=SYSTEM, post=marked, text="changed")
    with pytest.raises(InvalidInput) as bad:
        services.post_create(actor=SYSTEM, network="myspace", text="", link_url="ftp://x")
    assert set(bad.value.errors) == {"network", "text", "link_url"}


def test_recorded_contracts_with_credentials(world: Any, settings: Any, fake_api: str) -> None:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.SOCIAL_TELEGRAM = {
        "bot_token": "123:ABC",
        "chat_id": "@tandem_news",
        "channel": "tandem_news",
        "api_base": fake_api,
    }
    settings.SOCIAL_VK = {"access_token": "vk-token", "owner_id": "-555", "api_base": fake_api}
    settings.SOCIAL_FACEBOOK = {"page_id": "1234", "access_token": "fb", "api_base": fake_api}
    telegram, vk, facebook = _post("telegram"), _post("vk"), _post("facebook")
    assert services.posts_publish_due() == {"published": 3}
    link = f"https://tandem.example/l/{telegram.tracked_link.token}"  # type: ignore[union-attr]
    path, form = FakeApi.calls[0]
    assert path == "/bot123:ABC/sendMessage"
    assert form == {
        "chat_id": "@tandem_news",
        "text": f"Join our webinar on revenue teams\n\n{link}",
    }
    path, form = FakeApi.calls[1]
    assert path == "/method/wall.post"
    assert (form["owner_id"], form["from_group"], form["access_token"], form["v"]) == (
        "-555",
        "1",
        "vk-token",
        "5.199",
    )
    assert form["attachments"].startswith("https://tandem.example/l/")
    assert FakeApi.calls[2][0] == "/1234/feed"
    for post, external_id, url in (
        (telegram, "42", "https://t.me/tandem_news/42"),
        (vk, "7", "https://vk.com/wall-555_7"),
        (facebook, "1234_5678", "https://www.facebook.com/1234_5678"),
    ):
        post.refresh_from_db()
        assert (post.status, post.external_id, post.external_url) == ("published", external_id, url)
    assert services.post_publish(post_id=telegram.pk) == "published"  # claimed once
    assert len(FakeApi.calls) == 3

    FakeApi.refuse = True
    refused = _post("telegram")
    assert services.post_publish(post_id=refused.pk) == "failed"
    refused.refresh_from_db()
    assert refused.error == "HTTP 400: Bad Request: chat not found"
    settings.SOCIAL_TELEGRAM = {**settings.SOCIAL_TELEGRAM, "api_base": "http://example.com"}
    plain_http = _post("telegram")
    assert services.post_publish(post_id=plain_http.pk) == "failed"
    assert len(FakeApi.calls) == 4


def test_statistics_import_per_network(world: Any) -> None:
    first = _post("linkedin")
    second = _post("linkedin")
    services.post_mark_published(
        actor=SYSTEM, post=first, url="https://www.linkedin.com/feed/update/urn:li:activity:111/"
    )
    services.post_mark_published(
        actor=SYSTEM, post=second, url="https://www.linkedin.com/feed/update/urn:li:activity:222"
    )
    export = (
        "\ufeffPOST LINK,Post title,impressions,CLICKS,Reactions\r\n"
        "https://www.linkedin.com/feed/update/urn:li:activity:111,Join,1 200,35,14\r\n"
        "https://www.linkedin.com/feed/update/urn:li:activity:999,Other,10,1,1\r\n"
        "https://www.linkedin.com/feed/update/urn:li:activity:222,Join,abc,1,1\r\n"
    ).encode()
    report = services.stats_import(actor=SYSTEM, network="linkedin", data=export)
    assert report.as_dict() == {
        "imported": 1,
        "skipped": 2,
        "errors": [
            {
                "row": 3,
                "reason": "No published post matches "
                "https://www.linkedin.com/feed/update/urn:li:activity:999.",
            },
            {"row": 4, "reason": "Impressions, clicks and reactions must be whole numbers."},
        ],
    }
    stats = SocialPostStats.objects.get(post=first)
    assert (stats.impressions, stats.clicks, stats.reactions) == (1200, 35, 14)
    newer = export.replace(b"1 200,35,14", b"1500,40,20")
    services.stats_import(actor=SYSTEM, network="linkedin", data=newer)
    stats = SocialPostStats.objects.get(post=first)
    assert (SocialPostStats.objects.count(), stats.impressions, stats.clicks) == (1, 1500, 40)

    vk = _post("vk")
    services.post_mark_published(actor=SYSTEM, post=vk, url="https://vk.com/wall-555_7")
    vk_export = "ID записи,Охват,Переходы по ссылке,Лайки\n7,900,12,30\n".encode()
    assert services.stats_import(actor=SYSTEM, network="vk", data=vk_export).imported == 1
    assert SocialPostStats.objects.get(post=vk).reactions == 30
    with pytest.raises(InvalidInput) as missing:
        services.stats_import(actor=SYSTEM, network="vk", data=b"foo,bar\n1,2\n")
    assert missing.value.errors == {"file": ["Missing columns: Post ID, Reach."]}


def test_social_pages(world: Any) -> None:
    rep = Client()
    rep.login(username="sales_rep_north", password=PASSWORD)
    assert rep.get("/marketing/social/").status_code == 404
    client = Client()
    client.login(username="marketer_north", password=PASSWORD)
    response = client.post(
        "/marketing/social/new",
        {"network": "vk", "text": "Autumn sale", "scheduled_at": "2026-10-05T09:30"},
    )
    post = SocialPost.objects.get()
    assert response.status_code == 302
    assert (post.status, post.scheduled_at) == (
        "scheduled",
        dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.UTC),
    )
    page = client.get("/marketing/social/?month=2026-10")
    assert "09:30 VK: Autumn sale" in page.content.decode()
    assert "Autumn sale" not in client.get("/marketing/social/?month=2026-11").content.decode()
    bad = client.post("/marketing/social/stats", {"network": "vk"})
    assert bad.status_code == 400
