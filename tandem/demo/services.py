"""Demo data: an organisation, its teams and people, ~60 accounts, ~300 contacts, a timeline,
deals and marketing (campaigns, segments, content, events, social posts).

Invariants:
- deterministic: the same seed gives the same records (names, stages, channels, counts); dates
  are laid out backwards from today;
- idempotent: loading twice does not duplicate anything. People and teams are matched by
  username/name; the customer record is written only when no demo record exists (demo records
  carry the tag ``demo``); ``reset=True`` deletes the demo records and writes them again;
  marketing objects are matched by code/name/key/slug/text and kept across a reset;
- every write goes through a service (core.services, crm.services, sales.services,
  marketing.services), in one transaction that first locks the organisation row, so two
  concurrent loads queue up instead of both writing.

Hook for the attribution simulator: ``demo_load(planner=...)`` takes any function that, given a
seeded ``random.Random`` and the demo contacts, returns the touches to record
(`PlannedTouch`); the built-in `plan_timeline` is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from tandem.core.audit import Actor
from tandem.core.models import Organisation
from tandem.crm.models import Account, Contact, Touchpoint
from tandem.demo.campaigns import create_demo_marketing
from tandem.demo.customers import DEMO_TAG, create_demo_records, delete_demo_records
from tandem.demo.deals import create_demo_deals
from tandem.demo.organisation import Login, ensure_organisation, ensure_people, fresh_logins
from tandem.demo.timeline import Planner, plan_timeline
from tandem.marketing import services as marketing


@dataclass(frozen=True)
class DemoSummary:
    logins: list[Login]
    accounts: int
    contacts: int
    touchpoints: int
    created: bool  # the customer record was written by this run


def demo_load(*, reset: bool = False, planner: Planner | None = None) -> DemoSummary:
    """Load (or, with `reset`, reload) the demo; returns fresh logins and record counts."""
    actor = Actor.system()
    with transaction.atomic():
        Organisation.current()
        Organisation.objects.select_for_update().get(pk=1)  # one demo load at a time
        ensure_organisation(actor)
        people = ensure_people(actor)
        marketing.ensure_default_subscription_types()  # idempotent with the migration
        if reset:
            delete_demo_records(actor)
        created = not Account.objects.filter(tags__name=DEMO_TAG).exists()
        if created:
            create_demo_records(actor, people, planner or plan_timeline)
            create_demo_deals(actor)
            create_demo_marketing(actor, people)
        logins = fresh_logins(people)
        demo_accounts = Account.objects.filter(tags__name=DEMO_TAG)
        return DemoSummary(
            logins=logins,
            accounts=demo_accounts.count(),
            contacts=Contact.objects.filter(tags__name=DEMO_TAG).count(),
            touchpoints=Touchpoint.objects.filter(source="demo").count(),
            created=created,
        )
