"""Scope rules for campaigns, content, events and social posts (imported by `models`).

- campaigns, events, social posts, their costs, registrations and statistics: marketers, the head
  and admins, like the rest of marketing (reps: nothing);
- content assets: every active role may view them (sales uses the same library); only
  marketers, the head and admins may change or delete them.
Fails closed like every rule: an unknown role sees nothing.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, register
from tandem.core.models import Role, User

MARKETING_ROLES = {Role.MARKETER, Role.HEAD, Role.ADMIN}
READERS = MARKETING_ROLES | {Role.SALES_REP, Role.FIELD_REP}


def marketing_only(user: User, action: Action) -> Q | _Everything:
    if user.is_superuser or user.role in MARKETING_ROLES:
        return ALL
    return NONE


def content_rule(user: User, action: Action) -> Q | _Everything:
    if user.is_superuser or user.role in MARKETING_ROLES:
        return ALL
    if action == "view" and user.role in READERS:
        return ALL
    return NONE


def register_extra_scopes() -> None:
    from tandem.marketing import models_campaigns as c
    from tandem.marketing import models_content as content
    from tandem.marketing import models_events as ev
    from tandem.marketing import models_social as social

    for model in (
        c.Campaign,
        c.CampaignCost,
        ev.MarketingEvent,
        ev.Registration,
        ev.InvitationSent,
        ev.EventReminder,
        social.SocialPost,
        social.SocialPostStats,
    ):
        register(model, marketing_only)
    register(content.ContentAsset, content_rule)
