"""Choosing the rep for a hand-off: account owner first, then territory, then weighted round-robin.

1. the owner of the contact's account, if an active sales rep (not among `exclude`);
2. the most specific territory matching the account's region and industry (region and industry
   both set beats one set beats neither); its members are the round-robin pool;
3. without a matching territory: every available rep with a `RepCapacity` row.

Weighted round-robin: the rep with the lowest `assigned_total / weight` goes next (ties by id),
among reps whose `open_count < capacity`. The seat is claimed with one conditional UPDATE
(`open_count < capacity AND assigned_total = seen`), so two concurrent routings never overfill a
rep nor both take the same turn; a lost race retries with fresh numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q

from tandem.core.models import Role, User
from tandem.crm.models import Contact
from tandem.leads.models import RepCapacity, RoutedBy, Territory

MAX_CLAIM_ATTEMPTS = 20


@dataclass(frozen=True)
class Route:
    rep: User | None
    routed_by: str
    territory: Territory | None = None


def _territory_for(region: str, industry: str) -> Territory | None:
    candidates = Territory.objects.filter(
        Q(region__iexact=region) | Q(region=""), Q(industry=industry) | Q(industry="")
    ).prefetch_related("members")
    best: Territory | None = None
    best_rank = -1
    for territory in candidates:
        rank = (2 if territory.region else 0) + (1 if territory.industry else 0)
        if rank > best_rank:
            best, best_rank = territory, rank
    return best


def claim_seat(user_ids: list[int] | None, exclude: set[int]) -> User | None:
    """Take the next round-robin seat among `user_ids` (None: every rep). None if all are full."""
    pool = RepCapacity.objects.filter(
        is_available=True,
        weight__gt=0,
        open_count__lt=F("capacity"),
        user__is_active=True,
        user__role=Role.SALES_REP,
    ).exclude(user_id__in=exclude)
    if user_ids is not None:
        pool = pool.filter(user_id__in=user_ids)
    for _attempt in range(MAX_CLAIM_ATTEMPTS):
        rows = list(pool.values_list("pk", "user_id", "assigned_total", "weight"))
        if not rows:
            return None
        pk, user_id, seen, _w = min(rows, key=lambda r: ((r[2] + 1) / r[3], r[2], r[1]))
        claimed = RepCapacity.objects.filter(
            pk=pk, assigned_total=seen, open_count__lt=F("capacity"), is_available=True
        ).update(open_count=F("open_count") + 1, assigned_total=F("assigned_total") + 1)
        if claimed == 1:
            return User.objects.get(pk=user_id)
    return None


def take_seat(user: User) -> None:
    """Count an open hand-off for a rep chosen directly (account owner, the head's choice)."""
    updated = RepCapacity.objects.filter(user=user).update(
        open_count=F("open_count") + 1, assigned_total=F("assigned_total") + 1
    )
    if not updated:
        RepCapacity.objects.get_or_create(
            user=user, defaults={"open_count": 1, "assigned_total": 1}
        )


def release_seat(user_id: int | None) -> None:
    if user_id is not None:
        RepCapacity.objects.filter(user_id=user_id, open_count__gt=0).update(
            open_count=F("open_count") - 1
        )


def route(contact: Contact, exclude: set[int] | None = None) -> Route:
    """Pick and claim a rep for the contact; `exclude` are reps who already had it."""
    exclude = exclude or set()
    account = contact.account
    if account is not None and account.owner_id and account.owner_id not in exclude:
        owner = account.owner
        if owner is not None and owner.is_active and owner.role == Role.SALES_REP:
            take_seat(owner)
            return Route(owner, RoutedBy.ACCOUNT_OWNER)
    territory = None
    if account is not None:
        territory = _territory_for(account.region, account.industry)
    if territory is not None:
        members = [u.pk for u in territory.members.all()]
        rep = claim_seat(members, exclude)
        if rep is not None:
            return Route(rep, RoutedBy.TERRITORY, territory)
    rep = claim_seat(None, exclude)
    if rep is not None:
        return Route(rep, RoutedBy.ROUND_ROBIN, territory)
    return Route(None, RoutedBy.NOBODY, territory)
