"""The demo customer record: accounts, contacts, their consent and identities, and the touches
of their journeys, written through crm's and tracking's services; accounts are tagged ``demo``
so a reset finds them (and, through them, their contacts and deals).

Invariants:
- accounts are made by `crm.accounts_bulk_create` and contacts by `crm.contacts_bulk_create`
  (one audit entry each, as `account_create`/`contact_create` write them), consent by the
  ledger's `tracking.consent_record_bulk`, identities by `tracking.identities_link_bulk`, touches
  by `crm.touchpoints_record_bulk`: set-based writes of the owning services, so the large demo
  (50,000 contacts) loads in minutes;
- each contact's and account's `created_at` is the moment the story says they came to be known
  (dated by `clock.backdate`); every planned touch of a contact is after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Account, AttributeTarget, Contact, Identity, Touchpoint
from tandem.demo.clock import backdate
from tandem.demo.story import Story, Touch
from tandem.sales import services as sales
from tandem.sales.models import Deal
from tandem.tracking import services as tracking

DEMO_TAG = "demo"
SOURCE = "demo"
CHUNK = 2000


def delete_demo_records(actor: Actor) -> None:
    demo = Account.objects.filter(tags__name=DEMO_TAG)
    for deal in Deal.objects.filter(account__in=demo).distinct():
        sales.deal_delete(actor=actor, deal=deal)
    for contact in Contact.objects.filter(account__in=demo).distinct():
        crm.contact_delete(actor=actor, contact=contact)
    for account in demo.distinct():
        crm.account_delete(actor=actor, account=account)
    Identity.objects.filter(value__startswith="demo-visitor-").delete()
    Touchpoint.objects.filter(anonymous_id__startswith="demo-").delete()


def create_accounts(actor: Actor, story: Story, people: dict[str, User]) -> list[Account]:
    """The accounts, in the story's order, each tagged ``demo`` and with its industry."""
    first_seen: dict[int, dt.datetime] = {}
    for contact in story.contacts:
        seen = first_seen.get(contact.account)
        if seen is None or contact.created_at < seen:
            first_seen[contact.account] = contact.created_at
    active = {user.pk for user in people.values()}
    custom = crm.custom_defaults(AttributeTarget.ACCOUNT)
    ids: list[int] = []
    for start in range(0, len(story.accounts), CHUNK):
        planned = story.accounts[start : start + CHUNK]
        rows = [
            crm.account_check(
                {
                    "name": p.name,
                    "domains": [p.domain],
                    "industry": p.industry,
                    "industry_attributes": p.attributes,
                    "region": p.region,
                    "owner_id": people[p.owner].pk,
                },
                current=None,
                custom=custom,
                active_user_ids=active,
            )
            for p in planned
        ]
        tags = [[DEMO_TAG, p.industry] for p in planned]
        ids += crm.accounts_bulk_create(actor=actor, accounts=rows, tags=tags)
    backdate(
        Account,
        "created_at",
        {pk: first_seen.get(i, story.now) - dt.timedelta(days=3) for i, pk in enumerate(ids)},
    )
    by_id = Account.objects.in_bulk(ids)
    return [by_id[pk] for pk in ids]


def create_contacts(actor: Actor, story: Story, accounts: list[Account]) -> list[Contact]:
    """The contacts, with their stage at creation, consent on the ledger and the identity of
    their first website visits; returned in the story's order, each with its account set."""
    ids: list[int] = []
    for start in range(0, len(story.contacts), CHUNK):
        rows = []
        for planned in story.contacts[start : start + CHUNK]:
            account = accounts[planned.account]
            values = crm.contact_check(
                {
                    "first_name": planned.first_name,
                    "last_name": planned.last_name,
                    "email": planned.email,
                    "title": planned.title,
                    "owner_id": account.owner_id,
                    "lifecycle_stage": planned.stage,
                },
                creating=True,
            )
            values["account_id"] = account.pk
            rows.append(values)
        ids += crm.contacts_bulk_create(actor=actor, contacts=rows)
    times = {pk: c.created_at for pk, c in zip(ids, story.contacts, strict=True)}
    backdate(Contact, "created_at", times)
    tracking.consent_record_bulk(
        entries=[
            tracking.ConsentEntry(pk, "newsletter", planned.consent)
            for pk, planned in zip(ids, story.contacts, strict=True)
            if planned.consent != "unknown"
        ],
        actor=actor,
    )
    tracking.identities_link_bulk(
        links=[
            (Identity.Kind.ANONYMOUS_ID, planned.visitor, pk)
            for pk, planned in zip(ids, story.contacts, strict=True)
        ]
    )
    linked = dict(
        Identity.objects.filter(value__startswith="demo-visitor-").values_list("contact_id", "pk")
    )
    backdate(Identity, "created_at", {linked[pk]: at for pk, at in times.items()})
    by_id = Contact.objects.in_bulk(ids)
    ordered = [by_id[pk] for pk in ids]
    for contact, planned in zip(ordered, story.contacts, strict=True):
        contact.account = accounts[planned.account]
    return ordered


def touch_row(
    touch: Touch,
    *,
    contact: Contact | None = None,
    actor_id: int | None = None,
    anonymous_id: str = "",
) -> dict[str, Any]:
    channel = touch.channel
    content = touch.content or channel.content
    return {
        "contact_id": contact.pk if contact else None,
        "account_id": contact.account_id if contact else None,
        "actor_id": actor_id,
        "anonymous_id": anonymous_id,
        "occurred_at": touch.at,
        "channel": channel.channel,
        "department": channel.department,
        "kind": channel.kind,
        "campaign": channel.campaign,
        "content": content,
        # a page view carries its path, as the tracker records it (behavioural segments use it)
        "properties": {"path": content} if channel.kind == "page_view" else {},
        "message_id": None,
    }


def actor_of(touch: Touch, contact: Contact, field_reps: dict[int, int]) -> int | None:
    """Who made the touch: the account owner for sales touches, the account's field rep for
    field touches, nobody for marketing touches."""
    if touch.channel.actor == "owner":
        return contact.owner_id
    if touch.channel.actor == "field":
        return field_reps[contact.account_id or 0]
    return None


def planned_touches(
    story: Story, contacts: list[Contact], field_reps: dict[int, int]
) -> list[dict[str, Any]]:
    """Rows for the touches that lead up to each journey's end, the passive readers' page views
    and the anonymous visits."""
    rows = []
    for journey in story.journeys:
        contact = contacts[journey.contact]
        for touch in journey.touches:
            rows.append(
                touch_row(touch, contact=contact, actor_id=actor_of(touch, contact, field_reps))
            )
    for index, touch in story.reading:
        rows.append(touch_row(touch, contact=contacts[index]))
    for visitor, touch in story.visits:
        rows.append(touch_row(touch, anonymous_id=visitor))
    return rows


def record_touches(rows: Iterable[dict[str, Any]]) -> int:
    ordered = sorted(rows, key=lambda r: (r["occurred_at"], r["contact_id"] or 0, r["channel"]))
    written = 0
    for start in range(0, len(ordered), CHUNK):
        written += crm.touchpoints_record_bulk(rows=ordered[start : start + CHUNK], source=SOURCE)
    return written
