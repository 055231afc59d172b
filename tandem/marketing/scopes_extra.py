"""Scope rules for campaigns, content, events and social posts (imported by `models`).

- campaigns, events, social posts, their costs, registrations and statistics: marketers, the head
  and admins, like the rest of marketing (reps: nothing);
- content assets: every active role may view them (sales uses the same library); only
  marketers, the head and admins may change or delete them.
Fails closed like every rule: an unknown role sees nothing. The role sets are defined once, in
`tandem.marketing.scopes`.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, register
from tandem.core.models import User
from tandem.marketing.scopes import MARKETING_ROLES, READERS, marketing_rule

__all__ = ["MARKETING_ROLES", "READERS", "content_rule", "marketing_only", "register_extra_scopes"]
marketing_only = marketing_rule


def content_rule(user: User, action: Action) -> Q | _Everything:
    if user.is_superuser or user.role in MARKETING_ROLES:
        return ALL
    if action == "view" and user.role in READERS:
        return ALL
    return NONE


def register_extra_scopes() -> None:
    from tandem.marketing.campaigns import models as c
    from tandem.marketing.content import models as content
    from tandem.marketing.events import models as ev
    from tandem.marketing.social import models as social

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
