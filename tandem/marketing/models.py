"""Marketing's models, each defined in its sub-app and imported here so Django registers them
under the one app label "marketing" (and other apps import them from here, as the app-boundary
contract allows):

- `subscriptions.models`: subscription types, where each consent-ledger row came from;
- `segments.models`: segments, static lists, members, entered/left events, reactions;
- `email.models`: templates, sends, recipients, suppressions;
- `campaigns.models`: campaigns and their cost lines;
- `content.models`: the content library;
- `events.models`: webinars and conferences, registrations, invitations, reminders, lead rules;
- `social.models`: social posts, their statistics, the connections to the networks.

Each module states its own invariants.
"""

from __future__ import annotations

from tandem.marketing.campaigns.models import Campaign, CampaignChannel, CampaignCost
from tandem.marketing.content.models import AssetKind, ContentAsset
from tandem.marketing.email.models import (
    EmailRecipient,
    EmailSend,
    EmailTemplate,
    Suppression,
    new_token,
)
from tandem.marketing.events.models import (
    EventKind,
    EventLeadOutcome,
    EventLeadRule,
    EventReminder,
    InvitationSent,
    MarketingEvent,
    Registration,
    RegistrationStatus,
)
from tandem.marketing.segments.models import (
    ReactionDelivery,
    Segment,
    SegmentEvent,
    SegmentMembership,
    SegmentReaction,
    StaticMember,
)
from tandem.marketing.social.models import (
    Network,
    SocialConnection,
    SocialPost,
    SocialPostStats,
)
from tandem.marketing.subscriptions.models import ConsentSource, SubscriptionType

__all__ = [
    "AssetKind",
    "Campaign",
    "CampaignChannel",
    "CampaignCost",
    "ConsentSource",
    "ContentAsset",
    "EmailRecipient",
    "EmailSend",
    "EmailTemplate",
    "EventKind",
    "EventLeadOutcome",
    "EventLeadRule",
    "EventReminder",
    "InvitationSent",
    "MarketingEvent",
    "Network",
    "ReactionDelivery",
    "Registration",
    "RegistrationStatus",
    "Segment",
    "SegmentEvent",
    "SegmentMembership",
    "SegmentReaction",
    "SocialConnection",
    "SocialPost",
    "SocialPostStats",
    "StaticMember",
    "SubscriptionType",
    "Suppression",
    "new_token",
]
