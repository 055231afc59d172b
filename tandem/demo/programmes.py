"""The demo's programmes: product trainings with certificates, field trials on farms, the
"Partner Club" loyalty programme with a study trip, and transfers of value to doctors under
the organisation's compliance rules (Russia's 323-FZ art. 74 blocks; EFPIA and Open Payments
disclose).

Invariants:
- deterministic: every choice comes from a `random.Random` seeded with the demo's seed; records
  follow the story's accounts in id order;
- written through the programmes services only (touchpoints of trainings and trials go through
  crm's `touchpoint_record` there, so they count in scoring and attribution);
- the set-up (programme, rules, tiers, rewards, compliance rules, curricula) is matched by name
  and written once; the activity only with a freshly written customer record (`activity`);
- `delete_demo_programmes` removes what refers to the demo accounts before they are deleted on
  reset (transfers of value protect their recipients).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Account, Contact, Industry
from tandem.demo.customers import DEMO_TAG
from tandem.programmes import services as programmes
from tandem.programmes.models import (
    ComplianceRule,
    Curriculum,
    LoyaltyProgramme,
    Membership,
    Reward,
    TransferOfValue,
)
from tandem.sales.models import Product

PROGRAMME = "Partner Club"
COMPLIANCE_RULES = [
    # (name, country, effect, nature, recipient, reference)
    ("No gifts to healthcare workers", "RU", "block", "gift", "hcp", "Federal Law 323-FZ, art. 74"),
    (
        "No paid leisure travel for healthcare workers",
        "RU",
        "block",
        "leisure_travel",
        "hcp",
        "Federal Law 323-FZ, art. 74",
    ),
    ("EFPIA disclosure (Germany)", "DE", "disclose", "", "", "EFPIA Disclosure Code, art. 3"),
    ("EFPIA disclosure (France)", "FR", "disclose", "", "", "EFPIA Disclosure Code, art. 3"),
    ("Open Payments", "US", "disclose", "", "", "42 CFR Part 403, Subpart I"),
]
CURRICULA = [
    # (product SKU, name, modules)
    ("AG-SM200", "Soil moisture sensing in practice", "Installation\nCalibration\nIrrigation"),
    ("AG-YMK", "Yield mapping for agronomists", "Set-up on the combine\nMaps\nZones"),
    ("MD-STM", "Sterilisation monitoring", "Cycles\nIndicators\nRecords and audits"),
    ("EL-TC3", "Thermal imaging for board debugging", "Emissivity\nHot spots\nReports"),
]
TRIAL_PRODUCTS = ["AG-SM200", "AG-YMK"]
CROPS = ["winter wheat", "sunflower", "maize", "sugar beet"]


def _setup(actor: Actor, now: dt.datetime) -> LoyaltyProgramme:
    for name, country, effect, nature, recipient, reference in COMPLIANCE_RULES:
        if not ComplianceRule.objects.filter(name=name).exists():
            programmes.compliance_rule_create(
                actor=actor,
                name=name,
                country=country,
                effect=effect,
                nature=nature,
                recipient_kind=recipient,
                reference=reference,
            )
    programme = LoyaltyProgramme.objects.filter(name=PROGRAMME).first()
    if programme is not None:
        return programme
    programme = programmes.programme_create(actor=actor, name=PROGRAMME, currency="EUR")
    programmes.earning_rule_create(actor=actor, programme=programme, source="purchase", points=1)
    for source, points, cap in (
        ("training", 200, 600),
        ("referral", 500, 1500),
        ("event", 50, 200),
    ):
        programmes.earning_rule_create(
            actor=actor,
            programme=programme,
            source=source,
            points=points,
            cap_points=cap,
            cap_period="year",
        )
    for name, threshold in (("Silver", 5_000), ("Gold", 20_000), ("Platinum", 60_000)):
        programmes.tier_create(actor=actor, programme=programme, name=name, threshold=threshold)
    start = (now + dt.timedelta(days=75)).date()
    programmes.reward_create(
        actor=actor,
        programme=programme,
        name="Study trip: precision farming in the Netherlands",
        kind="trip",
        nature="leisure_travel",
        points_cost=6_000,
        unit_cost=Decimal("2400.00"),
        destination="Wageningen",
        starts_on=start,
        ends_on=start + dt.timedelta(days=4),
        capacity=12,
    )
    programmes.reward_create(
        actor=actor,
        programme=programme,
        name="Congress registration",
        kind="service",
        nature="education",
        points_cost=1_500,
        unit_cost=Decimal("450.00"),
    )
    programmes.reward_create(
        actor=actor,
        programme=programme,
        name="Calibration voucher",
        kind="service",
        nature="fee",
        points_cost=800,
        unit_cost=Decimal("150.00"),
    )
    return programme


def _curricula(actor: Actor) -> list[Curriculum]:
    out = []
    for sku, name, modules in CURRICULA:
        found = Curriculum.objects.filter(name=name).first()
        product = Product.objects.filter(sku=sku).first()
        if found is None and product is not None:
            found = programmes.curriculum_create(
                actor=actor, product=product, name=name, modules=modules, valid_months=12
            )
        if found is not None:
            out.append(found)
    return out


def delete_demo_programmes() -> None:
    """Remove the programme records of the demo accounts (before those are deleted)."""
    demo = Account.objects.filter(tags__name=DEMO_TAG)
    TransferOfValue.objects.filter(account__in=demo).delete()
    Membership.objects.filter(account__in=demo).delete()  # with its ledger and redemptions


def create_demo_programmes(
    people: dict[str, User], now: dt.datetime, *, activity: bool, seed: int
) -> int:
    """Write the set-up, and with `activity` a quarter of trainings and trials, members with
    their earnings and rewards, and transfers of value. Returns the records of activity written."""
    actor = Actor.system()
    programme = _setup(actor, now)
    curricula = _curricula(actor)
    if not activity:
        return 0
    rng = random.Random(f"{seed}-programmes")
    accounts = list(Account.objects.filter(tags__name=DEMO_TAG).distinct().order_by("pk"))
    by_industry: dict[str, list[Account]] = {}
    for account in accounts:
        by_industry.setdefault(account.industry, []).append(account)
    written = 0
    written += _trials(people, now, rng, by_industry.get(Industry.AGRICULTURE, []))
    written += _trainings(people, now, rng, curricula, by_industry)
    written += _loyalty(now, rng, programme, by_industry)
    return written


def _trials(
    people: dict[str, User], now: dt.datetime, rng: random.Random, farms: list[Account]
) -> int:
    rep = Actor(user=people.get("field"))
    products = {p.sku: p for p in Product.objects.filter(sku__in=TRIAL_PRODUCTS)}
    written = 0
    season = (now - dt.timedelta(days=120)).year
    for k, farm in enumerate(farms[:12]):
        product = products.get(TRIAL_PRODUCTS[k % len(TRIAL_PRODUCTS)])
        if product is None:
            continue
        crop = CROPS[k % len(CROPS)]
        sown = dt.date(season, 4, 10) + dt.timedelta(days=rng.randrange(0, 20))
        harvest = sown + dt.timedelta(days=110 + rng.randrange(0, 30))
        started = min(dt.datetime.combine(sown, dt.time(9), tzinfo=dt.UTC), now)
        measured = min(dt.datetime.combine(harvest, dt.time(9), tzinfo=dt.UTC), now)
        trial = programmes.trial_create(
            actor=rep, account=farm, product=product, crop=crop, season=season, at=started
        )
        base = 4.5 + rng.random() * 3.0  # t/ha with the usual practice
        lift = rng.gauss(0.45 if product.sku == "AG-SM200" else 0.3, 0.25)
        for arm, per_ha in (("product", base + lift), ("usual", base)):
            area = Decimal(rng.choice(["1.5", "2.0", "2.5", "3.0"]))
            harvested = harvest <= now.date()
            programmes.plot_add(
                actor=rep,
                trial=trial,
                arm=arm,
                area_ha=area,
                sown_on=sown,
                harvested_on=harvest if harvested else None,
                yield_t=(Decimal(str(round(per_ha, 2))) * area).quantize(Decimal("0.001"))
                if harvested
                else None,
                at=measured,
            )
        written += 1
    return written


def _trainings(
    people: dict[str, User],
    now: dt.datetime,
    rng: random.Random,
    curricula: list[Curriculum],
    by_industry: dict[str, list[Account]],
) -> int:
    industry_of = {
        "AG": Industry.AGRICULTURE,
        "MD": Industry.MEDICAL,
        "EL": Industry.ELECTRONICS,
    }
    trainer_of = {
        Industry.AGRICULTURE: "field",
        Industry.MEDICAL: "field.medical",
        Industry.ELECTRONICS: "field.electronics",
    }
    written = 0
    modes = ["centre", "online", "on_site"]
    for c, curriculum in enumerate(curricula):
        industry = industry_of[curriculum.product.sku[:2]]
        clients = by_industry.get(industry, [])
        if not clients:
            continue
        trainer = people.get(trainer_of[industry])
        actor = Actor(user=trainer)
        for s in range(3):
            mode = modes[(c + s) % 3]
            start = (now - dt.timedelta(days=80 - 30 * s + rng.randrange(0, 5))).replace(hour=10)
            if c == 0 and s == 0:  # an old session: certificates due for recertification
                start = now - dt.timedelta(days=350)
            host = clients[(c + s) % len(clients)] if mode == "on_site" else None
            session = programmes.session_create(
                actor=actor,
                curriculum=curriculum,
                mode=mode,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=4),
                location={
                    "centre": "Tandem training centre",
                    "online": "https://meet.example/tr",
                }.get(mode, ""),
                host_account=host,
                trainer=trainer,
                capacity=16,
            )
            pool = [host] if host else rng.sample(clients, min(4, len(clients)))
            contacts = list(
                Contact.objects.filter(account__in=pool).order_by("pk")[: 6 + rng.randrange(0, 6)]
            )
            for contact in contacts:
                attendance = programmes.attendee_register(
                    actor=actor, session_id=session.pk, contact=contact
                )
                came = rng.random() < 0.85
                programmes.attendance_mark(actor=actor, attendance_id=attendance.pk, attended=came)
                if came:
                    programmes.assessment_record(
                        actor=actor,
                        attendance_id=attendance.pk,
                        score=min(100, int(rng.gauss(80, 12))),
                    )
                written += 1
    return written


def _loyalty(
    now: dt.datetime,
    rng: random.Random,
    programme: LoyaltyProgramme,
    by_industry: dict[str, list[Account]],
) -> int:
    actor = Actor.system()
    joined = now - dt.timedelta(days=365)
    members = []
    for industry, accounts in sorted(by_industry.items()):
        for k, account in enumerate(accounts[::2][:8]):
            # two medical members are German hospitals the Moscow office also serves
            country = "DE" if industry == Industry.MEDICAL and k < 2 else "RU"
            members.append(
                programmes.member_enrol(
                    actor=actor,
                    programme=programme,
                    account=account,
                    country=country,
                    joined_at=joined,
                )
            )
    written = programmes.loyalty_sync(actor=actor)
    rewards = {r.name: r for r in Reward.objects.filter(programme=programme)}
    trip = rewards["Study trip: precision farming in the Netherlands"]
    congress = rewards["Congress registration"]
    voucher = rewards["Calibration voucher"]
    at = now - dt.timedelta(days=10)
    for membership in members:
        membership.refresh_from_db()
        people = list(Contact.objects.filter(account_id=membership.account_id).order_by("pk")[:2])
        account = membership.account
        try:
            if account.industry == Industry.AGRICULTURE and membership.balance >= trip.points_cost:
                redemption = programmes.redemption_request(
                    actor=actor,
                    membership_id=membership.pk,
                    reward_id=trip.pk,
                    travellers=people[:1],
                    at=at,
                )
            elif (
                account.industry == Industry.MEDICAL and membership.balance >= congress.points_cost
            ):
                redemption = programmes.redemption_request(
                    actor=actor,
                    membership_id=membership.pk,
                    reward_id=congress.pk,
                    travellers=people[:1],
                    at=at,
                )
            elif membership.balance >= voucher.points_cost:
                redemption = programmes.redemption_request(
                    actor=actor, membership_id=membership.pk, reward_id=voucher.pk, at=at
                )
            else:
                continue
        except InvalidInput:
            continue  # no places left, or a rule forbids it
        written += 1
        if rng.random() < 0.8:
            programmes.redemption_approve(actor=actor, redemption_id=redemption.pk)
    # samples and meals for doctors of the medical members, and a German hospital's grant
    for membership in members:
        if membership.account.industry != Industry.MEDICAL:
            continue
        doctor = Contact.objects.filter(account_id=membership.account_id).order_by("pk").first()
        for nature, value in (("sample", "0"), ("meal", "35.00")):
            try:
                programmes.transfer_record(
                    actor=actor,
                    account=membership.account,
                    contact=doctor,
                    country=membership.country,
                    nature=nature,
                    value=Decimal(value),
                    currency="EUR",
                    occurred_on=(now - dt.timedelta(days=rng.randrange(5, 80))).date(),
                    description="Product samples" if nature == "sample" else "Working lunch",
                )
                written += 1
            except InvalidInput:
                continue
        if membership.country == "DE":
            programmes.transfer_record(
                actor=actor,
                account=membership.account,
                contact=None,
                country="DE",
                nature="grant",
                value=Decimal("5000.00"),
                currency="EUR",
                occurred_on=(now - dt.timedelta(days=40)).date(),
                description="Research grant: sterilisation audit",
            )
            written += 1
    return written
