"""The demo's marketing: campaigns for the timeline's campaign codes, segments, content, email,
events and a week of social posts, all through marketing's services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm.models import Contact, Industry
from tandem.demo.customers import DEMO_TAG
from tandem.demo.names import slug
from tandem.marketing import services as marketing
from tandem.marketing.models import (
    Campaign,
    ContentAsset,
    EmailSend,
    EmailTemplate,
    MarketingEvent,
    Segment,
    SocialPost,
    SubscriptionType,
)

# --- marketing --------------------------------------------------------------------------------

# (utm_code = the touches' `campaign` value, name, goal, channels, budget, monthly cost,
#  cost channel): each campaign runs all year, with a cost line each month
DEMO_CAMPAIGNS: list[tuple[str, str, str, list[str], str, str, str]] = [
    (
        "monthly-newsletter",
        "Monthly newsletter",
        "Keep subscribers warm: 25% open rate, 40 MQLs a quarter",
        ["email"],
        "1500",
        "110",
        "email",
    ),
    (
        "linkedin-spring-push",
        "LinkedIn sponsored content",
        "60 demo requests from agriculture and medical buyers",
        ["linkedin", "paid_social"],
        "48000",
        "3900",
        "paid_social",
    ),
    (
        "webinar-precision-tools",
        "Webinar: precision tools",
        "300 registrations, 40% attendance, 25 SQLs",
        ["webinar", "email", "linkedin"],
        "12000",
        "850",
        "webinar",
    ),
    (
        "search-brand",
        "Search: brand and products",
        "Capture brand searches at under 2 EUR per click",
        ["paid_search"],
        "30000",
        "2300",
        "paid_search",
    ),
    (
        "trade-shows",
        "Trade shows 2026",
        "AgroTech Expo, MedLab and Elektronika: 150 qualified conversations",
        ["conference"],
        "60000",
        "4600",
        "conference",
    ),
]
NEWSLETTER_SEGMENT = "Newsletter subscribers"

PRICING_TWICE = {
    "type": "touchpoint",
    "kind": "page_view",
    "properties": [{"key": "path", "value": "/pricing"}],
    "at_least": 2,
    "within_days": 30,
}

DEMO_ASSETS = [
    (
        "blog_post",
        "Five ways soil sensors cut fertiliser costs",
        "https://example.com/blog/soil-sensors",
        "linkedin-spring-push",
    ),
    (
        "whitepaper",
        "Precision instruments in the modern lab",
        "https://example.com/whitepapers/precision-lab.pdf",
        "webinar-precision-tools",
    ),
    (
        "case_study",
        "How Volga Agro saved 18% on inputs",
        "https://example.com/customers/volga-agro",
        "linkedin-spring-push",
    ),
    ("price_list", "Price list 2026", "https://example.com/pricing/price-list-2026.pdf", ""),
    (
        "youtube_video",
        "Precision tools in five minutes",
        "https://example.com/video/precision-tools",
        "webinar-precision-tools",
    ),
]

DEMO_TEMPLATES = [  # (name, subject, html)
    (
        "Monthly newsletter",
        '{{ contact.first_name|default:"Hello" }}, what\'s new at Polevod this month',
        '<p>Dear {{ contact.first_name|default:"customer" }},</p>'
        '<p>This month at {{ contact.company|default:"your company" }}\'s favourite instrument'
        " maker: soil sensors that pay for themselves in one season, and the 2026 price list.</p>"
        '<p><a href="https://example.com/blog/soil-sensors">Read the story</a></p>',
    ),
    (
        "Webinar invitation",
        "Webinar: precision tools live",
        "<p>Join our engineers for a live walkthrough of the new precision instruments.</p>"
        '<p><a href="https://example.com/webinars/precision-tools">Save your seat</a></p>',
    ),
]
DEMO_SEND = "Monthly newsletter: subscribers"

DEMO_POSTS = [  # (days from today, hour, network, text, link)
    (
        1,
        10,
        "linkedin",
        "Soil sensors that pay for themselves in one season: our new blog post.",
        "https://example.com/blog/soil-sensors",
    ),
    (
        2,
        12,
        "telegram",
        "Webinar: precision tools for labs and farms. Save your seat.",
        "https://example.com/webinars/precision-tools",
    ),
    (
        3,
        9,
        "vk",
        "Price list 2026 is out: same prices for returning customers.",
        "https://example.com/pricing/price-list-2026.pdf",
    ),
    (
        4,
        15,
        "facebook",
        "How Volga Agro saved 18% on inputs: the case study.",
        "https://example.com/customers/volga-agro",
    ),
    (
        5,
        11,
        "youtube",
        "Precision tools in five minutes: the video.",
        "https://example.com/video/precision-tools",
    ),
    (6, 10, "linkedin", "Meet us after AgroTech Expo: the talk slides and photos.", ""),
    (7, 14, "telegram", "Draft: weekly digest of product news.", ""),
]


def create_demo_marketing(actor: Actor, people: dict[str, User], now: dt.datetime) -> None:
    """Campaigns for the timeline's campaign codes, segments, content, events and a week of social
    posts, all through marketing's services. Idempotent: objects are matched by code, name, key,
    slug or text and skipped when present; what hangs on demo contacts (static list members,
    event registrations) is re-added after a reset deleted those contacts."""
    owner = people["marketer"]
    today = timezone.localdate(now)
    campaigns: dict[str, Campaign] = {c.utm_code: c for c in Campaign.objects.all()}
    for code, name, goal, channels, budget, monthly, cost_channel in DEMO_CAMPAIGNS:
        if code in campaigns:
            continue
        campaign = marketing.campaigns.campaign_create(
            actor=actor,
            name=name,
            utm_code=code,
            goal=goal,
            channels=channels,
            budget=budget,
            starts_on=(today - dt.timedelta(days=365)).isoformat(),
            owner_id=owner.pk,
        )
        campaigns[code] = campaign
        for month in range(12, 0, -1):
            incurred = today.replace(day=1) - dt.timedelta(days=30 * month - 14)
            marketing.campaigns.cost_add(
                actor=actor,
                campaign=campaign,
                channel=cost_channel,
                amount=monthly,
                incurred_on=incurred.isoformat(),
                note=f"{name}, {incurred:%B %Y}",
            )

    segments = {s.name: s for s in Segment.objects.all()}
    for name, definition, description in [
        ("Visited pricing twice in 30 days", PRICING_TWICE, "Hand-raisers for sales follow-up"),
        (
            "Medical MQLs",
            {
                "type": "and",
                "children": [
                    {"type": "field", "field": "account.industry", "op": "eq", "value": "medical"},
                    {
                        "type": "field",
                        "field": "contact.lifecycle_stage",
                        "op": "eq",
                        "value": "mql",
                    },
                ],
            },
            "Medical accounts' marketing-qualified leads",
        ),
        (
            NEWSLETTER_SEGMENT,
            {"type": "field", "field": "contact.consent", "op": "eq", "value": "granted"},
            "Everyone who agreed to receive the newsletter",
        ),
    ]:
        if name not in segments:
            segments[name] = marketing.segments.segment_create(
                actor=actor, name=name, definition=definition, description=description
            )
            marketing.segments.segment_refresh(segment_id=segments[name].pk)
    static_name = "Trade show follow-up list"
    static = segments.get(static_name) or marketing.segments.segment_create(
        actor=actor, name=static_name, kind="static", description="Met at AgroTech Expo"
    )
    members = list(
        Contact.objects.filter(account__tags__name=DEMO_TAG, consent="granted")
        .order_by("id")
        .values_list("pk", flat=True)[:8]
    )
    marketing.segments.static_members_add(actor=actor, segment=static, contact_ids=members)

    keys = set(ContentAsset.objects.values_list("key", flat=True))
    for kind, title, url, code in DEMO_ASSETS:
        data: dict[str, Any] = {"kind": kind, "title": title, "url": url}
        if code:
            data["campaign_id"] = campaigns[code].pk
        if slug(title)[:100] not in keys:
            marketing.content.asset_create(actor=actor, **data)

    slugs = set(MarketingEvent.objects.values_list("slug", flat=True))
    if "precision-tools-live" not in slugs:
        starts = now + dt.timedelta(days=12, hours=3)
        marketing.events.event_create(
            actor=actor,
            kind="webinar",
            title="Precision tools live",
            slug="precision-tools-live",
            description="A live walkthrough of the new precision instruments, with Q&A.",
            starts_at=starts.isoformat(),
            ends_at=(starts + dt.timedelta(hours=1)).isoformat(),
            join_url="https://example.com/webinars/precision-tools",
            organizer_name=owner.get_full_name(),
            organizer_email=owner.email,
            campaign_id=campaigns["webinar-precision-tools"].pk,
        )
    conference = MarketingEvent.objects.filter(slug="agrotech-expo").first()
    if conference is None:
        starts = now - dt.timedelta(days=21, hours=-9)
        conference = marketing.events.event_create(
            actor=actor,
            kind="conference",
            title="AgroTech Expo",
            slug="agrotech-expo",
            location="Krasnodar, Expograd Yug, stand B14",
            starts_at=starts.isoformat(),
            ends_at=(starts + dt.timedelta(hours=8)).isoformat(),
            organizer_name=owner.get_full_name(),
            organizer_email=owner.email,
        )
    visitors = Contact.objects.filter(
        account__tags__name=DEMO_TAG, account__industry=Industry.AGRICULTURE
    ).order_by("id")[:10]
    scanned = (conference.starts_at + dt.timedelta(hours=2)).isoformat()
    rows = ["email,name,company,scanned"] + [
        f"{c.email},{c.first_name} {c.last_name},,{scanned}" for c in visitors
    ]
    marketing.event_imports.badge_scans_import(
        actor=actor, event=conference, data="\n".join(rows).encode()
    )

    templates = {t.name: t for t in EmailTemplate.objects.all()}
    for name, subject, html in DEMO_TEMPLATES:
        if name not in templates:
            templates[name] = marketing.email.template_save(
                actor=actor, name=name, subject=subject, html=html
            )
    if not EmailSend.objects.filter(name=DEMO_SEND).exists():
        # a draft: finishing a send delivers it over SMTP, and the demo has no mail server
        marketing.email.send_create(
            actor=actor,
            name=DEMO_SEND,
            template=templates[DEMO_TEMPLATES[0][0]],
            segment=segments[NEWSLETTER_SEGMENT],
            subscription_type=SubscriptionType.objects.get(key="newsletter"),
            from_email=owner.email,
            from_name="Polevod Instruments",
            campaign="monthly-newsletter",
        )

    if not SocialPost.objects.filter(text=DEMO_POSTS[0][3]).exists():
        for days, hour, network, text, link in DEMO_POSTS:
            post: dict[str, Any] = {"network": network, "text": text}
            if link:
                post["link_url"] = link
            if not text.startswith("Draft:"):
                post["scheduled_at"] = (now + dt.timedelta(days=days)).replace(hour=hour)
            marketing.social.post_create(actor=actor, **post)
