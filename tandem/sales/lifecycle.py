"""The seam to the leads app: lifecycle changes and hand-offs that sales events cause.

Sales does not own the lifecycle. When the leads app is installed, sales calls its
`lifecycle.lifecycle_move` (and `services.handoff_request_from_quote` for a buyer who asks to talk
to a rep); until then it falls back to the customer record's own service
(`crm.services.contact_update`), so the contact's stage is right either way. Each hook is one
function here, so wiring the leads app is a one-line change.

Invariants:
- a contact is never moved *back* by sales: an open deal lifts a contact to "opportunity" only
  from an earlier stage, a won deal lifts them to "customer";
- these helpers run inside the caller's transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.apps import apps

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage

BEFORE_OPPORTUNITY = {
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SAL,
    LifecycleStage.SQL,
    LifecycleStage.RECYCLED,
    LifecycleStage.DISQUALIFIED,
}


def _leads_function(module_name: str, name: str) -> Callable[..., Any] | None:
    if not apps.is_installed("tandem.leads"):
        return None
    try:
        module = importlib.import_module(f"tandem.leads.{module_name}")
    except ImportError:
        return None
    fn = getattr(module, name, None)
    return fn if callable(fn) else None


def set_lifecycle(*, actor: Actor, contact: Contact, stage: str, reason: str) -> None:
    """Move the contact to `stage` unless it would move them back (see module docstring)."""
    current = contact.lifecycle_stage
    if stage == LifecycleStage.OPPORTUNITY and current not in BEFORE_OPPORTUNITY:
        return
    if stage == current:
        return
    move = _leads_function("lifecycle", "lifecycle_move")
    allowed = _leads_function("lifecycle", "is_allowed")
    if move is not None and allowed is not None:
        if allowed(current, stage):
            move(actor=actor, contact=contact, stage=stage, reason=reason)
        return
    crm.contact_update(actor=actor, contact=contact, lifecycle_stage=stage)


def request_handoff(*, actor: Actor, contact: Contact, deal_id: int, note: str) -> bool:
    """Ask the leads app to route this buyer to a rep; False when it offers no hand-off yet."""
    handoff = _leads_function("services", "handoff_request_from_quote")
    if handoff is None:
        return False
    handoff(contact_id=contact.pk, actor=actor, note=note[:1000], source_ref=f"deal:{deal_id}")
    return True
