"""What sales events do to a contact's lifecycle, through the leads app that owns it.

Sales does not own the lifecycle: it calls `tandem.leads.services.lifecycle_move` (which writes
the stage history and the timeline) and `handoff_request_from_quote` for a buyer who asks to
talk to a rep.

Invariants:
- a contact is never moved *back* by sales: an open deal lifts a contact to "opportunity" only
  from an earlier stage, a won deal lifts them to "customer"; a move the lifecycle does not
  allow is skipped, never forced;
- these helpers run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt

from tandem.core.audit import Actor
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads import services as leads

BEFORE_OPPORTUNITY = {
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SAL,
    LifecycleStage.SQL,
    LifecycleStage.RECYCLED,
    LifecycleStage.DISQUALIFIED,
}


def set_lifecycle(
    *, actor: Actor, contact: Contact, stage: str, reason: str, at: dt.datetime | None = None
) -> None:
    """Move the contact to `stage` unless it would move them back (see module docstring)."""
    current = contact.lifecycle_stage
    if stage == LifecycleStage.OPPORTUNITY and current not in BEFORE_OPPORTUNITY:
        return
    if stage != current and leads.is_allowed(current, stage):
        leads.lifecycle_move(actor=actor, contact=contact, stage=stage, reason=reason, at=at)


def request_handoff(*, actor: Actor, contact: Contact, deal_id: int, note: str) -> bool:
    """Route this buyer to a rep through the leads app's hand-off; True once requested."""
    leads.handoff_request_from_quote(
        contact_id=contact.pk, actor=actor, note=note[:1000], source_ref=f"deal:{deal_id}"
    )
    return True
