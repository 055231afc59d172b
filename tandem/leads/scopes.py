"""Who sees which lead records (registered with `tandem.core.access`).

- hand-offs: head and admin all; marketers all (they measure lead quality), read only; sales reps
  the hand-offs assigned to them (and may change those); field reps none;
- disputes: head and admin all; anyone else the disputes they opened or take part in (opened,
  wrote in, or were @mentioned); only the head and admin change (decide) them;
- notifications: each user only their own;
- scores and stage history: as the contact they belong to (crm's contact rule);
- scoring models, territories, targets: every staff member sees them; head and admin change them.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, scoped
from tandem.core.models import Role, User
from tandem.crm.models import Contact
from tandem.leads.models import (
    ContactScore,
    Dispute,
    Handoff,
    MqlTarget,
    Notification,
    PredictiveModel,
    ScoringJob,
    ScoringModel,
    StageHistory,
    Territory,
)


def handoff_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if user.role == Role.MARKETER:
        return ALL if action == "view" else NONE
    if user.role == Role.SALES_REP:
        return NONE if action == "delete" else Q(assigned_to_id=user.pk)
    return NONE


def dispute_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if action != "view" or not can(user, "view_records"):
        return NONE
    taking_part = Dispute.participants.through.objects.filter(
        dispute_id=OuterRef("pk"), user_id=user.pk
    )
    return Q(opened_by_id=user.pk) | Q(Exists(taking_part))


def notification_rule(user: User, action: Action) -> Q | _Everything:
    return Q(user_id=user.pk) if action != "delete" else NONE


def _by_contact(user: User, action: Action) -> Q | _Everything:
    if action != "view":
        return NONE
    if can(user, "see_every_customer"):
        return ALL
    return Q(contact_id__in=scoped(user, Contact).values("pk"))


def _settings_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    return ALL if action == "view" and can(user, "view_records") else NONE


def register_scopes() -> None:
    register(Handoff, handoff_rule)
    register(Dispute, dispute_rule)
    register(Notification, notification_rule)
    register(ContactScore, _by_contact)
    register(StageHistory, _by_contact)
    for model in (ScoringModel, Territory, MqlTarget, PredictiveModel, ScoringJob):
        register(model, _settings_rule)
