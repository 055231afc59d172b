"""Reads of the customer record for pages and the API: lists, search and the timeline.

Invariants:
- every query starts from `tandem.core.access.scoped`, so a record the user may not see is never
  listed, counted or found by search;
- lists page by keyset over an indexed ordering (`tandem.core.paging`), never by OFFSET;
- each list has one filter (`contacts_filtered`, `accounts_filtered`: filters, search) and one
  set of orders (`CONTACT_SORTS`, `ACCOUNT_SORTS`) that its page, its API endpoint and both
  exports use, so they always agree on what a filter or a search matches;
- bot-flagged touchpoints stay out of the timeline unless `show_bots` is asked for;
- a record's page shows the panels apps above crm register (`record_panel_register`, e.g.
  leads' disputes about the record): crm calls them without importing those apps, and each
  panel reads through the viewer's scopes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.core.paging import (
    BadCursor,
    Page,
    capped_count,
    decode_cursor,
    encode_cursor,
    page_count,
)
from tandem.core.paging import keyset_page as keyset_page
from tandem.crm.models import Account, AccountDomain, Contact, ContactEmail, Touchpoint
from tandem.crm.services import contacts_search_q

__all__ = [
    "ACCOUNT_SORTS",
    "CONTACT_SORTS",
    "BadCursor",
    "ListQuery",
    "Page",
    "account_list",
    "capped_count",
    "contact_list",
    "decode_cursor",
    "encode_cursor",
    "keyset_page",
    "timeline",
]

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 20

CONTACT_SORTS: dict[str, list[str]] = {
    "name": ["last_name", "first_name", "id"],
    "created": ["-created_at", "-id"],
}
ACCOUNT_SORTS: dict[str, list[str]] = {
    "name": ["name", "id"],
    "created": ["-created_at", "-id"],
}


@dataclass(frozen=True)
class ListQuery:
    """What a list was asked for (by its page, API endpoint or export); every field is optional
    and already validated. Fields a list does not know are ignored by it."""

    q: str = ""
    owner_id: int | None = None
    lifecycle_stage: str = ""
    industry: str = ""
    consent: str = ""
    tag: str = ""
    account_id: int | None = None
    email: str = ""
    domain: str = ""
    sort: str = "name"
    cursor: str | None = None


def contacts_filtered(user: User, query: ListQuery) -> QuerySet[Contact]:
    """The contacts the user sees that match `query`: search over name, email and title; owner,
    stage, account, the account's industry, consent, tag, and any of the contact's addresses."""
    qs = scoped(user, Contact)
    if query.q.strip():
        qs = qs.filter(contacts_search_q(query.q))
    if query.owner_id is not None:
        qs = qs.filter(owner_id=query.owner_id)
    if query.lifecycle_stage:
        qs = qs.filter(lifecycle_stage=query.lifecycle_stage)
    if query.account_id is not None:
        qs = qs.filter(account_id=query.account_id)
    if query.industry:
        qs = qs.filter(account__industry=query.industry)
    if query.consent:
        qs = qs.filter(consent=query.consent)
    if query.tag.strip():
        qs = qs.filter(tags__name=query.tag.strip())
    if query.email.strip():
        addresses = ContactEmail.objects.filter(
            contact_id=OuterRef("pk"), email=query.email.strip().lower()
        )
        qs = qs.filter(Exists(addresses))
    return qs


def contacts_by_name(contacts: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """Contacts matching every word of `text` (in the name, email or title), by name: what a
    picker suggests as a person types ("anna petr" finds Anna Petrova). `contacts` is already
    the viewer's scope."""
    for word in text.split()[:5]:
        contacts = contacts.filter(contacts_search_q(word))
    return contacts.select_related("account").order_by("last_name", "first_name", "id")


def contact_pick_label(contact: Contact) -> str:
    """How a picker names a contact: the name, then the account and the email that tell two
    namesakes apart."""
    parts = [str(contact) or contact.email]
    if contact.account_id is not None and contact.account is not None:
        parts.append(contact.account.name)
    if contact.email and parts[0] != contact.email:
        parts.append(contact.email)
    return " · ".join(parts)


