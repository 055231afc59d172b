"""The demo company, Polevod Instruments: a manufacturer of instruments selling to agriculture,
medical and electronics customers, with seventeen people and twelve months of history.

    demo_load(size="small", seed=DEFAULT_SEED)

The story is planned first (`story.plan_story`: accounts, contacts and a journey for each from a
hazard model with planted channel effects), then written in causal order through the services of
the apps that own each record: crm (accounts, contacts, touchpoints), tracking (consent ledger,
identities), leads (hand-offs, answers, first contacts, lifecycle, disputes), sales (pipeline,
products, price lists, deals, quotes), marketing (campaigns with their costs, segments, content,
email, events, social posts), enablement (library, shares and buyer views, ratings, requests,
voice of the customer, joint touches), field (tiers, key-account plans, reps' bases, a quarter
of visits, the coming days' plan), programmes (trainings with certificates, farm trials, the
Partner Club loyalty programme with a trip, transfers of value to doctors) and insights (goals).

Invariants:
- deterministic: the same seed, size and `now` give the same records (only ids, audit entries and
  the printed passwords differ); `now` defaults to the current hour;
- idempotent: loading twice does not duplicate anything. People and teams are matched by
  username/name; the customer record is written only when no demo account exists (demo accounts
  carry the tag ``demo``); ``reset=True`` deletes the demo records and writes them again;
  marketing objects and the catalogue are matched by code/name/key/slug/SKU and kept;
- one transaction that first locks the organisation row, so two concurrent loads queue up;
- no email leaves: notifications are stored in the app only (`clock.no_email`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.models import Organisation
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.demo.automation import create_demo_automation
from tandem.demo.campaigns import create_demo_marketing
from tandem.demo.catalogue import ensure_catalogue
from tandem.demo.clock import no_email
from tandem.demo.customers import (
    DEMO_TAG,
    create_accounts,
    create_contacts,
    delete_demo_records,
    planned_touches,
    record_touches,
)
from tandem.demo.enablement import create_demo_enablement
from tandem.demo.field import create_field_work
from tandem.demo.funnel import play
from tandem.demo.mediation import delete_disputes, open_disputes, set_goals
from tandem.demo.organisation import (
    FIELD_BY_INDUSTRY,
    SALES_BY_REGION,
    Login,
    ensure_organisation,
    ensure_people,
    fresh_logins,
)
from tandem.demo.programmes import create_demo_programmes, delete_demo_programmes
from tandem.demo.story import SIZES, plan_story
from tandem.marketing import services as marketing

DEFAULT_SEED = 2026


@dataclass(frozen=True)
class DemoSummary:
    logins: list[Login]
    accounts: int
    contacts: int
    touchpoints: int
    created: bool  # the customer record was written by this run


def demo_load(
    *,
    reset: bool = False,
    size: str = "small",
    seed: int = DEFAULT_SEED,
    now: dt.datetime | None = None,
) -> DemoSummary:
    """Load (or, with `reset`, reload) the demo; returns fresh logins and record counts."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}; choose one of {', '.join(SIZES)}")
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    actor = Actor.system()
    with no_email(), transaction.atomic():
        Organisation.current()
        Organisation.objects.select_for_update().get(pk=1)  # one demo load at a time
        ensure_organisation(actor)
        people = ensure_people(actor)
        marketing.ensure_default_subscription_types()  # idempotent with the migration
        catalogue = ensure_catalogue(actor)
        if reset:
            delete_disputes()
            delete_demo_programmes()
            delete_demo_records(actor)
        created = not Account.objects.filter(tags__name=DEMO_TAG).exists()
        if created:
            story = plan_story(
                seed=seed,
                size=size,
                now=now,
                reps=SALES_BY_REGION,
                field_reps=FIELD_BY_INDUSTRY,
                products=catalogue.products_by_industry(),
            )
            accounts = create_accounts(actor, story, people)
            contacts = create_contacts(actor, story, accounts)
            field_reps = {
                account.pk: people[planned.field_rep].pk
                for account, planned in zip(accounts, story.accounts, strict=True)
            }
            later = play(story, contacts, catalogue, people, field_reps)
            record_touches(planned_touches(story, contacts, field_reps) + later)
            create_field_work(
                actor,
                accounts=accounts,
                field_reps=field_reps,
                industries={u: i for i, names in FIELD_BY_INDUSTRY.items() for u in names},
                now=now,
                seed=seed,
            )
            open_disputes(people, now)
            set_goals(people, now)
        create_demo_marketing(actor, people, now)
        create_demo_enablement(people, now, activity=created, seed=seed)
        create_demo_automation(people, now, activity=created)
        create_demo_programmes(people, now, activity=created, seed=seed)
        logins = fresh_logins(people)
        demo_accounts = Account.objects.filter(tags__name=DEMO_TAG)
        return DemoSummary(
            logins=logins,
            accounts=demo_accounts.count(),
            contacts=Contact.objects.filter(account__in=demo_accounts).count(),
            touchpoints=Touchpoint.objects.filter(source="demo").count(),
            created=created,
        )
