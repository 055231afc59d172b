"""What other apps may call in marketing (the app-boundary contract allows `services`).

Tracking's website forms do not import marketing: tracking defines the double opt-in it needs
(`tracking.services.DoubleOptIn`) and marketing registers its one implementation
(`consent.WebsiteFormOptIn`) in `MarketingConfig.ready`.

The demo loader calls `ensure_default_subscription_types()` (idempotent with migration 0007) and
writes its marketing objects through the sub-apps' services re-exported here (`campaigns`,
`content`, `email` (templates and sends), `events`, `event_imports`, `segments`, `social`): the
app-boundary contract lets other apps import only `tandem.marketing.services`, not
`tandem.marketing.<sub-app>.services`.
"""

from __future__ import annotations

from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.content import services as content
from tandem.marketing.email import sending as email
from tandem.marketing.events import imports as event_imports
from tandem.marketing.events import services as events
from tandem.marketing.models import SubscriptionType
from tandem.marketing.segments import services as segments
from tandem.marketing.social import services as social
from tandem.marketing.subscriptions.defaults import ensure_defaults

__all__ = [
    "campaigns",
    "content",
    "email",
    "ensure_default_subscription_types",
    "event_imports",
    "events",
    "segments",
    "social",
]


def ensure_default_subscription_types() -> int:
    """Create the default subscription types that are missing (by key); returns how many."""
    return ensure_defaults(SubscriptionType)
