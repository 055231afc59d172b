"""The demo customer record: accounts, contacts and their timeline, written through crm's
services; tagged ``demo`` so a reset can find and delete them."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.demo.names import (
    ACCOUNT_NAMES,
    ACCOUNTS_PER_INDUSTRY,
    CONSENT_WEIGHTS,
    FIELD_OWNER,
    FIRST_NAMES,
    LAST_NAMES,
    STAGE_WEIGHTS,
    TITLES,
    industry_attributes,
    slug,
)
from tandem.demo.timeline import DemoContact, Planner
from tandem.sales import services as sales
from tandem.sales.models import Deal
from tandem.tracking import services as tracking

DEMO_TAG = "demo"
SEED = 20260


def delete_demo_records(actor: Actor) -> None:
    for deal in Deal.objects.filter(account__tags__name=DEMO_TAG).distinct():
        sales.deal_delete(actor=actor, deal=deal)
    for contact in Contact.objects.filter(tags__name=DEMO_TAG).distinct():
        crm.contact_delete(actor=actor, contact=contact)
    for account in Account.objects.filter(tags__name=DEMO_TAG).distinct():
        crm.account_delete(actor=actor, account=account)
    Touchpoint.objects.filter(anonymous_id__startswith="demo-visitor-").delete()


def create_demo_records(actor: Actor, people: dict[str, User], planner: Planner) -> None:
    rng = random.Random(SEED)
    reps = [people["sales"], people["sales.south"]]
    contacts: list[Contact] = []
    facts: list[DemoContact] = []
    used_emails: set[str] = set()
    used_names: set[str] = set()
    stages, stage_weights = zip(*STAGE_WEIGHTS.items(), strict=True)
    consents, consent_weights = zip(*CONSENT_WEIGHTS.items(), strict=True)
    for industry, count in ACCOUNTS_PER_INDUSTRY.items():
        prefixes, suffixes = ACCOUNT_NAMES[industry]
        for _n in range(count):
            name = f"{rng.choice(prefixes)} {rng.choice(suffixes)}"
            while name in used_names:
                name = f"{rng.choice(prefixes)} {rng.choice(suffixes)} {rng.randint(2, 9)}"
            used_names.add(name)
            region = rng.choice(["north", "south"])
            field_owner = FIELD_OWNER.get(industry)
            owner = (
                people[field_owner]
                if field_owner and rng.random() < 0.4
                else reps[0 if region == "north" else 1]
            )
            domain = f"{slug(name)}.example"
            account = crm.account_create(
                actor=actor,
                name=name,
                domains=[domain],
                industry=industry,
                industry_attributes=industry_attributes(rng, industry),
                region=region,
                owner_id=owner.pk,
                tags=[DEMO_TAG, industry],
            )
            for _c in range(rng.randint(3, 7)):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = f"{slug(first)}.{slug(last)}@{domain}"
                while email in used_emails:
                    email = f"{slug(first)}.{slug(last)}{rng.randint(2, 99)}@{domain}"
                used_emails.add(email)
                stage = rng.choices(stages, stage_weights)[0]
                consent = rng.choices(consents, consent_weights)[0]
                contact = crm.contact_create(
                    actor=actor,
                    first_name=first,
                    last_name=last,
                    email=email,
                    title=rng.choice(TITLES[industry]),
                    account_id=account.pk,
                    owner_id=owner.pk,
                    lifecycle_stage=stage,
                    tags=[DEMO_TAG],
                )
                if consent != "unknown":  # consent goes on the ledger, which derives the field
                    tracking.consent_record(
                        contact=contact, purpose="newsletter", state=consent, actor=actor
                    )
                contact.account = account  # spares a query per touchpoint below
                contacts.append(contact)
                facts.append(DemoContact(lifecycle_stage=stage, industry=industry, consent=consent))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for touch in planner(rng, facts):
        who = contacts[touch.contact_index] if touch.contact_index is not None else None
        crm.touchpoint_record(
            channel=touch.channel,
            kind=touch.kind,
            department=touch.department,
            contact=who,
            account=who.account if who else None,
            occurred_at=now - dt.timedelta(days=touch.days_ago),
            campaign=touch.campaign,
            content=touch.content,
            actor=who.owner if who and touch.by_owner else None,
            anonymous_id=touch.anonymous_id,
            source="demo",
            # a page view carries its path, as the tracker records it (behavioural segments use it)
            properties={"path": touch.content} if touch.kind == "page_view" else None,
        )
