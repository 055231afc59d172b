"""The demo's marketing objects: made through marketing's services, shown on the marketing pages to
the demo marketer, and the same after a reset."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tandem.core.models import User
from tandem.crm.models import Touchpoint
from tandem.demo.campaigns import DEMO_ASSETS, DEMO_CAMPAIGNS, DEMO_POSTS
from tandem.demo.services import demo_load
from tandem.marketing.models import (
    Campaign,
    CampaignCost,
    ContentAsset,
    EmailSend,
    EmailTemplate,
    MarketingEvent,
    Registration,
    Segment,
    SegmentMembership,
    SocialPost,
    StaticMember,
)


def _counts() -> dict[str, int]:
    return {
        "campaigns": Campaign.objects.count(),
        "costs": CampaignCost.objects.count(),
        "segments": Segment.objects.count(),
        "static members": StaticMember.objects.count(),
        "assets": ContentAsset.objects.count(),
        "events": MarketingEvent.objects.count(),
        "registrations": Registration.objects.count(),
        "attended": Registration.objects.filter(attended=True).count(),
        "posts": SocialPost.objects.count(),
        "templates": EmailTemplate.objects.count(),
        "sends": EmailSend.objects.count(),
    }


@pytest.mark.slow
# one demo load on PostgreSQL is enough: test_demo_load's causal-order test (the bulk paths)
@pytest.mark.sqlite_leg_only
@pytest.mark.django_db
def test_the_demo_fills_the_marketing_pages_and_reloads_to_the_same_counts() -> None:
    demo_load()
    marketer = User.objects.get(username="marketer")
    codes = {row[0] for row in DEMO_CAMPAIGNS}
    # every campaign code of the timeline has its campaign, owned by the demo marketer
    used = set(Touchpoint.objects.exclude(campaign="").values_list("campaign", flat=True))
    assert used == codes
    assert set(Campaign.objects.values_list("utm_code", flat=True)) == codes
    assert set(Campaign.objects.values_list("owner__username", flat=True)) == {"marketer"}
    assert not Campaign.objects.filter(goal="").exists()
    assert not Campaign.objects.filter(channels=[]).exists()
    counts = _counts()
    assert counts["segments"] == 4
    pricing = Segment.objects.get(name="Visited pricing twice in 30 days")
    assert SegmentMembership.objects.filter(segment=pricing).exists()  # the behaviour is there
    assert counts["static members"] == 8
    assert counts["assets"] == len(DEMO_ASSETS)
    assert len(set(ContentAsset.objects.values_list("kind", flat=True))) == len(DEMO_ASSETS)
    assert all(
        url.startswith("https://example.com/")
        for url in ContentAsset.objects.values_list("url", flat=True)
    )
    assert counts["events"] == 2
    now = timezone.now()
    assert MarketingEvent.objects.get(kind="webinar").starts_at > now
    conference = MarketingEvent.objects.get(kind="conference")
    assert conference.ends_at < now
    assert counts["registrations"] == counts["attended"] == 10
    assert counts["posts"] == len(DEMO_POSTS)
    assert len(set(SocialPost.objects.values_list("network", flat=True))) == 5
    assert set(SocialPost.objects.values_list("status", flat=True)) == {"draft", "scheduled"}

    client = Client()
    client.force_login(marketer)
    pages = {
        "marketing:campaign_list": [row[1] for row in DEMO_CAMPAIGNS],
        "marketing:segment_list": list(Segment.objects.values_list("name", flat=True)),
        "marketing:content_list": [row[1] for row in DEMO_ASSETS],
        "marketing:event_list": ["Precision tools live", "AgroTech Expo"],
    }
    for name, expected in pages.items():
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        for text in expected:
            assert escape(text) in html, (name, text)
    for post in SocialPost.objects.all():
        month = timezone.localtime(post.scheduled_at or now).strftime("%Y-%m")
        response = client.get(reverse("marketing:social_calendar"), {"month": month})
        assert response.status_code == 200
        assert escape(post.text)[:40] in response.content.decode(), post.text
    assert counts["templates"] == 2
    assert '|default:"' in EmailTemplate.objects.get(name="Monthly newsletter").html
    send = EmailSend.objects.get()
    assert send.status == "draft"  # no SMTP in the demo: nothing is sent
    response = client.get(reverse("marketing:template_list"))
    assert response.status_code == 200
    for text in ["Monthly newsletter", "Webinar invitation"]:
        assert escape(text) in response.content.decode(), text

    demo_load(reset=True)
    assert _counts() == counts
    demo_load()
    assert _counts() == counts
