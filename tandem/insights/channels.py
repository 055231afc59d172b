"""The channel a record came through: its first touch.

    contact_channel("contact_id")   # the channel of a contact's first touch, as an expression
    account_channel("account_id")   # of an account's (a deal's channel is its account's)
    visitor_channel("anonymous_id") # of an anonymous visitor's

Definition (docs/insights.md, "Channels"): a contact's channel is the `channel` of its earliest
touchpoint, bots and Tandem's own bookkeeping rows (channel ``lifecycle``: stage changes) left
out, earliest by `occurred_at`, then by id; page views traced to no source (channel
``website``) count only when the record has no other touch. Touches a visitor made before
being identified count, since identification re-points them to the contact. An account's
channel is that of the earliest touch recorded on the account (any of its contacts'); a
deal's and a hand-off's is the channel of its account and its contact. A record without any
such touch has the channel ``none``.

Invariants:
- the channel depends only on the timeline (append-only): a record's channel changes only when
  an earlier touch is adopted by identity resolution or reclassified by the channel rules;
- the expressions read touchpoints of the record they are asked about; a viewer who may see a
  contact or account may see its touchpoints (crm's touchpoint rule), so they reveal nothing
  the scoped record does not.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from tandem.crm.models import Touchpoint
from tandem.tracking.services import CHANNELS

NONE = "none"  # the channel of a record without a touch
BOOKKEEPING = ("lifecycle",)
# A page view the channel rules traced to no source (no UTM code, no known referrer) says only
# that someone read the website, not where they came from: a record's channel is its first
# touch on any other channel, and `website` only when it has no other.
UNSOURCED = ("website",)
CHANNEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,39}$")
M = TypeVar("M", bound=Any)


def _first(**match: Any) -> Coalesce:
    touches = Touchpoint.objects.filter(is_bot=False, **match).order_by("occurred_at", "id")
    sourced = touches.exclude(channel__in=(*BOOKKEEPING, *UNSOURCED)).values("channel")[:1]
    first = touches.exclude(channel__in=BOOKKEEPING).values("channel")[:1]
    return Coalesce(Subquery(sourced), Subquery(first), Value(NONE))


def contact_channel(field: str = "contact_id") -> Coalesce:
    """The first-touch channel of the contact whose id is in `field` of the outer query."""
    return _first(contact_id=OuterRef(field))


def account_channel(field: str = "account_id") -> Coalesce:
    """The first-touch channel of the account whose id is in `field` of the outer query."""
    return _first(account_id=OuterRef(field))


def visitor_channel(field: str = "anonymous_id") -> Coalesce:
    """The first-touch channel of the anonymous id in `field` of the outer query."""
    return _first(anonymous_id=OuterRef(field))


def narrow(qs: QuerySet[M], channel: str, expression: Coalesce) -> QuerySet[M]:
    """`qs` limited to the rows whose channel (by `expression`) is `channel`; all of them when
    no channel is given."""
    if not channel:
        return qs
    return qs.alias(first_channel=expression).filter(first_channel=channel)


def annotated(qs: QuerySet[M], by_channel: bool, expression: Coalesce) -> QuerySet[Any]:
    """`qs` with a `channel_key` annotation: the channel when grouping by it, else ""."""
    return qs.annotate(channel_key=expression if by_channel else Value(""))


def is_channel(value: str) -> bool:
    """Whether `value` is shaped like a channel name (lower-case letters, digits, _ . -)."""
    return bool(CHANNEL_PATTERN.match(value))


def known() -> list[str]:
    """The channels the tracking rules assign, then ``none``: the choices offered on pages."""
    return [*CHANNELS, NONE]
