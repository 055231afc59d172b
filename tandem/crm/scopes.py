"""Who sees which customer records (registered with `tandem.core.access`).

- head and admin: everything;
- marketer: every account, contact and touchpoint (marketing works the whole base); may change
  contacts and accounts;
- sales and field reps: records owned by themselves or a teammate, records shared with them,
  and contacts of accounts they see that way; touchpoints of the contacts and accounts they see.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, teammate_ids
from tandem.core.models import User
from tandem.crm.models import Account, Contact, Touchpoint

# The conditions are plain IN-lists and uncorrelated subqueries (no EXISTS per row), so
# PostgreSQL can answer with a bitmap OR of index scans even when nothing matches. Only the
# teammates list is remembered (for the request, on the user); the subqueries are querysets.

AccountShare = Account.shared_with.through
ContactShare = Contact.shared_with.through


def _account_condition(user: User) -> Q:
    shared = AccountShare.objects.filter(user_id=user.pk).values("account_id")
    return Q(owner_id__in=teammate_ids(user)) | Q(pk__in=shared)


def _contact_condition(user: User) -> Q:
    shared = ContactShare.objects.filter(user_id=user.pk).values("contact_id")
    accounts = Account.objects.filter(_account_condition(user)).values("pk")
    return Q(owner_id__in=teammate_ids(user)) | Q(account_id__in=accounts) | Q(pk__in=shared)


def account_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "see_every_customer"):
        return ALL if action != "delete" or user.sees_everything else NONE
    if can(user, "see_team_records"):
        return _account_condition(user)
    return NONE


def contact_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "see_every_customer"):
        return ALL if action != "delete" or user.sees_everything else NONE
    if can(user, "see_team_records"):
        return _contact_condition(user)
    return NONE


def touchpoint_rule(user: User, action: Action) -> Q | _Everything:
    if action != "view":
        return NONE  # the timeline is append-only
    if can(user, "see_every_customer"):
        return ALL
    if can(user, "see_team_records"):
        contacts = Contact.objects.filter(_contact_condition(user)).values("pk")
        accounts = Account.objects.filter(_account_condition(user)).values("pk")
        return Q(contact_id__in=contacts) | Q(account_id__in=accounts)
    return NONE


def register_scopes() -> None:
    register(Account, account_rule)
    register(Contact, contact_rule)
    register(Touchpoint, touchpoint_rule)
