"""Who sees which customer records (registered with `tandem.core.access`).

- head and admin: everything;
- marketer: every account, contact and touchpoint (marketing works the whole base); may change
  contacts and accounts;
- sales and field reps: records owned by themselves or a teammate, records shared with them,
  and contacts of accounts they see that way; touchpoints of the contacts and accounts they see.
"""

from __future__ import annotations

from functools import cache, lru_cache

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from tandem.core.access import ALL, NONE, Action, _Everything, register, teammate_ids
from tandem.core.models import Role, User
from tandem.crm.models import Account, Contact, Touchpoint

# The conditions are plain IN-lists and uncorrelated subqueries (no EXISTS per row), so
# PostgreSQL can answer with a bitmap OR of index scans even when nothing matches. The
# subqueries are written as SQL (identifiers from the models' metadata, values as parameters):
# they are the same for every request, and building them as querysets cost more than running
# them — every request of a rep pays for its scope.


@cache
def _shared_sql(model: type[Account] | type[Contact]) -> str:
    """SELECT the ids of `model` records shared with one user (parameter: the user's id)."""
    field = model.shared_with.field
    q = connection.ops.quote_name
    table = q(field.m2m_db_table())
    record = f"{table}.{q(field.m2m_column_name())}"
    user = f"{table}.{q(field.m2m_reverse_name())}"
    return f"SELECT {record} FROM {table} WHERE {user} = %s"


@lru_cache(maxsize=256)
def _visible_accounts_sql(owners: int) -> str:
    """SELECT the ids of accounts owned by one of `owners` users or shared with one user
    (parameters: the owners' ids, then the user's id)."""
    meta = Account._meta
    q = connection.ops.quote_name
    table = q(meta.db_table)
    pk = f"{table}.{q(str(meta.pk.column))}"
    owner = f"{table}.{q(Account.owner.field.column)}"
    marks = ", ".join(["%s"] * owners)
    return (
        f"SELECT {pk} FROM {table} WHERE {owner} IN ({marks}) OR {pk} IN ({_shared_sql(Account)})"
    )


def _subquery(sql: str, params: list[int]) -> RawSQL:
    # Only the statements above: identifiers from model metadata, every value a parameter.
    return RawSQL(sql, params)  # noqa: S611


def _account_condition(user: User) -> Q:
    shared = _subquery(_shared_sql(Account), [user.pk])
    return Q(owner_id__in=teammate_ids(user)) | Q(pk__in=shared)


def _contact_condition(user: User) -> Q:
    owners = teammate_ids(user)
    shared = _subquery(_shared_sql(Contact), [user.pk])
    accounts = _subquery(_visible_accounts_sql(len(owners)), [*owners, user.pk])
    return Q(owner_id__in=owners) | Q(account_id__in=accounts) | Q(pk__in=shared)


def account_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything or user.role == Role.MARKETER:
        return ALL if action != "delete" or user.sees_everything else NONE
    if user.role in (Role.SALES_REP, Role.FIELD_REP):
        return _account_condition(user)
    return NONE


def contact_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything or user.role == Role.MARKETER:
        return ALL if action != "delete" or user.sees_everything else NONE
    if user.role in (Role.SALES_REP, Role.FIELD_REP):
        return _contact_condition(user)
    return NONE


def touchpoint_rule(user: User, action: Action) -> Q | _Everything:
    if action != "view":
        return NONE  # the timeline is append-only
    if user.sees_everything or user.role == Role.MARKETER:
        return ALL
    if user.role in (Role.SALES_REP, Role.FIELD_REP):
        contacts = Contact.objects.filter(_contact_condition(user)).values("pk")
        accounts = Account.objects.filter(_account_condition(user)).values("pk")
        return Q(contact_id__in=contacts) | Q(account_id__in=accounts)
    return NONE


def register_scopes() -> None:
    register(Account, account_rule)
    register(Contact, contact_rule)
    register(Touchpoint, touchpoint_rule)
