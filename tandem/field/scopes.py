"""Who sees and changes what in field (rules registered with `core.access`).

Invariants:
- the head and admins see and change every visit, plan and tier; marketers see visits (they
  do not make them);
- a field or sales rep sees the visits and plans of their team and changes their own visits;
- attachments and follow-ups follow their visit; tiers are read by all, changed by
  `manage_visit_plans`.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, teammate_ids
from tandem.core.models import User
from tandem.field.models import Attachment, FollowUp, Visit, VisitPlan, VisitTier


def visit_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if action == "view":
        if can(user, "see_every_customer"):
            return ALL
        return Q(rep_id__in=teammate_ids(user)) if can(user, "visit_accounts") else NONE
    if action == "change" and can(user, "visit_accounts"):
        return Q(rep_id=user.pk)
    return NONE


def _through_visit(rule_user: User, action: Action) -> Q | _Everything:
    condition = visit_rule(rule_user, action)
    if isinstance(condition, _Everything):
        return ALL
    if condition == NONE:
        return NONE
    return Q(visit__in=Visit.objects.filter(condition))


def plan_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "manage_visit_plans"):
        return ALL
    if action == "view" and can(user, "see_every_customer"):
        return ALL
    if action == "view" and can(user, "visit_accounts"):
        return Q(rep_id__in=teammate_ids(user))
    return NONE


def tier_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "manage_visit_plans"):
        return ALL
    return ALL if action == "view" else NONE


def register_scopes() -> None:
    register(Visit, visit_rule)
    register(Attachment, _through_visit)
    register(FollowUp, _through_visit)
    register(VisitPlan, plan_rule)
    register(VisitTier, tier_rule)
