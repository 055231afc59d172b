"""The demo's field work: visit tiers, key-account plans, each field rep's base, a quarter of
visits (3-5 a week per field rep, most completed with industry reports), and the coming days'
planned visits (for today's plan, the calendar and the day route).

Invariants:
- deterministic: positions, tiers, reports and plans come from a `random.Random` seeded by the
  demo's seed and each account's name; the story's order decides which accounts are key;
- the story's field-visit touchpoints become completed visits (`field.services.
  visits_record_history` links them); each rep's own round fills the week up to 3-5 visits,
  each completed one with its field touchpoint on the account (no contact: the contacts'
  journeys, and so the contact attribution, are the story's);
- causal: completed and called-off visits end before ``now``; planned ones start after it;
- idempotent: written only with the customer record (its visits and plans go with the demo
  accounts on reset); tiers and bases are matched by code and rep.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from tandem.core.audit import Actor
from tandem.core.models import Department, Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Touchpoint
from tandem.demo.catalogue import PRODUCTS
from tandem.field import services as field
from tandem.field.models import Visit, VisitStatus

QUARTER = dt.timedelta(days=91)
VISITS_A_WEEK = (3, 4, 4, 5)  # a field rep's week in the quarter, drawn per rep and week
SLOTS = (9, 11, 14, 16)  # local hours a visit of the rep's own round may start
CANCELLED = 0.08  # of the round's visits: called off (no touchpoint, no report)
NOTES = [
    "Good meeting.",
    "Walked the site.",
    "Agreed next steps.",
    "Left samples and a price list.",
]
TIERS = [("A", 14, "strategic: every two weeks"), ("B", 30, "monthly"), ("C", 60, "bi-monthly")]
KEY_ACCOUNTS_PER_REP = (3, 5, 6)  # how many of a rep's accounts are in tier A, B, C
BASES = {  # the industry's region: (lat, lon) of the rep's office
    "agriculture": (45.035, 38.975),  # Krasnodar
    "medical": (55.751, 37.618),  # Moscow
    "electronics": (55.991, 37.214),  # Zelenograd
}
CROPS = ["winter wheat", "sunflower", "maize", "sugar beet", "soybean", "barley"]
STAGES = ["sowing", "tillering", "stem elongation", "flowering", "grain fill", "harvest"]
DEPARTMENTS = ["cardiology", "intensive care", "laboratory", "surgery", "paediatrics"]
SPECIALISTS = ["head of department", "senior nurse", "lab manager", "purchasing", "chief doctor"]
PARTS = ["MCU-32", "PMIC-5", "RF-24", "ADC-16", "LDO-3"]
DISTRIBUTORS = ["Promelec", "Chip and Dip", "Compel", "Symmetron"]


def _report(industry: str, rng: random.Random, products: list[str]) -> dict[str, object]:
    product = rng.choice(products) if products else "Polevod probe"
    if industry == "agriculture":
        return {
            "crops": rng.sample(CROPS, 2),
            "area_ha": f"{rng.randrange(80, 2400)}.00",
            "growth_stage": rng.choice(STAGES),
            "products_trialled": [product] if rng.random() < 0.4 else [],
        }
    if industry == "medical":
        return {
            "department": rng.choice(DEPARTMENTS),
            "specialists": rng.sample(SPECIALISTS, 2),
            "samples": [
                {
                    "product": product,
                    "lot": f"L{rng.randrange(1000, 9999)}",
                    "quantity": rng.randrange(1, 6),
                }
            ]
            if rng.random() < 0.5
            else [],
        }
    if industry == "electronics":
        return {
            "design_ins": [
                {
                    "product": rng.choice(PARTS),
                    "project": f"board rev {rng.randrange(1, 9)}",
                    "annual_volume": rng.randrange(1, 50) * 1000,
                }
            ]
            if rng.random() < 0.5
            else [],
            "distributor_stock": [
                {
                    "distributor": rng.choice(DISTRIBUTORS),
                    "product": rng.choice(PARTS),
                    "quantity": rng.randrange(0, 5000),
                }
            ],
        }
    return {}


def create_field_work(
    actor: Actor,
    *,
    accounts: list[Account],
    field_reps: dict[int, int],
    industries: dict[str, str],
    now: dt.datetime,
    seed: int,
) -> int:
    """Write the field work of the demo accounts (in the story's order); `field_reps` maps an
    account id to its field rep's id, `industries` a rep's username to their industry. Returns
    the number of visits written."""
    products: dict[str, list[str]] = {}
    for _sku, name, industry, _price in PRODUCTS:
        products.setdefault(str(industry), []).append(str(name))
    tiers = {
        code: field.visit_tier_save(actor=actor, code=code, every_days=days, description=text)
        for code, days, text in TIERS
    }
    reps = {u.pk: u for u in User.objects.filter(pk__in=set(field_reps.values()))}
    industry_of = {pk: industries.get(u.username, "agriculture") for pk, u in reps.items()}
    for k, (pk, rep) in enumerate(sorted(reps.items(), key=lambda item: item[1].username)):
        lat, lon = BASES[industry_of[pk]]
        field.rep_base_set(
            actor=actor,
            rep=rep,
            lat=lat + (k % 2) * 0.05,
            lon=lon + (k % 2) * 0.05,
            day_start=dt.time(8),
            day_end=dt.time(18),
        )
    places: dict[int, tuple[float, float]] = {}
    by_rep: dict[int, list[Account]] = {}
    for account in accounts:
        rep_id = field_reps.get(account.pk)
        if rep_id is None:
            continue
        rng = random.Random(f"{seed}:{account.name}")
        lat, lon = BASES[industry_of[rep_id]]
        places[account.pk] = (
            round(lat + rng.uniform(-0.35, 0.35), 5),
            round(lon + rng.uniform(-0.5, 0.5), 5),
        )
        by_rep.setdefault(rep_id, []).append(account)
    key: list[Account] = []
    for rep_id, mine in sorted(by_rep.items()):
        start = 0
        for code, count in zip("ABC", KEY_ACCOUNTS_PER_REP, strict=True):
            for account in mine[start : start + count]:
                lat, lon = places[account.pk]
                field.visit_plan_set(
                    actor=actor,
                    account=account,
                    tier=tiers[code],
                    rep=reps[rep_id],
                    lat=lat,
                    lon=lon,
                    opens=dt.time(8, 30),
                    closes=dt.time(17, 0),
                )
                key.append(account)
            start += count
    # the quarter: each field-visit touchpoint of the story becomes a completed visit
    touches = Touchpoint.objects.filter(
        source="demo",
        channel="field_visit",
        occurred_at__gte=now - QUARTER,
        occurred_at__lte=now,
        account_id__in=list(places),
        actor_id__isnull=False,
    ).order_by("occurred_at", "id")
    by_account = {a.pk: a for a in accounts}
    history = []
    for touch in touches:
        account = by_account[touch.account_id or 0]
        rng = random.Random(f"{seed}:{account.name}:{touch.occurred_at.isoformat()}")
        minutes = rng.choice([30, 45, 60, 90])
        start_at = touch.occurred_at - dt.timedelta(minutes=minutes)
        lat, lon = places[account.pk]
        history.append(
            Visit(
                account=account,
                contact_id=touch.contact_id,
                rep_id=touch.actor_id or 0,
                planned_start=start_at,
                planned_end=touch.occurred_at,
                status=VisitStatus.DONE,
                check_in_at=start_at,
                check_in_lat=lat,
                check_in_lon=lon,
                check_out_at=touch.occurred_at,
                check_out_lat=lat,
                check_out_lon=lon,
                lat=lat,
                lon=lon,
                industry=account.industry,
                touchpoint=touch,
                notes=rng.choice(NOTES),
                report=_report(account.industry, rng, products.get(account.industry, [])),
                created_at=touch.occurred_at,
                updated_at=touch.occurred_at,
            )
        )
    zone = zoneinfo.ZoneInfo(Organisation.current().time_zone or "UTC")
    today = now.astimezone(zone).date()
    history += _rounds(
        history,
        by_rep=by_rep,
        key={a.pk for a in key},
        places=places,
        products=products,
        reps=reps,
        now=now,
        zone=zone,
        seed=seed,
    )
    # the coming days: key accounts not visited lately, five a day per rep from the next hour
    visited = {
        v.account_id
        for v in history
        if v.check_out_at and v.check_out_at > now - dt.timedelta(days=14)
    }
    for rep_id, mine in sorted(by_rep.items()):
        queue = [a for a in mine if a in key and a.pk not in visited] + [
            a for a in mine if a not in key
        ]
        for day_offset in range(5):
            day = today + dt.timedelta(days=day_offset)
            if day.weekday() >= 5:
                continue
            for slot in range(5 if day_offset == 0 else 3):
                start_at = dt.datetime.combine(day, dt.time(9 + slot * 2), tzinfo=zone)
                if not queue or start_at <= now:  # planned visits are in the future only
                    continue
                account = queue.pop(0)
                lat, lon = places[account.pk]
                history.append(
                    Visit(
                        account=account,
                        rep_id=rep_id,
                        planned_start=start_at,
                        planned_end=start_at + dt.timedelta(minutes=60),
                        lat=lat,
                        lon=lon,
                        industry=account.industry,
                        created_at=now,
                        updated_at=now,
                    )
                )
    field.visits_record_history(actor=actor, visits=history)
    return len(history)


def _rounds(
    story: list[Visit],
    *,
    by_rep: dict[int, list[Account]],
    key: set[int],
    places: dict[int, tuple[float, float]],
    products: dict[str, list[str]],
    reps: dict[int, User],
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    seed: int,
) -> list[Visit]:
    """Each rep's own round of the quarter on top of the story's visits: 3-5 visits a week
    (the story's visits count towards the week), mostly to key accounts, on weekdays, never
    overlapping another visit of the rep and all over before ``now``. A completed one is checked
    out as the field app does: its touchpoint of the field department, on the account (no
    contact, so the contacts' journeys and their attribution are those of the story), is
    recorded through crm's ``touchpoint_record``; a called-off one has none."""
    first = (now - QUARTER).astimezone(zone).date()
    last = now.astimezone(zone).date()
    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    per_week: dict[tuple[int, dt.date], int] = {}
    for visit in story:
        busy.setdefault(visit.rep_id, []).append((visit.planned_start, visit.planned_end))
        monday = visit.planned_start.astimezone(zone).date()
        monday -= dt.timedelta(days=monday.weekday())
        per_week[(visit.rep_id, monday)] = per_week.get((visit.rep_id, monday), 0) + 1
    made: list[Visit] = []
    for rep_id, mine in sorted(by_rep.items()):
        rep = reps[rep_id]
        rng = random.Random(f"{seed}:round:{rep.username}")
        keyed = [a for a in mine if a.pk in key] or mine
        monday = first - dt.timedelta(days=first.weekday())
        while monday <= last:
            days = [
                monday + dt.timedelta(days=k)
                for k in range(5)
                if first <= monday + dt.timedelta(days=k) <= last
            ]
            slots = [(d, h) for d in days for h in SLOTS]
            rng.shuffle(slots)
            need = rng.choice(VISITS_A_WEEK) - per_week.get((rep_id, monday), 0)
            for day, hour in slots:
                if need <= 0:
                    break
                minutes = rng.choice([45, 60, 90])
                start_at = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
                end_at = start_at + dt.timedelta(minutes=minutes)
                taken = busy.setdefault(rep_id, [])
                if end_at >= now or any(s < end_at and start_at < e for s, e in taken):
                    continue
                taken.append((start_at, end_at))
                need -= 1
                account = rng.choice(keyed) if rng.random() < 0.75 else rng.choice(mine)
                made.append(_round_visit(account, rep, start_at, end_at, places, products, rng))
            monday += dt.timedelta(days=7)
    return made


def _round_visit(
    account: Account,
    rep: User,
    start_at: dt.datetime,
    end_at: dt.datetime,
    places: dict[int, tuple[float, float]],
    products: dict[str, list[str]],
    rng: random.Random,
) -> Visit:
    lat, lon = places[account.pk]
    visit = Visit(
        account=account,
        rep_id=rep.pk,
        planned_start=start_at,
        planned_end=end_at,
        lat=lat,
        lon=lon,
        industry=account.industry,
        created_at=start_at - dt.timedelta(days=rng.randrange(1, 8)),
        updated_at=end_at,
    )
    if rng.random() < CANCELLED:
        visit.status = VisitStatus.CANCELLED
        visit.updated_at = visit.created_at + (start_at - visit.created_at) / 2
        return visit
    visit.status = VisitStatus.DONE
    visit.check_in_at, visit.check_in_lat, visit.check_in_lon = start_at, lat, lon
    visit.check_out_at, visit.check_out_lat, visit.check_out_lon = end_at, lat, lon
    visit.notes = rng.choice(NOTES)
    visit.report = _report(account.industry, rng, products.get(account.industry, []))
    visit.touchpoint = crm.touchpoint_record(
        channel=field.TOUCHPOINT_CHANNEL,
        kind=field.TOUCHPOINT_KIND,
        department=Department.FIELD,
        account=account,
        occurred_at=end_at,
        actor=rep,
        properties={"visit": str(visit.uuid), "industry": account.industry},
        source="field",  # as the field app's check-out records it
    )
    return visit
