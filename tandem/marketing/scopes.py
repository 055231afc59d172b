"""Who sees marketing records: marketers, the head and admins see all of them; reps none.

This module is the one definition of the marketing role sets (`MARKETING_ROLES`, `READERS`):
`scopes_extra`, the pages, the API and the tests import them from here.

Fails closed: any other role (or a model added here later without a rule) sees nothing.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, register
from tandem.core.models import Role, User

# Who works in marketing: every marketing page, record and API call.
MARKETING_ROLES = frozenset({Role.MARKETER, Role.HEAD, Role.ADMIN})
# Who may read the content library as well (sales uses it): everyone active.
READERS = MARKETING_ROLES | {Role.SALES_REP, Role.FIELD_REP}


def is_marketer(user: object) -> bool:
    return isinstance(user, User) and (user.is_superuser or user.role in MARKETING_ROLES)


def marketing_rule(user: User, action: Action) -> Q | _Everything:
    if user.is_superuser or user.role in MARKETING_ROLES:
        return ALL
    return NONE


def register_scopes() -> None:
    from tandem.marketing import models as m  # lazily: models imports scopes_extra, which us

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
