"""Social network connections (credentials entered on a page, stored encrypted), the
Odnoklassniki adapter and the scheduled statistics pull, against recorded contracts.

A real HTTP server on 127.0.0.1 replays the responses recorded in `social_contracts/*.json`
and keeps every request (method, path, query, headers, form or JSON body), so each test checks
what the adapter sent. The connections' `api_base` comes from settings (an operator's value,
not a credential), pointed at the server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection as db
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, Role
from tandem.core.schedule import tick
from tandem.core.settings_pages import settings_pages_for
from tandem.core.tokens import token_create
from tandem.marketing.models import SocialConnection, SocialPost, SocialPostStats
from tandem.marketing.social import connections, secrets, services
from tandem.marketing.social.ok import signature
from tandem.marketing.social.stats_pull import stats_pull

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
CONTRACTS = Path(__file__).parent / "social_contracts"
OK = json.loads((CONTRACTS / "ok_api.json").read_text())
VK = json.loads((CONTRACTS / "vk_api.json").read_text())
FACEBOOK = json.loads((CONTRACTS / "facebook_graph.json").read_text())
YOUTUBE = json.loads((CONTRACTS / "youtube_statistics.json").read_text())
OK_TOKEN = "tkn1gj3nXJNLv2E3xEmadsf4331feiDqNvVf9lypNpzTfxmBaDsd4ev4dVRm"
OK_SECRET = "50852A4DD512734A9BAE66A4"
OK_KEY = "CBAHLMELSFRBABABA"
GROUP = "54791230327999"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Replay:
    base: str = ""
    answers: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


def _handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode() if length else ""
            parts = urlsplit(self.path)
            replay.seen.append(
                Seen(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    dict(parse_qsl(raw, keep_blank_values=True)),
                )
            )
            answer = replay.answers.pop(0) if replay.answers else {"status": 599, "body": ""}
            body = answer["body"]
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(answer["status"])
            for name, value in answer.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def replay(settings: Any) -> Iterator[Replay]:
    state = Replay()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.TANDEM_BASE_URL = "https://tandem.example"
    for network in ("OK", "VK", "FACEBOOK", "YOUTUBE", "TELEGRAM", "LINKEDIN"):
        setattr(settings, f"SOCIAL_{network}", {"api_base": state.base})
    yield state
    server.shutdown()
    server.server_close()


def _client(world: World, role: str) -> Client:
    client = Client()
    assert client.login(username=world.user(role).username, password=PASSWORD)
    return client


def _api(world: World, role: str) -> Client:
    user = world.user(role)
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def _connect_ok(world: World) -> SocialConnection:
    return connections.connection_save(
        actor=Actor(user=world.user(Role.MARKETER)),
        network="ok",
        account_id=GROUP,
        display_name="Tandem OK",
        application_key=OK_KEY,
        token=OK_TOKEN,
        application_secret_key=OK_SECRET,
    )


def _published(network: str, external_id: str, days_ago: int = 1) -> SocialPost:
    post = services.post_create(
        actor=SYSTEM,
        network=network,
        text="Join our webinar",
        scheduled_at=timezone.now() + dt.timedelta(days=1),
    )
    SocialPost.objects.filter(pk=post.pk).update(
        status=SocialPost.Status.PUBLISHED,
        external_id=external_id,
        published_at=timezone.now() - dt.timedelta(days=days_ago),
    )
    return post


def _numbers(post: SocialPost) -> tuple[int, int, int]:
    stats = SocialPostStats.objects.get(post=post)
    return stats.impressions, stats.clicks, stats.reactions


# --- the signature --------------------------------------------------------------------------


def test_the_ok_signature_matches_the_published_example() -> None:
    example = OK["signature_example"]
    secret = hashlib.md5(  # noqa: S324
        (example["access_token"] + example["application_secret_key"]).encode()
    ).hexdigest()
    assert secret == example["session_secret"]
    assert (
        signature(example["params"], example["access_token"], example["application_secret_key"])
        == example["sig"]
    )
    # access_token, session_key and sig never take part
    extra = {**example["params"], "access_token": "x", "session_key": "y", "sig": "z"}
    assert (
        signature(extra, example["access_token"], example["application_secret_key"])
        == (example["sig"])
    )


# --- the page --------------------------------------------------------------------------------


def test_a_marketer_connects_ok_on_the_page_and_the_secret_is_stored_encrypted(
    world: World,
) -> None:
    client = _client(world, Role.MARKETER)
    page = client.get("/marketing/social/connections/")
    assert page.status_code == 200
    assert "Odnoklassniki" in page.content.decode()
    answer = client.post(
        "/marketing/social/connections/ok/",
        {
            "account_id": GROUP,
            "display_name": "Tandem OK",
            "application_key": OK_KEY,
            "token": OK_TOKEN,
            "application_secret_key": OK_SECRET,
        },
    )
    assert answer.status_code == 302
    saved = SocialConnection.objects.get(network="ok")
    assert (saved.account_id, saved.application_key, saved.secret_hint) == (
        GROUP,
        OK_KEY,
        f"…{OK_TOKEN[-4:]}",
    )
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM marketing_socialconnection WHERE id = %s", [saved.pk]
        )
        (raw,) = cursor.fetchone()
    assert OK_TOKEN not in raw
    assert OK_SECRET not in raw
    assert OK_TOKEN[-8:] not in raw
    assert secrets.decrypt(raw) == {"token": OK_TOKEN, "application_secret_key": OK_SECRET}
    assert connections.connection_credentials("ok") == {
        "group_id": GROUP,
        "access_token": OK_TOKEN,
        "application_key": OK_KEY,
        "application_secret_key": OK_SECRET,
    }
    listing = client.get("/marketing/social/connections/").content.decode()
    assert f"…{OK_TOKEN[-4:]}" in listing
    assert OK_TOKEN not in listing
    assert OK_SECRET not in listing
    form = client.get("/marketing/social/connections/ok/").content.decode()
    assert OK_TOKEN not in form
    assert OK_SECRET not in form
    (entry,) = AuditEntry.objects.filter(model__icontains="socialconnection")
    text = json.dumps(entry.changes)
    assert entry.action == "create"
    assert entry.actor == world.user(Role.MARKETER)
    assert OK_TOKEN not in text
    assert OK_SECRET not in text
    assert raw not in text
    assert entry.changes["credentials"] == [None, "stored encrypted"]


def test_saving_without_a_token_keeps_it_and_a_new_one_replaces_it(world: World) -> None:
    first = _connect_ok(world)
    client = _client(world, Role.HEAD)
    data = {"account_id": GROUP, "display_name": "Renamed", "application_key": OK_KEY}
    assert client.post("/marketing/social/connections/ok/", data).status_code == 302
    kept = SocialConnection.objects.get(network="ok")
    assert kept.display_name == "Renamed"
    assert kept.credentials == first.credentials
    assert (
        client.post(
            "/marketing/social/connections/ok/", {**data, "token": "new-token-0123456789abcd"}
        ).status_code
        == 302
    )
    assert connections.connection_credentials("ok") == {
        "group_id": GROUP,
        "access_token": "new-token-0123456789abcd",
        "application_key": OK_KEY,
        "application_secret_key": OK_SECRET,
    }
    assert SocialConnection.objects.get(network="ok").secret_hint == "…abcd"
    entries = list(AuditEntry.objects.filter(model__icontains="socialconnection").order_by("pk"))
    assert [e.action for e in entries] == ["create", "update", "update"]
    assert "credentials" not in entries[1].changes
    assert entries[2].changes["credentials"] == ["replaced", "stored encrypted"]
    assert all("new-token" not in json.dumps(e.changes) for e in entries)


def test_bad_input_is_a_form_error_and_stores_nothing(world: World) -> None:
    client = _client(world, Role.MARKETER)
    answer = client.post(
        "/marketing/social/connections/ok/",
        {"account_id": "not a group", "application_key": "", "token": ""},
    )
    assert answer.status_code == 400
    body = answer.content.decode()
    assert "Enter the account, page or group id" in body
    assert "Enter the access token." in body
    assert "Enter the application&#x27;s secret key." in body
    assert not SocialConnection.objects.exists()
    assert client.get("/marketing/social/connections/myspace/").status_code == 404
    answer = client.post(
        "/marketing/social/connections/vk/", {"account_id": "-555", "token": "a b"}
    )
    assert answer.status_code == 400
    with pytest.raises(InvalidInput) as bad:
        connections.connection_save(
            actor=SYSTEM, network="vk", account_id="-555", token="t" * 20, application_key="x"
        )
    assert set(bad.value.errors) == {"application_key"}


def test_a_rep_has_no_connections_page_nor_api(world: World) -> None:
    _connect_ok(world)
    rep = _client(world, Role.SALES_REP)
    assert rep.get("/marketing/social/connections/").status_code == 404
    assert rep.post("/marketing/social/connections/ok/", {"account_id": "1"}).status_code == 404
    assert rep.post("/marketing/social/connections/ok/disconnect").status_code == 404
    assert rep.post("/marketing/social/connections/ok/test").status_code == 404
    api = _api(world, Role.SALES_REP)
    assert api.get("/api/v1/marketing/social/connections").status_code == 403
    refused = api.put(
        "/api/v1/marketing/social/connections/vk",
        {"account_id": "-1", "access_token": "x" * 20},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert api.delete("/api/v1/marketing/social/connections/ok").status_code == 403
    assert SocialConnection.objects.filter(network="ok").exists()
    assert not SocialConnection.objects.filter(network="vk").exists()


def test_the_settings_hub_links_the_connections_for_those_who_manage_them(
    world: World,
) -> None:
    for role in (Role.ADMIN, Role.HEAD, Role.MARKETER):
        urls = [p["url"] for p in settings_pages_for(world.user(role))]
        assert "/marketing/social/connections/" in urls
    assert "/marketing/social/connections/" not in [
        p["url"] for p in settings_pages_for(world.user(Role.SALES_REP))
    ]


def test_disconnecting_deletes_the_credentials_and_settings_apply_again(
    world: World, settings: Any
) -> None:
    _connect_ok(world)
    settings.SOCIAL_OK = {}
    client = _client(world, Role.MARKETER)
    assert client.post("/marketing/social/connections/ok/disconnect").status_code == 302
    assert not SocialConnection.objects.exists()
    entry = AuditEntry.objects.filter(model__icontains="socialconnection").latest("pk")
    assert entry.action == "delete"
    assert OK_TOKEN not in json.dumps(entry.changes)
    post = services.post_create(
        actor=SYSTEM, network="ok", text="Hi", scheduled_at=timezone.now() - dt.timedelta(1)
    )
    assert services.post_publish(post_id=post.pk) == "manual"  # nothing configured any more


def test_a_dedicated_key_rotates_and_an_unknown_key_leaves_the_credentials_unreadable(
    world: World, settings: Any
) -> None:
    settings.SOCIAL_CREDENTIALS_KEY = "first-key"
    _connect_ok(world)
    settings.SOCIAL_CREDENTIALS_KEY = "another-key"
    assert connections.connection_credentials("ok") is None
    page = _client(world, Role.MARKETER).get("/marketing/social/connections/")
    assert "Unreadable with the current key" in page.content.decode()
    settings.SOCIAL_CREDENTIALS_KEY = "second-key,first-key"  # the new one first, the old after
    assert connections.connection_credentials("ok") is not None
    connections.connection_save(  # saving with a token encrypts under the first key
        actor=SYSTEM,
        network="ok",
        account_id=GROUP,
        application_key=OK_KEY,
        token=OK_TOKEN,
    )
    settings.SOCIAL_CREDENTIALS_KEY = "second-key"
    assert connections.connection_credentials("ok") == {
        "group_id": GROUP,
        "access_token": OK_TOKEN,
        "application_key": OK_KEY,
        "application_secret_key": OK_SECRET,
    }
    settings.SOCIAL_CREDENTIALS_KEY = ""  # none: derived from SECRET_KEY, another key again
    assert connections.connection_credentials("ok") is None


# --- the Odnoklassniki adapter --------------------------------------------------------------


def test_a_post_published_through_ok_is_signed_as_the_api_requires(
    world: World, replay: Replay
) -> None:
    _connect_ok(world)
    replay.answers = [OK["responses"]["post_success"]]
    post = services.post_create(
        actor=SYSTEM,
        network="ok",
        text="Вебинар о команде выручки",  # noqa: RUF001
        link_url="https://example.com/webinar",
        scheduled_at=timezone.now() - dt.timedelta(minutes=1),
    )
    assert services.posts_publish_due() == {"published": 1}
    (seen,) = replay.seen
    assert (seen.method, seen.path) == ("POST", OK["requests"]["post"]["path"])
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    link = f"https://tandem.example/l/{post.tracked_link.token}"  # type: ignore[union-attr]
    form = dict(seen.form)
    assert json.loads(form["attachment"]) == {
        "media": [
            {"type": "text", "text": "Вебинар о команде выручки"},  # noqa: RUF001
            {"type": "link", "url": link},
        ]
    }
    assert {k: form[k] for k in ("application_key", "format", "method", "type", "gid")} == {
        "application_key": OK_KEY,
        "format": "json",
        "method": "mediatopic.post",
        "type": "GROUP_THEME",
        "gid": GROUP,
    }
    assert form["access_token"] == OK_TOKEN
    # the signature, computed here from the documented recipe over what the server received
    secret = hashlib.md5((OK_TOKEN + OK_SECRET).encode()).hexdigest()  # noqa: S324
    signed = "".join(f"{k}={form[k]}" for k in sorted(form) if k not in ("sig", "access_token"))
    assert form["sig"] == hashlib.md5((signed + secret).encode()).hexdigest()  # noqa: S324
    assert OK_SECRET not in json.dumps(form)  # the application secret never travels
    post.refresh_from_db()
    assert (post.status, post.external_id, post.external_url) == (
        "published",
        "70102413183763",
        f"https://ok.ru/group/{GROUP}/topic/70102413183763",
    )


def test_an_ok_refusal_fails_the_post_with_the_networks_reason(
    world: World, replay: Replay
) -> None:
    _connect_ok(world)
    replay.answers = [OK["responses"]["signature_error"], OK["responses"]["session_expired"]]
    first = services.post_create(
        actor=SYSTEM, network="ok", text="One", scheduled_at=timezone.now() - dt.timedelta(1)
    )
    second = services.post_create(
        actor=SYSTEM, network="ok", text="Two", scheduled_at=timezone.now() - dt.timedelta(1)
    )
    assert services.posts_publish_due() == {"failed": 2}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.error.startswith("ok answered error 104: PARAM_SIGNATURE : Invalid signature")
    assert second.error.startswith("ok refused the access token (102: PARAM_SESSION_EXPIRED")
    assert "social connections page" in second.error


def test_test_connection_calls_the_identity_endpoint(world: World, replay: Replay) -> None:
    _connect_ok(world)
    replay.answers = [OK["responses"]["info_success"], OK["responses"]["session_expired"]]
    client = _client(world, Role.MARKETER)
    answer = client.post("/marketing/social/connections/ok/test", follow=True)
    assert "Connected as Tandem — новости." in answer.content.decode()
    (seen,) = replay.seen
    assert (seen.form["method"], seen.form["uids"], seen.form["fields"]) == (
        "group.getInfo",
        GROUP,
        "UID,NAME",
    )
    saved = SocialConnection.objects.get(network="ok")
    assert (saved.check_ok, saved.check_message) == (True, "Connected as Tandem — новости.")
    api = _api(world, Role.MARKETER)
    result = api.post("/api/v1/marketing/social/connections/ok/test")
    assert result.status_code == 200
    assert result.json()["ok"] is False
    assert "PARAM_SESSION_EXPIRED" in result.json()["message"]
    assert SocialConnection.objects.get(network="ok").check_ok is False


# --- statistics on a schedule -----------------------------------------------------------------


def test_the_scheduled_pull_stores_each_networks_numbers_and_is_idempotent(
    world: World, replay: Replay, settings: Any
) -> None:
    _connect_ok(world)
    settings.SOCIAL_VK = {"api_base": replay.base, "access_token": "vk-token", "owner_id": "-555"}
    settings.SOCIAL_FACEBOOK = {"api_base": replay.base, "page_id": "1234", "access_token": "fb"}
    settings.SOCIAL_YOUTUBE = {"api_base": replay.base, "access_token": "yt-token"}
    ok_post = _published("ok", "70102413183763")
    vk_post, vk_other = _published("vk", "7"), _published("vk", "8", days_ago=2)
    fb_post = _published("facebook", "1234_5678")
    yt_post = _published("youtube", "dQw4w9WgXcQ")
    _published("vk", "1", days_ago=60)  # too old: not asked about
    SocialPostStats.objects.create(post=yt_post, impressions=25000, clicks=1, reactions=1)
    answers = [  # in the pull's order: facebook, ok, vk, youtube
        FACEBOOK["responses"]["stats_success"],
        OK["responses"]["stats_success"],
        VK["responses"]["stats_success"],
        YOUTUBE["responses"]["stats_success"],
    ]
    replay.answers = list(answers)
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert "marketing.social_stats_pull" in settings.PERIODIC_TASKS
    settings.PERIODIC_TASKS = {
        "marketing.social_stats_pull": settings.PERIODIC_TASKS["marketing.social_stats_pull"]
    }
    assert tick() == ["marketing.social_stats_pull"]  # the immediate backend runs it now
    assert _numbers(fb_post) == (1500, 40, 12)
    assert _numbers(ok_post) == (1840, 0, 37)
    assert (_numbers(vk_post), _numbers(vk_other)) == ((2300, 0, 41), (90, 0, 2))
    assert _numbers(yt_post) == (25000, 1200, 60)  # the API has no impressions: kept
    paths = [(s.method, s.path) for s in replay.seen]
    assert paths == [
        ("GET", "/1234_5678/insights"),
        ("POST", "/fb.do"),
        ("POST", "/method/wall.getById"),
        ("GET", "/youtube/v3/videos"),
    ]
    fb, ok, vk, yt = replay.seen
    assert fb.query == {
        "metric": "post_impressions,post_clicks,post_reactions_by_type_total",
        "access_token": "fb",
    }
    assert (ok.form["method"], ok.form["topic_id"], ok.form["fields"]) == (
        "group.getStatTopic",
        "70102413183763",
        "ID,VIEWS,LIKES,COMMENTS,RESHARES",
    )
    assert vk.form["posts"] == "-555_7,-555_8"
    assert yt.query == {"part": "statistics", "id": "dQw4w9WgXcQ"}
    assert yt.headers["authorization"] == "Bearer yt-token"
    assert SocialConnection.objects.get(network="ok").stats_pulled_at is not None
    # again: the same rows, updated, no duplicates
    replay.answers = list(answers)
    stats_pull()
    assert SocialPostStats.objects.count() == 5
    assert _numbers(ok_post) == (1840, 0, 37)


def test_a_failed_pull_is_recorded_on_the_connection_and_spares_the_others(
    world: World, replay: Replay, settings: Any
) -> None:
    _connect_ok(world)
    connections.connection_save(
        actor=SYSTEM, network="vk", account_id="-555", token="vk-token-0123456789"
    )
    ok_post, vk_post = _published("ok", "70102413183763"), _published("vk", "7")
    replay.answers = [OK["responses"]["session_expired"], VK["responses"]["stats_success"]]
    result = stats_pull()
    assert result["vk"] == 1
    assert str(result["ok"]).startswith("ok refused the access token (102")
    ok_connection = SocialConnection.objects.get(network="ok")
    assert ok_connection.stats_error.startswith("ok refused the access token")
    assert ok_connection.stats_error_at is not None
    assert not SocialPostStats.objects.filter(post=ok_post).exists()
    assert _numbers(vk_post) == (2300, 0, 41)
    page = _client(world, Role.MARKETER).get("/marketing/social/connections/").content.decode()
    assert "Last pull failed" in page
    assert "PARAM_SESSION_EXPIRED" in page
    replay.answers = [OK["responses"]["stats_success"], VK["responses"]["token_invalid"]]
    result = stats_pull()
    assert result["ok"] == 1
    assert SocialConnection.objects.get(network="ok").stats_error == ""
    assert "invalid access_token" in SocialConnection.objects.get(network="vk").stats_error


# --- the API --------------------------------------------------------------------------------


def test_the_api_connects_with_write_only_credentials(world: World, replay: Replay) -> None:
    api = _api(world, Role.MARKETER)
    answer = api.put(
        "/api/v1/marketing/social/connections/facebook",
        {"account_id": "1234", "display_name": "Tandem", "access_token": "EAAB-page-token-9876"},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["secret_hint"] == "…9876"
    assert "EAAB-page-token" not in answer.content.decode()
    assert "access_token" not in body
    assert "credentials" not in body
    listed = api.get("/api/v1/marketing/social/connections")
    assert [c["network"] for c in listed.json()] == ["facebook"]
    assert "EAAB-page-token" not in listed.content.decode()
    replay.answers = [FACEBOOK["responses"]["info_success"]]
    tested = api.post("/api/v1/marketing/social/connections/facebook/test").json()
    assert tested == {"ok": True, "message": "Connected as Tandem."}
    assert replay.seen[0].path == "/1234"
    assert replay.seen[0].query == {"fields": "id,name", "access_token": "EAAB-page-token-9876"}
    bad = api.put(
        "/api/v1/marketing/social/connections/facebook",
        {"account_id": "not-a-page"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "account_id" in json.dumps(bad.json())
    unknown = api.put(
        "/api/v1/marketing/social/connections/myspace",
        {"account_id": "1", "access_token": "x" * 20},
        content_type="application/json",
    )
    assert unknown.status_code == 404
    extra = api.put(
        "/api/v1/marketing/social/connections/facebook",
        {"account_id": "1234", "password": "x"},
        content_type="application/json",
    )
    assert extra.status_code in (400, 422)
    assert api.post("/api/v1/marketing/social/stats/pull").status_code == 202
    assert api.delete("/api/v1/marketing/social/connections/facebook").status_code == 204
    assert api.get("/api/v1/marketing/social/connections/facebook").status_code == 404


def test_the_connections_pages_speak_russian(world: World) -> None:
    client = _client(world, Role.MARKETER)
    page = client.get("/marketing/social/connections/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Подключения к соцсетям" in page
    assert "Одноклассники" in page
    assert "Загрузить статистику сейчас" in page
    form = client.post(
        "/marketing/social/connections/ok/", {"account_id": "x y"}, HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()
    assert "Введите токен доступа." in form
    assert "Секретный ключ приложения" in form
