"""Who sees and changes what in enablement (rules registered with `core.access`).

Invariants:
- the library (assets, versions, ratings), requests and themes are read by every role that
  reads content; marketing (`manage_collateral`) changes assets, requests and themes;
- shares: the head, admins and marketers see all; a rep sees the shares of their team;
- joint touches: who sees every customer sees all; otherwise the rep and the marketer in it;
- tags and insight notes follow the account: visible when the account is (or has none).
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, scoped, teammate_ids
from tandem.core.models import User
from tandem.crm.models import Account
from tandem.enablement.models import (
    Asset,
    AssetVersion,
    ContentRequest,
    InsightNote,
    JointTouch,
    Rating,
    Share,
    Theme,
    VocTag,
)


def library_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "manage_collateral"):
        return ALL
    return ALL if action == "view" and can(user, "read_content") else NONE


def share_rule(user: User, action: Action) -> Q | _Everything:
    if action == "delete":
        return NONE
    if can(user, "see_every_customer"):
        return ALL
    return Q(rep_id__in=teammate_ids(user))


def joint_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "see_every_customer") and (action == "view" or user.sees_everything):
        return ALL
    return Q(rep_id=user.pk) | Q(marketer_id=user.pk)


def _by_account(user: User, action: Action) -> Q | _Everything:
    if can(user, "see_every_customer"):
        return ALL
    if action != "view":
        return NONE
    visible = scoped(user, Account).values("pk")
    return Q(account__isnull=True) | Q(account_id__in=visible)


def insight_rule(user: User, action: Action) -> Q | _Everything:
    if action == "view":
        return _by_account(user, action)
    return Q(author_id=user.pk)


def register_scopes() -> None:
    for model in (Asset, AssetVersion, Rating, ContentRequest, Theme):
        register(model, library_rule)
    register(Share, share_rule)
    register(JointTouch, joint_rule)
    register(VocTag, _by_account)
    register(InsightNote, insight_rule)
