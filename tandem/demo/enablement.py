# ruff: noqa: RUF001 - the demo speaks Russian too
"""Enablement's part of the story: a collateral library in English and Russian (one price list
expired), reps sharing assets with the buyers of their deals and the buyers reading them, ratings
with reasons, content requests at every step, voice-of-the-customer themes tagged on call notes
and lost-deal reasons (suggested from the text, confirmed or rejected by a person), and
marketers who joined sales meetings.

Invariants:
- written through enablement's services (and crm's `touchpoint_record` for the call notes),
  dated with their `at=` arguments; the library's own creation times with `clock.backdate`;
- deterministic: a `random.Random(seed)` decides, over deals and contacts taken in id order;
- idempotent: assets and themes are matched by key and name; the activity (shares, views,
  ratings, requests, tags, joint touches) is written only with a fresh customer record, after
  what an earlier load wrote of it is removed (`_forget_activity`);
- a planted effect: won deals used the case study of their industry more often than lost ones,
  so the matched win rate has something to find.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.demo.clock import backdate
from tandem.enablement import services
from tandem.enablement.models import (
    Asset,
    AssetVersion,
    ContentRequest,
    InsightNote,
    Rating,
    TagStatus,
    Theme,
    VocTag,
)
from tandem.sales.models import Deal, DealStatus

MAX_DEALS = 600  # the large demo shares on this many deals (in id order), enough for the figures
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


@dataclass(frozen=True)
class PlannedAsset:
    key: str
    title: str
    kind: str
    language: str
    industry: str
    stage: str
    persona: str
    pages: int
    description: str
    product: str = ""
    expires_days: int | None = None  # from now; negative: already expired


LIBRARY = [
    PlannedAsset(
        "dairy-farm-case-study",
        "Dairy farm case study: 18 % less feed waste",
        "case_study",
        "en",
        "agriculture",
        "proposal",
        "economic_buyer",
        6,
        "How a dairy cooperative used soil and silage moisture sensors to cut feed waste.",
        "Silage moisture sensor",
    ),
    PlannedAsset(
        "keis-molochnaya-ferma",
        "Кейс: молочная ферма «Заря» снизила потери кормов",
        "case_study",
        "ru",
        "agriculture",
        "proposal",
        "economic_buyer",
        5,
        "Как кооператив снизил затраты на корма с датчиками влажности силоса.",
        "Датчик влажности силоса",
    ),
    PlannedAsset(
        "clinic-lab-case-study",
        "Clinic lab case study: calibration without downtime",
        "case_study",
        "en",
        "medical",
        "proposal",
        "technical_buyer",
        4,
        "A regional clinic moved calibration to night shifts and kept its analysers running.",
    ),
    PlannedAsset(
        "electronics-test-bench-video",
        "Test bench in 3 minutes (video)",
        "video",
        "en",
        "electronics",
        "discovery",
        "user",
        1,
        "A short film of the bench measuring a production batch.",
    ),
    PlannedAsset(
        "company-overview-deck",
        "Polevod Instruments overview",
        "deck",
        "en",
        "",
        "discovery",
        "",
        14,
        "Who we are, what we make, who uses it.",
    ),
    PlannedAsset(
        "obzor-kompanii",
        "Полевод Инструментс: обзор компании",
        "deck",
        "ru",
        "",
        "discovery",
        "",
        12,
        "Кто мы, что делаем и кто этим пользуется.",
    ),
    PlannedAsset(
        "roi-calculator-sheet",
        "Return on investment: the calculator sheet",
        "product_sheet",
        "en",
        "",
        "negotiation",
        "economic_buyer",
        2,
        "What the instruments save a year against their price, with the assumptions.",
    ),
    PlannedAsset(
        "calibration-service-sheet",
        "Calibration service: product sheet",
        "product_sheet",
        "en",
        "medical",
        "proposal",
        "technical_buyer",
        2,
        "Calibration plans, response times and certificates.",
    ),
    PlannedAsset(
        "price-list-2026",
        "Price list 2026",
        "price_list",
        "en",
        "",
        "negotiation",
        "economic_buyer",
        3,
        "List prices for 2026.",
        expires_days=120,
    ),
    PlannedAsset(
        "price-list-2025",
        "Price list 2025",
        "price_list",
        "en",
        "",
        "negotiation",
        "economic_buyer",
        3,
        "List prices for 2025.",
        expires_days=-20,
    ),
]

THEMES = [
    ("objection", "Price too high", "too expensive, expensive, price, дорого, цена"),
    ("pain", "Long delivery times", "delivery, lead time, срок поставки, доставка"),
    ("competitor", "AgroSense", "agrosense, агросенс"),
    ("competitor", "Lost to a competitor", "competitor, конкурент"),
    ("feature_request", "Mobile app", "mobile app, мобильное приложение"),
    ("pain", "Calibration downtime", "calibration, калибровка, простой"),
]

NOTES = [
    ("They find us too expensive compared with last year's supplier.", 0),
    ("Клиент говорит, что дорого; просит скидку на второй датчик.", 0),
    ("Worried about delivery: they need the sensors before the harvest.", 1),
    ("Срок поставки шесть недель их не устраивает.", 1),
    ("They run a trial with AgroSense on two fields.", 2),
    ("Сравнивают нас с АгроСенс по цене.", 2),
    ("Asked twice for a mobile app for the field staff.", 4),
    ("Нужно мобильное приложение для агрономов.", 4),
    ("Calibration stops their lab for a day every quarter.", 5),
    ("Every delivery of spare parts took a month last year.", 1),
]


def _ensure_library(marketer: User, now: dt.datetime) -> dict[str, Asset]:
    actor = Actor(user=marketer)
    found = {a.key: a for a in Asset.objects.filter(key__in=[p.key for p in LIBRARY])}
    created: dict[int, dt.datetime] = {}
    for i, planned in enumerate(LIBRARY):
        if planned.key in found:
            continue
        expires = (
            (now + dt.timedelta(days=planned.expires_days)).date()
            if planned.expires_days is not None
            else None
        )
        asset = services.asset_create(
            actor=actor,
            key=planned.key,
            title=planned.title,
            kind=planned.kind,
            language=planned.language,
            industry=planned.industry,
            stage=planned.stage,
            persona=planned.persona,
            product=planned.product,
            description=planned.description,
            expires_on=expires,
            url=f"https://files.polevod.example/library/{planned.key}.pdf",
            pages=planned.pages,
        )
        found[planned.key] = asset
        created[asset.pk] = now - dt.timedelta(days=360 - 20 * i)
    backdate(Asset, "created_at", created)
    backdate(
        AssetVersion,
        "created_at",
        {
            pk: created[asset_id]
            for pk, asset_id in AssetVersion.objects.filter(asset_id__in=list(created)).values_list(
                "pk", "asset_id"
            )
        },
    )
    return found


def _ensure_themes(marketer: User, library: dict[str, Asset]) -> list[Theme]:
    actor = Actor(user=marketer)
    existing = {t.name: t for t in Theme.objects.filter(name__in=[n for _k, n, _w in THEMES])}
    themes = []
    for kind, name, keywords in THEMES:
        theme = existing.get(name) or services.voc.theme_save(
            actor=actor, kind=kind, name=name, keywords=keywords
        )
        themes.append(theme)
    price = themes[0]
    if not price.answers.exists():
        services.voc.theme_answer(
            actor=actor,
            theme=price,
            asset_ids=[library["roi-calculator-sheet"].pk, library["dairy-farm-case-study"].pk],
        )
    return themes


def _share_on_deals(
    rng: random.Random, library: dict[str, Asset], people: dict[str, User], now: dt.datetime
) -> None:
    by_industry = {
        "agriculture": [library["dairy-farm-case-study"], library["keis-molochnaya-ferma"]],
        "medical": [library["clinic-lab-case-study"], library["calibration-service-sheet"]],
        "electronics": [library["electronics-test-bench-video"]],
    }
    general = [library["company-overview-deck"], library["roi-calculator-sheet"]]
    general_ru = library["obzor-kompanii"]
    prices = library["price-list-2026"]
    deals = (
        Deal.objects.filter(account__tags__name="demo", owner__isnull=False)
        .select_related("account", "owner")
        .order_by("pk")[:MAX_DEALS]
    )
    first_contact: dict[int, int] = {}
    for pk, account_id in (
        Contact.objects.filter(account__tags__name="demo")
        .order_by("pk")
        .values_list("pk", "account_id")
    ):
        first_contact.setdefault(account_id, pk)
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=list(first_contact.values()))}
    for deal in deals:
        contact_id = first_contact.get(deal.account_id or 0)
        if contact_id is None or deal.owner is None:
            continue
        end = deal.closed_at or now
        start = deal.created_at
        if end <= start:
            continue
        won = deal.status == DealStatus.WON
        chance = 0.65 if won else 0.3 if deal.status == DealStatus.LOST else 0.45
        picks = []
        industry = deal.account.industry if deal.account else ""
        if rng.random() < chance and industry in by_industry:
            picks.append(rng.choice(by_industry[industry]))
        if rng.random() < 0.35:
            picks.append(rng.choice(general))
        if rng.random() < 0.1:
            picks.append(general_ru)
        if (
            deal.status == DealStatus.OPEN
            and rng.random() < 0.3
            and prices.expires_on
            and prices.expires_on >= now.date()
        ):
            picks.append(prices)
        for n, asset in enumerate(dict.fromkeys(picks)):
            at = start + (end - start) * (0.2 + 0.2 * n)
            try:
                share = services.share_create(
                    actor=Actor(user=deal.owner), asset=asset, contact=contacts[contact_id], at=at
                )
            except InvalidInput:
                continue
            if rng.random() < 0.7:
                view = services.view_open(
                    token=share.token,
                    ip=f"198.51.100.{rng.randint(1, 250)}",
                    user_agent=UA,
                    meta={},
                    at=min(at + dt.timedelta(hours=rng.randint(1, 48)), now),  # never ahead
                )
                if view is not None:
                    for page in range(1, min(share.version.pages, rng.randint(1, 6)) + 1):
                        services.view_ping(visit=view.visit, page=page, seconds=rng.randint(5, 60))


def _ratings(
    rng: random.Random, library: dict[str, Asset], people: dict[str, User], now: dt.datetime
) -> None:
    raters = [p for name, p in sorted(people.items()) if name.startswith(("sales", "field"))]
    plan = [
        ("dairy-farm-case-study", 5, ["convincing"]),
        ("dairy-farm-case-study", 4, ["convincing"]),
        ("keis-molochnaya-ferma", 5, ["convincing"]),
        ("company-overview-deck", 3, ["too_long"]),
        ("company-overview-deck", 2, ["too_long", "missing_language"]),
        ("clinic-lab-case-study", 2, ["too_technical"]),
        ("electronics-test-bench-video", 4, []),
        ("price-list-2025", 1, ["outdated_price"]),
        ("roi-calculator-sheet", 4, ["convincing"]),
        ("calibration-service-sheet", 2, ["too_technical", "wrong_industry"]),
    ]
    for i in range(24):
        key, stars, reasons = plan[i % len(plan)]
        services.rating_record(
            actor=Actor(user=raters[i % len(raters)]),
            asset=library[key],
            stars=max(1, min(5, stars + rng.choice([-1, 0, 0, 1]))),
            reasons=reasons,
            at=now - dt.timedelta(days=170 - 7 * i),
        )


def _requests(library: dict[str, Asset], people: dict[str, User], now: dt.datetime) -> None:
    marketer = Actor(user=people["marketer.content"])
    rep, south, field = people["sales"], people["sales.south"], people["field"]
    plan = [
        (
            rep,
            "A case study for dairy farms, in Russian",
            "agriculture",
            "case_study",
            150,
            ["triaged", "planned", "delivered"],
            "keis-molochnaya-ferma",
        ),
        (south, "A shorter company deck (10 slides)", "", "deck", 60, ["triaged", "planned"], None),
        (
            field,
            "Calibration plans compared with AgroSense",
            "medical",
            "product_sheet",
            40,
            ["triaged"],
            None,
        ),
        (rep, "A video of the silage sensor in the field", "agriculture", "video", 12, [], None),
        (south, "Price list for distributors in roubles", "", "price_list", 20, ["declined"], None),
    ]
    for who, title, industry, kind, days, steps, asset_key in plan:
        req = services.request_create(
            actor=Actor(user=who),
            title=title,
            industry=industry,
            kind=kind,
            at=now - dt.timedelta(days=days),
        )
        for n, status in enumerate(steps):
            req = services.request_move(
                actor=marketer,
                request=req,
                status=status,
                assignee=people["marketer.content"] if n == 0 else None,
                asset=library[asset_key] if status == "delivered" and asset_key else None,
                note="Russian version for the co-operatives" if status == "delivered" else "",
                at=now - dt.timedelta(days=days - 20 * (n + 1)),
            )


def _voice(rng: random.Random, people: dict[str, User], now: dt.datetime) -> None:
    accounts = list(
        Account.objects.filter(tags__name="demo").order_by("pk").values_list("pk", flat=True)[:60]
    )
    contacts = {
        c.account_id: c for c in Contact.objects.filter(account_id__in=accounts).order_by("-pk")
    }
    reps = [people["sales"], people["sales.south"], people["field"]]
    for i in range(36):
        text, theme_index = NOTES[i % len(NOTES)]
        # the delivery theme rises: most of its notes fall in the last 30 days
        days = rng.randint(1, 28) if theme_index == 1 else rng.randint(1, 120)
        account_id = accounts[i % len(accounts)]
        crm.touchpoint_record(
            channel="phone",
            kind="sales_call",
            department="sales",
            contact=contacts.get(account_id),
            account=Account.objects.get(pk=account_id) if account_id not in contacts else None,
            occurred_at=now - dt.timedelta(days=days, hours=rng.randint(0, 8)),
            actor=reps[i % len(reps)],
            source="demo",
            properties={"note": text},
        )
    services.voc.tags_suggest(since=now - dt.timedelta(days=130))
    head = Actor(user=people["head"])
    marketer = Actor(user=people["marketer"])
    for n, tag in enumerate(VocTag.objects.filter(status=TagStatus.SUGGESTED).order_by("pk")):
        if n % 5 == 4:
            continue  # left for a person to confirm on the page
        services.voc.tag_decide(actor=head if n % 2 else marketer, tag=tag, confirm=n % 11 != 3)


def _joint(people: dict[str, User], now: dt.datetime) -> None:
    marketer, events = people["marketer"], people["marketer.events"]
    accounts = list(
        Account.objects.filter(tags__name="demo", owner__isnull=False)
        .select_related("owner")
        .order_by("pk")[:6]
    )
    plan = [
        (
            marketer,
            "meeting",
            -40,
            "done",
            "The farm managers read our case study; they want the moisture data in their own app.",
        ),
        (
            events,
            "field_visit",
            -25,
            "done",
            "Лаборатория боится простоя при калибровке; спрашивали про ночные смены.",
        ),
        (marketer, "call", -10, "done", "Price was the first question; the ROI sheet answered it."),
        (events, "meeting", 5, "accepted", ""),
        (marketer, "field_visit", 9, "requested", ""),
    ]
    for (who, kind, days, status, note), account in zip(plan, accounts, strict=False):
        if account.owner is None:
            continue
        try:
            item = services.joint.joint_request(
                actor=Actor(user=who),
                account=account,
                rep=account.owner,
                kind=kind,
                planned_at=now + dt.timedelta(days=days),
                purpose="Hear the buyer first-hand",
            )
        except InvalidInput:
            continue
        if status in ("accepted", "done"):
            services.joint.joint_answer(actor=Actor(user=account.owner), joint=item, accept=True)
        if status == "done":
            services.joint.joint_done(actor=Actor(user=who), joint=item, note=note)


def _forget_activity(
    people: dict[str, User], library: dict[str, Asset], themes: list[Theme]
) -> None:
    """A fresh customer record (first load or `reset`) starts the demo's activity anew: what a
    previous load wrote about the demo's people, library and themes goes (shares and joint
    touches went with the demo's contacts and accounts)."""
    staff = list(people.values())
    Rating.objects.filter(asset__in=library.values(), rater__in=staff).delete()
    ContentRequest.objects.filter(requester__in=staff).delete()
    VocTag.objects.filter(theme__in=themes).delete()
    InsightNote.objects.filter(author__in=staff).delete()


def create_demo_enablement(
    people: dict[str, User], now: dt.datetime, *, activity: bool, seed: int
) -> None:
    """The library and themes (always, matched by key and name); with `activity` (a fresh
    customer record), the shares, views, ratings, requests, tags and joint touches."""
    library = _ensure_library(people["marketer.content"], now)
    themes = _ensure_themes(people["marketer"], library)
    if not activity:
        return
    _forget_activity(people, library, themes)
    rng = random.Random(seed * 16 + 1)
    _share_on_deals(rng, library, people, now)
    _ratings(rng, library, people, now)
    _requests(library, people, now)
    _voice(rng, people, now)
    _joint(people, now)
