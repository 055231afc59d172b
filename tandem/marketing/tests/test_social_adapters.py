"""LinkedIn (Posts API) and YouTube (videos.update) adapters against recorded contracts.

A real HTTP server on 127.0.0.1 (threaded `http.server`) replays the responses recorded in
`social_contracts/*.json` (success, 401 expired token, 429 with Retry-After, 5xx) and keeps every
request, so each test checks what the adapter sent: method, path, query, headers and body.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.marketing.models import SocialPost
from tandem.marketing.social import services
from tandem.marketing.social.linkedin import LinkedInAdapter, little_text
from tandem.marketing.social.youtube import video_in

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
CONTRACTS = Path(__file__).parent / "social_contracts"
LINKEDIN = json.loads((CONTRACTS / "linkedin_posts.json").read_text())
YOUTUBE = json.loads((CONTRACTS / "youtube_videos.json").read_text())
VIDEO = YOUTUBE["video_id"]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Replay:
    """The responses to give, in order, and the requests received."""

    base: str = ""
    answers: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


def _handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            replay.seen.append(
                Seen(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
            )
            answer: dict[str, Any] = (
                replay.answers.pop(0) if replay.answers else {"status": 599, "body": ""}
            )
            body = answer["body"]
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(answer["status"])
            for name, value in answer.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def replay() -> Iterator[Replay]:
    state = Replay()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _post(network: str, text: str, link: str = "https://example.com/webinar") -> SocialPost:
    return services.post_create(
        actor=SYSTEM,
        network=network,
        text=text,
        link_url=link,
        scheduled_at=timezone.now() - dt.timedelta(minutes=1),
    )


@pytest.fixture
def linkedin(settings: Any, replay: Replay) -> Replay:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.SOCIAL_LINKEDIN = {
        "access_token": "li-token",
        "author": "urn:li:organization:5515715",
        "version": "202411",
        "api_base": replay.base,
    }
    return replay


@pytest.fixture
def youtube(settings: Any, replay: Replay) -> Replay:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    settings.SOCIAL_YOUTUBE = {"access_token": "yt-token", "api_base": replay.base}
    return replay


# --- LinkedIn ---------------------------------------------------------------------------------


def test_linkedin_is_manual_without_an_author_or_token(settings: Any) -> None:
    settings.SOCIAL_LINKEDIN = {"access_token": "x"}
    assert not LinkedInAdapter().configured()
    settings.SOCIAL_LINKEDIN = {"access_token": "x", "author": "acme"}
    assert not LinkedInAdapter().configured()
    settings.SOCIAL_LINKEDIN = {"author": "urn:li:organization:1"}
    assert not LinkedInAdapter().configured()
    post = _post("linkedin", "Hello")
    assert services.post_publish(post_id=post.pk) == "manual"


def test_linkedin_publishes_through_the_posts_api(linkedin: Replay) -> None:
    linkedin.answers = [LINKEDIN["responses"]["success"]]
    post = _post("linkedin", "Revenue teams (part 1): join us #webinar")
    assert services.post_publish(post_id=post.pk) == "published"
    (seen,) = linkedin.seen
    expected = LINKEDIN["request"]
    assert (seen.method, seen.path) == (expected["method"], expected["path"])
    assert seen.headers["authorization"] == "Bearer li-token"
    assert seen.headers["linkedin-version"] == "202411"
    assert seen.headers["x-restli-protocol-version"] == "2.0.0"
    assert seen.headers["content-type"] == "application/json"
    link = f"https://tandem.example/l/{post.tracked_link.token}"  # type: ignore[union-attr]
    body = dict(expected["body"])
    body.update(
        author="urn:li:organization:5515715",
        commentary=r"Revenue teams \(part 1\): join us \#webinar",
        content={"article": {"source": link, "title": "Revenue teams (part 1): join us #webinar"}},
    )
    assert seen.body == body
    post.refresh_from_db()
    urn = "urn:li:share:6844785523593134080"
    assert (post.status, post.external_id, post.external_url, post.error) == (
        "published",
        urn,
        f"https://www.linkedin.com/feed/update/{urn}/",
        "",
    )
    assert services.post_publish(post_id=post.pk) == "published"  # claimed once
    assert len(linkedin.seen) == 1


def test_linkedin_without_a_link_sends_no_article(linkedin: Replay) -> None:
    linkedin.answers = [LINKEDIN["responses"]["success"]]
    post = _post("linkedin", "Just words", link="")
    assert services.post_publish(post_id=post.pk) == "published"
    assert "content" not in linkedin.seen[0].body


def test_linkedin_expired_token_fails_with_what_to_do(linkedin: Replay) -> None:
    linkedin.answers = [LINKEDIN["responses"]["expired_token"]]
    post = _post("linkedin", "Hello")
    assert services.post_publish(post_id=post.pk) == "failed"
    post.refresh_from_db()
    assert post.error.startswith("linkedin refused the access token (HTTP 401: The token used")
    assert "renew SOCIAL_LINKEDIN['access_token']" in post.error
    assert post.external_id == ""


def test_linkedin_rate_limit_reschedules_after_retry_after(linkedin: Replay) -> None:
    linkedin.answers = [LINKEDIN["responses"]["rate_limited"], LINKEDIN["responses"]["success"]]
    post = _post("linkedin", "Hello")
    now = timezone.now()
    assert services.post_publish(post_id=post.pk, now=now) == "scheduled"
    post.refresh_from_db()
    assert post.status == "scheduled"
    assert post.scheduled_at == now + dt.timedelta(seconds=120)
    assert "HTTP 429" in post.error
    assert services.posts_publish_due(now=now + dt.timedelta(seconds=60)) == {}  # not yet
    assert services.posts_publish_due(now=now + dt.timedelta(seconds=121)) == {"published": 1}
    assert len(linkedin.seen) == 2


def test_linkedin_server_error_fails(linkedin: Replay) -> None:
    linkedin.answers = [LINKEDIN["responses"]["server_error"]]
    post = _post("linkedin", "Hello")
    assert services.post_publish(post_id=post.pk) == "failed"
    post.refresh_from_db()
    assert post.error == (
        "linkedin had a server error (HTTP 503: Service Unavailable); publish again later"
    )


def test_linkedin_little_text_escapes_reserved_characters() -> None:
    assert little_text("a_b*c (d) [e] {f} <g> @h #i ~j |k \\l") == (
        r"a\_b\*c \(d\) \[e\] \{f\} \<g\> \@h \#i \~j \|k \\l"
    )


# --- YouTube ----------------------------------------------------------------------------------


def test_youtube_updates_the_named_videos_description(youtube: Replay) -> None:
    responses = YOUTUBE["responses"]
    youtube.answers = [responses["list_success"], responses["update_success"]]
    post = _post("youtube", f"https://youtu.be/{VIDEO}\nSign up for the webinar:")
    assert services.post_publish(post_id=post.pk) == "published"
    listing, update = youtube.seen
    assert (listing.method, listing.path, listing.query) == (
        "GET",
        "/youtube/v3/videos",
        {"part": "snippet", "id": VIDEO},
    )
    assert listing.headers["authorization"] == "Bearer yt-token"
    assert (update.method, update.path, update.query) == (
        "PUT",
        "/youtube/v3/videos",
        {"part": "snippet"},
    )
    assert update.headers["authorization"] == "Bearer yt-token"
    assert update.headers["content-type"] == "application/json"
    link = f"https://tandem.example/l/{post.tracked_link.token}"  # type: ignore[union-attr]
    assert update.body == {
        "id": VIDEO,
        "snippet": {
            "title": "Revenue teams, explained",
            "categoryId": "28",
            "tags": ["revenue", "crm"],
            "defaultLanguage": "en",
            "description": "How marketing and sales work as one team.\n\n"
            f"Sign up for the webinar:\n{link}",
        },
    }
    post.refresh_from_db()
    assert (post.status, post.external_id, post.external_url) == (
        "published",
        VIDEO,
        f"https://www.youtube.com/watch?v={VIDEO}",
    )


def test_youtube_does_not_add_the_link_twice(youtube: Replay) -> None:
    post = _post("youtube", f"https://www.youtube.com/watch?v={VIDEO}")
    link = f"https://tandem.example/l/{post.tracked_link.token}"  # type: ignore[union-attr]
    listed = json.loads(json.dumps(YOUTUBE["responses"]["list_success"]))
    listed["body"]["items"][0]["snippet"]["description"] += f"\n\n{link}"
    youtube.answers = [listed]
    assert services.post_publish(post_id=post.pk) == "published"
    assert [s.method for s in youtube.seen] == ["GET"]


def test_youtube_without_a_video_is_manual_and_calls_nothing(youtube: Replay) -> None:
    post = _post("youtube", "A new video is coming")
    assert services.post_publish(post_id=post.pk) == "manual"
    post.refresh_from_db()
    assert "name the video" in post.error
    assert youtube.seen == []


def test_youtube_unknown_video_fails(youtube: Replay) -> None:
    youtube.answers = [YOUTUBE["responses"]["list_empty"]]
    post = _post("youtube", f"https://youtu.be/{VIDEO}")
    assert services.post_publish(post_id=post.pk) == "failed"
    post.refresh_from_db()
    assert post.error == f"video {VIDEO} not found on this channel"


@pytest.mark.parametrize(
    ("answer", "status", "error_start"),
    [
        ("expired_token", "failed", "youtube refused the access token (HTTP 401: Request had"),
        ("server_error", "failed", "youtube had a server error (HTTP 500: Internal error"),
        ("rate_limited", "scheduled", "rate-limited by youtube (HTTP 429)"),
    ],
)
def test_youtube_refusals(youtube: Replay, answer: str, status: str, error_start: str) -> None:
    youtube.answers = [YOUTUBE["responses"][answer]]
    post = _post("youtube", f"https://youtu.be/{VIDEO}")
    now = timezone.now()
    assert services.post_publish(post_id=post.pk, now=now) == status
    post.refresh_from_db()
    assert post.error.startswith(error_start)
    if status == "scheduled":
        assert post.scheduled_at == now + dt.timedelta(seconds=30)
    assert len(youtube.seen) == 1  # nothing updated after a refusal


def test_youtube_refuses_angle_brackets_without_updating(youtube: Replay) -> None:
    youtube.answers = [YOUTUBE["responses"]["list_success"]]
    post = _post("youtube", f"https://youtu.be/{VIDEO} <b>bold</b>")
    assert services.post_publish(post_id=post.pk) == "failed"
    assert [s.method for s in youtube.seen] == ["GET"]


def test_video_addresses() -> None:
    assert video_in(f"see https://www.youtube.com/watch?v={VIDEO}&t=10s now") == (VIDEO, "see  now")
    assert video_in(f"https://youtube.com/shorts/{VIDEO}")[0] == VIDEO
    assert video_in(f"https://m.youtube.com/watch?feature=x&v={VIDEO}")[0] == VIDEO
    assert video_in("https://example.com/watch?v=dQw4w9WgXcQ") == (
        "",
        "https://example.com/watch?v=dQw4w9WgXcQ",
    )
