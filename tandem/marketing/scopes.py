"""Who sees marketing records: marketers, the head and admins see all of them; reps none.

Fails closed: any other role (or a model added here later without a rule) sees nothing.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, register
from tandem.core.models import Role, User
from tandem.marketing import models as m

MARKETING_ROLES = {Role.MARKETER, Role.HEAD, Role.ADMIN}


def marketing_rule(user: User, action: Action) -> Q | _Everything:
    if user.is_superuser or user.role in MARKETING_ROLES:
        return ALL
    return NONE


def register_scopes() -> None:
    for model in (
        m.SubscriptionType,
        m.Segment,
        m.StaticMember,
        m.SegmentMembership,
        m.SegmentEvent,
        m.Suppression,
        m.EmailTemplate,
        m.EmailSend,
        m.EmailRecipient,
    ):
        register(model, marketing_rule)