# What a list page shows of each record: rows are named tuples of these (no model objects).
CONTACT_ROW = (
    "id",
    "first_name",
    "last_name",
    "email",
    "title",
    "lifecycle_stage",
    "created_at",
    "account__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)
ACCOUNT_ROW = (
    "id",
    "name",
    "domains",
    "industry",
    "region",
    "created_at",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def contact_list(user: User, query: ListQuery, *, size: int = PAGE_SIZE) -> Page[Any]:
    """A page of the contacts the user sees as `CONTACT_ROW` rows, with a capped count in
    `page.extra`. Rows, not objects: building three model objects per row cost more than the
    query."""
    qs = contacts_filtered(user, query)
    order = CONTACT_SORTS.get(query.sort, CONTACT_SORTS["name"])
    rows = qs.values_list(*CONTACT_ROW, named=True)
    page = keyset_page(
        rows, order=order, cursor=query.cursor, size=size, salt=f"contacts:{query.sort}"
    )
    page.extra["count"], page.extra["more"] = page_count(page, qs)
    return page


def _account_search_q(term: str) -> Q:
    term = term.strip()
    return (
        Q(name__icontains=term)
        | Q(domain_rows__domain__icontains=term.lower())
        | Q(region__icontains=term)
    )


def accounts_by_name(accounts: QuerySet[Account], text: str) -> QuerySet[Account]:
    """Accounts matching every word of `text` (in the name, a domain or the region), by name:
    what an account picker suggests as a person types. `accounts` is already the viewer's
    scope."""
    for word in text.split()[:5]:
        accounts = accounts.filter(
            pk__in=Account.objects.filter(_account_search_q(word)).values("pk")
        )
    return accounts.order_by("name", "id")


def account_pick_label(account: Account) -> str:
    """How a picker names an account: the name, then the region that tells namesakes apart."""
    return " · ".join(part for part in (account.name, account.region) if part)


def accounts_filtered(user: User, query: ListQuery) -> QuerySet[Account]:
    """The accounts the user sees that match `query`: search over name, domains and region;
    owner, industry, tag, and one exact domain (without `www.`)."""
    qs = scoped(user, Account)
    if query.q.strip():
        matching = Account.objects.filter(_account_search_q(query.q)).values("pk")
        qs = qs.filter(pk__in=matching)
    if query.owner_id is not None:
        qs = qs.filter(owner_id=query.owner_id)
    if query.industry:
        qs = qs.filter(industry=query.industry)
    if query.tag.strip():
        qs = qs.filter(tags__name=query.tag.strip())
    if query.domain.strip():
        domain = query.domain.strip().lower().removeprefix("www.")
        qs = qs.filter(
            Exists(AccountDomain.objects.filter(account_id=OuterRef("pk"), domain=domain))
        )
    return qs


def account_list(user: User, query: ListQuery, *, size: int = PAGE_SIZE) -> Page[Any]:
    """A page of the accounts the user sees as `ACCOUNT_ROW` rows, with a capped count."""
    qs = accounts_filtered(user, query)
    order = ACCOUNT_SORTS.get(query.sort, ACCOUNT_SORTS["name"])
    rows = qs.values_list(*ACCOUNT_ROW, named=True)
    page = keyset_page(
        rows, order=order, cursor=query.cursor, size=size, salt=f"accounts:{query.sort}"
    )
    page.extra["count"], page.extra["more"] = page_count(page, qs)
    return page


def timeline(
    user: User,
    *,
    contact: Contact | None = None,
    account: Account | None = None,
    department: str = "",
    channel: str = "",
    show_bots: bool = False,
    cursor: str | None = None,
    size: int = TIMELINE_PAGE_SIZE,
) -> Page[Touchpoint]:
    """The unified timeline of a contact or an account, newest first."""
    qs = scoped(user, Touchpoint)
    if contact is not None:
        qs = qs.filter(contact=contact)
    elif account is not None:
        qs = qs.filter(account=account)
    else:
        qs = qs.none()
    if department:
        qs = qs.filter(department=department)
    if channel:
        qs = qs.filter(channel=channel)
    if not show_bots:
        qs = qs.filter(is_bot=False)
    qs = qs.select_related("actor", "contact")
    return keyset_page(qs, order=["-occurred_at", "-id"], cursor=cursor, size=size, salt="timeline")


def timeline_channels(
    user: User, *, contact: Contact | None = None, account: Account | None = None
) -> list[str]:
    """The channels that occur in this timeline, for the filter."""
    qs = scoped(user, Touchpoint)
    qs = qs.filter(contact=contact) if contact is not None else qs.filter(account=account)
    return sorted(set(qs.order_by().values_list("channel", flat=True).distinct()[:100]))


def duplicate_groups(user: User, model: type[Any], limit: int = 100) -> list[list[Any]]:
    """Groups of the records `user` sees that share an email address (contacts) or a domain
    (accounts), most members first, at most `limit` groups. Visibility narrows the records
    before the groups are counted and the top ones picked, so a rep sees their own duplicates
    however many groups other people's records form. Three queries whatever the count."""
    link: type[ContactEmail] | type[AccountDomain]
    if model is Contact:
        link, key, fk = ContactEmail, "email", "contact"
    elif model is Account:
        link, key, fk = AccountDomain, "domain", "account"
    else:
        raise TypeError(f"no duplicates are found for {model.__name__}")
    visible = scoped(user, model)
    links: QuerySet[Any] = link.objects.filter(**{f"{fk}__in": visible.values("pk")})
    top = list(
        links.values(key)
        .annotate(n=Count(fk, distinct=True))
        .filter(n__gt=1)
        .order_by("-n", key)
        .values_list(key, flat=True)[:limit]
    )
    members: dict[str, set[int]] = {value: set() for value in top}
    for value, record_id in links.filter(**{f"{key}__in": top}).values_list(key, f"{fk}_id"):
        members[value].add(record_id)
    wanted = {pk for ids in members.values() for pk in ids}
    records = visible.select_related("owner").in_bulk(wanted)
    return [[records[pk] for pk in sorted(members[value]) if pk in records] for value in top]


CONTACT_FACT_VALUES = (
    "id",
    "title",
    "lifecycle_stage",
    "created_at",
    "account_id",
    "account_industry",
    "account_region",
    "account_attributes",
)
TOUCHPOINT_VALUES = ("contact_id", "occurred_at", "kind", "channel")


def _compiled(query: Any) -> tuple[str, list[Any]]:
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def contact_facts_sql() -> tuple[str, list[Any]]:
    """SQL and parameters of a derived table another app's set-based statement may embed (lead
    scoring): one row per contact with the columns `CONTACT_FACT_VALUES`, the `account_*` ones
    from its account (NULL without one). Compiled by the ORM from the models; unordered, so
    PostgreSQL and SQLite flatten it into the embedding statement. Unscoped: for system work,
    never for what a user reads."""
    query = (
        Contact.objects.order_by()
        .annotate(
            account_industry=F("account__industry"),
            account_region=F("account__region"),
            account_attributes=F("account__industry_attributes"),
        )
        .values(*CONTACT_FACT_VALUES)
        .query
    )
    return _compiled(query)


def human_touchpoints_sql() -> tuple[str, list[Any]]:
    """SQL and parameters of a derived table of the touchpoints people made (not bot-flagged)
    that belong to a contact, with the columns `TOUCHPOINT_VALUES`; unordered and unscoped, as
    `contact_facts_sql`."""
    query = (
        Touchpoint.objects.order_by()
        .filter(is_bot=False, contact__isnull=False)
        .values(*TOUCHPOINT_VALUES)
        .query
    )
    return _compiled(query)


CONTACT_MAIL_VALUES = (
    "id",
    "account_id",
    "first_name",
    "last_name",
    "email",
    "title",
    "account_name",
    "custom",
)


def contact_mail_values_sql() -> tuple[str, list[Any]]:
    """SQL and parameters of a derived table a send's set-based statement may join on `id`: one
    row per contact with what an email to it is personalised with, the columns
    `CONTACT_MAIL_VALUES` (`account_name`: its account's name, NULL without one); unordered and
    unscoped, as `contact_facts_sql` (PostgreSQL flattens it, so the join probes the primary
    key)."""
    query = (
        Contact.objects.order_by()
        .annotate(account_name=F("account__name"))
        .values(*CONTACT_MAIL_VALUES)
        .query
    )
    return _compiled(query)


# --- panels other apps add to a record's page -------------------------------------------------

RecordPanel = Callable[[HttpRequest, Model], str]
_record_panels: dict[str, RecordPanel] = {}


def record_panel_register(key: str, panel: RecordPanel) -> None:
    """Add a panel to the pages of records (contacts, accounts, and any app's record page that
    shows `record_panels`); `panel(request, record)` returns safe HTML, "" for nothing. The
    same key again replaces the earlier panel."""
    _record_panels[key] = panel


def record_panels(request: HttpRequest, record: Model) -> list[str]:
    """The registered panels' HTML for this record, in the order of their keys."""
    out = []
    for key in sorted(_record_panels):
        html = _record_panels[key](request, record)
        if html:
            out.append(html)
    return out
