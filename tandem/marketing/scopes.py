"""Who sees marketing records: the scope rules of every marketing model, and the gate of its
pages and API operations.

- segments, subscription types, email, campaigns, events, social posts and everything under
  them: whoever `can(user, "use_marketing")` (marketers, the head, admins); reps see nothing;
- content assets: whoever `can(user, "read_content")` may view them (sales uses the same
  library); only `use_marketing` may change or delete them;
- social network connections (credentials): whoever `can(user, "manage_social")`.

The role question is `tandem.core.access.can()`'s, the one permission model; these rules only
decide per-record visibility. Fails closed: a user without the capability (or a model added
later without a rule) sees nothing.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, request_user
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError
from tandem.core.models import User


def marketer(request: HttpRequest) -> User:
    """The signed-in user of a marketing page; without `use_marketing` the page does not exist
    for them (404, like a record they may not see)."""
    user = request_user(request)
    if not can(user, "use_marketing"):
        raise Http404
    return user


def api_marketer(request: HttpRequest, *, write: bool = False) -> ApiCaller:
    """The caller of a marketing API operation: `use_marketing`, and a writing token to write
    (403 otherwise)."""
    who = caller(request)
    if not can(who.user, "use_marketing") or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("Segments are for marketing."))
    return who


def marketing_rule(user: User, action: Action) -> Q | _Everything:
    return ALL if can(user, "use_marketing") else NONE


def content_rule(user: User, action: Action) -> Q | _Everything:
    if can(user, "use_marketing"):
        return ALL
    if action == "view" and can(user, "read_content"):
        return ALL
    return NONE


def social_connection_rule(user: User, action: Action) -> Q | _Everything:
    return ALL if can(user, "manage_social") else NONE


def register_scopes() -> None:
    from tandem.marketing import models as m  # lazily: called from the app's ready()

    for model in (
        m.SubscriptionType,
        m.Segment,
        m.StaticMember,
        m.SegmentMembership,
        m.SegmentEvent,
        m.SegmentReaction,
        m.ReactionDelivery,
        m.Suppression,
        m.EmailTemplate,
        m.EmailSend,
        m.EmailRecipient,
        m.Campaign,
        m.CampaignCost,
        m.MarketingEvent,
        m.Registration,
        m.InvitationSent,
        m.EventReminder,
        m.SocialPost,
        m.SocialPostStats,
    ):
        register(model, marketing_rule)
    register(m.SocialConnection, social_connection_rule)
    register(m.ContentAsset, content_rule)
