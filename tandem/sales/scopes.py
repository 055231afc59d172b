"""Who sees and changes which sales records (registered with `tandem.core.access`).

- head and admin: every record, every action;
- sales and field reps: deals owned by themselves or a teammate, and deals shared with them; the
  quotes, lines, contacts' roles and tasks of those deals; their own sequences and their team's
  enrolments; their own tasks;
- marketers: may *view* every deal and quote (attribution needs won revenue and pipeline), and
  change none; they see no sequences, enrolments or tasks (the reps' working lists);
- pipelines, stages, loss reasons, products and price lists are settings: every active user
  views them, only head and admin change them;
- anything else (no rule, inactive user, another role) sees nothing: the rules fail closed.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, teammate_ids
from tandem.core.models import Role, User
from tandem.sales.models import (
    Deal,
    DealContact,
    Enrolment,
    LossReason,
    Pipeline,
    PriceList,
    Product,
    Quote,
    SalesTask,
    Sequence,
    Stage,
)


def deal_condition(user: User, prefix: str = "") -> Q:
    """Deals a rep works: owned by them or a teammate, or shared with them."""
    outer = "deal_id" if prefix == "deal__" else "pk"
    shared = Deal.shared_with.through.objects.filter(deal_id=OuterRef(outer), user_id=user.pk)
    return Q(**{f"{prefix}owner_id__in": teammate_ids(user)}) | Q(Exists(shared))


def deal_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if user.role == Role.MARKETER:
        return ALL if action == "view" else NONE
    if can(user, "see_team_records"):
        return NONE if action == "delete" else deal_condition(user)
    return NONE


def _deal_child_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if user.role == Role.MARKETER:
        return ALL if action == "view" else NONE
    if can(user, "see_team_records"):
        return deal_condition(user, "deal__")
    return NONE


def settings_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    return ALL if action == "view" else NONE


def sequence_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if can(user, "see_team_records"):
        return Q(owner_id=user.pk) if action != "view" else Q(owner_id__in=teammate_ids(user))
    return NONE


def enrolment_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if can(user, "see_team_records"):
        return Q(enrolled_by_id__in=teammate_ids(user))
    return NONE


def task_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if can(user, "see_team_records"):
        return Q(owner_id=user.pk)
    return NONE


def register_scopes() -> None:
    register(Deal, deal_rule)
    register(Quote, _deal_child_rule)
    register(DealContact, _deal_child_rule)
    for model in (Pipeline, Stage, LossReason, Product, PriceList):
        register(model, settings_rule)
    register(Sequence, sequence_rule)
    register(Enrolment, enrolment_rule)
    register(SalesTask, task_rule)
