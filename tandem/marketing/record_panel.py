"""The marketing panel on a contact's page (crm's record panels): the segments and static
lists the contact is in, and its subscriptions with a link to the consent history.

Invariants:
- segments and lists are marketing records: shown only to whoever `can(user,
  "use_marketing")` (through `scoped`), never to reps;
- a dynamic segment's members are as of its last refresh (`SegmentMembership`); a static list's
  are its `StaticMember` rows;
- subscriptions are the contact's, so whoever sees the contact sees them (as the consent
  history page does): the current state per active subscription type is the latest row of
  the consent ledger (`tracking.services.consent_state`), "not subscribed" without one.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string

from tandem.core.access import can, request_user, scoped
from tandem.crm.models import Contact
from tandem.marketing.consent import SUBSCRIBED
from tandem.marketing.models import Segment, SegmentMembership, StaticMember, SubscriptionType
from tandem.tracking.models import ConsentRecord
from tandem.tracking.services import consent_state

LIMIT = 50


def marketing_panel(request: HttpRequest, record: Model) -> str:
    """The "Segments and subscriptions" card of a contact."""
    if not isinstance(record, Contact):
        return ""
    user = request_user(request)
    segments: list[tuple[Segment, object]] = []
    lists: list[tuple[Segment, object]] = []
    marketing = can(user, "use_marketing")
    if marketing:
        segments = [
            (m.segment, m.entered_at)
            for m in scoped(user, SegmentMembership)
            .filter(contact=record, segment__kind=Segment.Kind.DYNAMIC)
            .select_related("segment")
            .order_by("segment__name", "segment_id")[:LIMIT]
        ]
        lists = [
            (m.segment, m.added_at)
            for m in scoped(user, StaticMember)
            .filter(contact=record)
            .select_related("segment")
            .order_by("segment__name", "segment_id")[:LIMIT]
        ]
    states = dict(ConsentRecord.State.choices)
    subscriptions = []
    for kind in SubscriptionType.objects.filter(active=True).order_by("name"):
        state = consent_state(contact_id=record.pk, purpose=kind.key)
        subscriptions.append(
            {
                "name": kind.display_name,
                "subscribed": state in SUBSCRIBED,
                "state": states.get(state, ""),
            }
        )
    return render_to_string(
        "marketing/_record_marketing.html",
        {
            "contact": record,
            "marketing": marketing,
            "segments": segments,
            "lists": lists,
            "subscriptions": subscriptions,
        },
        request=request,
    )
