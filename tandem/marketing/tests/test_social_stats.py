"""Statistics imports of Facebook, YouTube and Telegram CSV exports: header variants, a BOM,
and bad rows reported one by one (row numbers as a spreadsheet shows them)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.marketing.models import SocialPost, SocialPostStats
from tandem.marketing.social import services

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db
BOM = "\ufeff"


def _published(network: str, url: str, external_id: str = "") -> SocialPost:
    post = services.post_create(
        actor=SYSTEM,
        network=network,
        text="Join our webinar",
        scheduled_at=timezone.now() + dt.timedelta(days=1),
    )
    return services.post_mark_published(actor=SYSTEM, post=post, url=url, external_id=external_id)


def _numbers(post: SocialPost) -> tuple[int, int, int]:
    stats = SocialPostStats.objects.get(post=post)
    return stats.impressions, stats.clicks, stats.reactions


def _run(network: str, text: str) -> dict[str, object]:
    return services.stats_import(actor=SYSTEM, network=network, data=text.encode()).as_dict()


def test_facebook_export_by_post_id_or_permalink(world: object) -> None:
    first = _published("facebook", "https://www.facebook.com/1234_5678", "1234_5678")
    second = _published("facebook", "https://www.facebook.com/1234_9999", "1234_9999")
    report = _run(
        "facebook",
        BOM + '"Post ID","Message","IMPRESSIONS","Link Clicks","Reactions"\r\n'
        "1234_5678,Join,1 500,40,12\r\n"
        "1234_0000,Other,10,1,1\r\n"
        "1234_9999,Join,-5,1,1\r\n"
        ",Empty,1,1,1\r\n",
    )
    assert report == {
        "imported": 1,
        "skipped": 3,
        "errors": [
            {"row": 3, "reason": "No published post matches 1234_0000."},
            {"row": 4, "reason": "Impressions, clicks and reactions must be whole numbers."},
            {"row": 5, "reason": "No published post matches ."},
        ],
    }
    assert _numbers(first) == (1500, 40, 12)
    # the other header variant: Permalink, Reach, Total clicks, and the combined reactions column
    report = _run(
        "facebook",
        'permalink , reach,Total clicks,"Reactions, comments and shares"\n'
        "https://www.facebook.com/1234_9999/,900,30,7\n",
    )
    assert report == {"imported": 1, "skipped": 0, "errors": []}
    assert _numbers(second) == (900, 30, 7)


def test_youtube_studio_export(world: object) -> None:
    video = _published("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    other = _published("youtube", "https://www.youtube.com/watch?v=aaaaaaaaaaa")
    assert video.external_id == "dQw4w9WgXcQ"
    export = (
        BOM + "Content,Video title,Video publish time,Views,Watch time (hours),Impressions,Likes\n"
        "Total,,,2000,55.1,40000,90\n"
        'dQw4w9WgXcQ,Revenue teams,"Oct 1, 2026",1200,30.2,25000,60\n'
        'aaaaaaaaaaa,Other,"Oct 2, 2026",1.5,1,100,1\n'
        'zzzzzzzzzzz,Unknown,"Oct 3, 2026",5,1,100,1\n'
    )
    report = _run("youtube", export)
    assert report == {
        "imported": 1,
        "skipped": 2,
        "errors": [
            {"row": 4, "reason": "Impressions, clicks and reactions must be whole numbers."},
            {"row": 5, "reason": "No published post matches zzzzzzzzzzz."},
        ],
    }
    assert _numbers(video) == (25000, 1200, 60)  # views count as clicks
    assert not SocialPostStats.objects.filter(post=other).exists()
    # header variant: "Video ID" and "Reactions"; the video's address also matches
    report = _run(
        "youtube",
        "VIDEO ID,impressions,views,reactions\n"
        "https://www.youtube.com/watch?v=aaaaaaaaaaa,300,20,2\n",
    )
    assert report["imported"] == 1
    assert _numbers(other) == (300, 20, 2)


def test_telegram_export(world: object) -> None:
    post = _published("telegram", "https://t.me/tandem_news/42")
    assert post.external_id == "42"
    export = (
        BOM + "Message ID;Views\n"  # a semicolon file is one unknown column: refused whole
    )
    with pytest.raises(InvalidInput) as missing:
        _run("telegram", export)
    assert missing.value.errors == {"file": ["Missing columns: Message ID, Views."]}
    assert not SocialPostStats.objects.exists()

    report = _run(
        "telegram",
        BOM + "message id,VIEWS,Link clicks,Reactions\n42,3 400,51,\n43,10,1,1\n42,many,1,1\n",
    )
    assert report == {
        "imported": 1,
        "skipped": 2,
        "errors": [
            {"row": 3, "reason": "No published post matches 43."},
            {"row": 4, "reason": "Impressions, clicks and reactions must be whole numbers."},
        ],
    }
    assert _numbers(post) == (3400, 51, 0)  # an empty cell is 0
    # by the post's address, with the "Post ID"/"Impressions"/"Clicks" variant
    report = _run("telegram", "Link,Impressions,Clicks\nhttps://t.me/tandem_news/42,3500,60\n")
    assert report["imported"] == 1
    assert _numbers(post) == (3500, 60, 0)
    with pytest.raises(InvalidInput):
        services.stats_import(actor=SYSTEM, network="telegram", data=b"\xff\xfeM\x00")
