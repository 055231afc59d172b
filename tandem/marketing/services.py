"""What other apps may call in marketing (the app-boundary contract allows `services`).

Tracking's website forms use it so that double opt-in has one implementation (`consent`):
- `requires_confirmation(purpose)`: True when a subscription type with that key asks for double
  opt-in (a form subscribing people to it must then ask for confirmation, whatever the form's own
  flag says);
- `request_confirmation(...)`: email the signed confirmation link for a pending ledger row after
  commit;
- `confirm_link(...)` / `confirm(...)`: open a confirmation link (marketing's or a link tracking
  signed before).

The demo loader calls `ensure_default_subscription_types()` (idempotent with migration 0007) and
writes its marketing objects through the sub-apps' services re-exported here (`campaigns`,
`content`, `email` (templates and sends), `events`, `event_imports`, `segments`, `social`): the
app-boundary contract lets other apps import only `tandem.marketing.services`, not
`tandem.marketing.<sub-app>.services`.
"""

from __future__ import annotations

from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.consent import confirm, confirm_link, request_confirmation
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
    "confirm",
    "confirm_link",
    "content",
    "email",
    "ensure_default_subscription_types",
    "event_imports",
    "events",
    "request_confirmation",
    "requires_confirmation",
    "segments",
    "social",
    "type_name",
]


def ensure_default_subscription_types() -> int:
    """Create the default subscription types that are missing (by key); returns how many."""
    return ensure_defaults(SubscriptionType)


def requires_confirmation(purpose: str) -> bool:
    return SubscriptionType.objects.filter(key=purpose, double_opt_in=True).exists()


def type_name(purpose: str) -> str:
    """The subscription type's name in the current language ("" when no type has that key)."""
    subscription = SubscriptionType.objects.filter(key=purpose).first()
    return subscription.display_name if subscription else ""
