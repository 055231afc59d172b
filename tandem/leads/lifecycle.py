"""The lifecycle of a contact: subscriber → lead → MQL → SAL → SQL → opportunity → customer,
plus recycled and disqualified. The only code that changes `Contact.lifecycle_stage` once a
contact exists: pages, the API, sales, imports and hand-offs all call `lifecycle_move` (or
`lifecycle_correct`) through `tandem.leads.services`; `crm.services.contact_update` refuses the
field.

Allowed moves:
- forward along the funnel, possibly skipping stages (a quote request makes a lead an MQL, a won
  deal makes an SQL a customer);
- from any stage but customer to recycled or disqualified (recycled → disqualified too);
- from recycled or disqualified back to lead or MQL (re-engagement);
- customer → opportunity (a new deal with an existing customer).

`lifecycle_correct` is for a source that states where a contact is (an import from another
system, the undo of an import): any stage may follow any other, with the same history.

Invariants:
- every change is one transaction: the contact (via `crm.services.contact_stage_write`,
  audited), the closing of the open `StageHistory` row and the opening of the next, and a
  timeline touchpoint (channel "lifecycle") saying who moved it and why;
- moving to the stage the contact is already in changes nothing and returns False;
- the time in each stage is the sum of its closed stays plus the open one up to now.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import Department
from tandem.crm import services as crm
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import StageHistory

S = LifecycleStage
FUNNEL = [S.SUBSCRIBER, S.LEAD, S.MQL, S.SAL, S.SQL, S.OPPORTUNITY, S.CUSTOMER]
OUT_OF_FUNNEL = {S.RECYCLED, S.DISQUALIFIED}


def is_allowed(current: str, target: str) -> bool:
    if current == target:
        return True
    if target in OUT_OF_FUNNEL:
        return current != S.CUSTOMER and not (current == S.DISQUALIFIED and target == S.RECYCLED)
    if current in OUT_OF_FUNNEL:
        return target in (S.LEAD, S.MQL)
    if current == S.CUSTOMER:
        return target == S.OPPORTUNITY
    return FUNNEL.index(S(target)) > FUNNEL.index(S(current))


def allowed_targets(current: str) -> list[str]:
    return [s for s in S.values if s != current and is_allowed(current, s)]


@transaction.atomic
def lifecycle_move(
    *,
    actor: Actor,
    contact: Contact,
    stage: str,
    reason: str,
    at: dt.datetime | None = None,
) -> bool:
    """Move the contact to `stage`; returns whether it moved. Raises InvalidInput if not allowed."""
    return _change(actor=actor, contact=contact, stage=stage, reason=reason, at=at, rules=True)


@transaction.atomic
def lifecycle_correct(
    *,
    actor: Actor,
    contact: Contact,
    stage: str,
    reason: str,
    at: dt.datetime | None = None,
) -> bool:
    """Set the stage a trusted source states (an import, its undo), even against the funnel's
    order; returns whether it changed. History and timeline as for `lifecycle_move`."""
    return _change(actor=actor, contact=contact, stage=stage, reason=reason, at=at, rules=False)


def _change(
    *,
    actor: Actor,
    contact: Contact,
    stage: str,
    reason: str,
    at: dt.datetime | None,
    rules: bool,
) -> bool:
    if stage not in S.values:
        raise InvalidInput({"stage": [_("%(stage)s is not a lifecycle stage") % {"stage": stage}]})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": [_("Say why the stage changes.")]})
    if len(reason) > 500:
        raise InvalidInput({"reason": [_("At most 500 characters.")]})
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    current = locked.lifecycle_stage
    if current == stage:
        return False
    if rules and not is_allowed(current, stage):
        raise InvalidInput(
            {
                "stage": [
                    _("A contact cannot move from %(from)s to %(to)s.")
                    % {"from": S(current).label, "to": S(stage).label}
                ]
            },
            code="transition_not_allowed",
        )
    now = at or timezone.now()
    open_row = StageHistory.objects.filter(contact=locked, left_at__isnull=True).first()
    if open_row is None:
        # The first recorded move: the stay so far began when the contact was created.
        open_row = StageHistory.objects.create(
            contact=locked, stage=current, entered_at=min(locked.created_at, now)
        )
    open_row.left_at = now
    open_row.save(update_fields=["left_at"])
    StageHistory.objects.create(
        contact=locked, stage=stage, entered_at=now, changed_by=actor.user, reason=reason
    )
    crm.contact_stage_write(actor=actor, contact=locked, stage=stage)
    department = (actor.user.department if actor.user else None) or Department.MARKETING
    crm.touchpoint_record(
        channel="lifecycle",
        kind="lifecycle_stage_changed",
        department=department,
        contact=locked,
        occurred_at=now,
        actor=actor.user,
        source="tandem",
        properties={"from": current, "to": stage, "reason": reason},
    )
    contact.lifecycle_stage = stage
    return True


def time_in_stages(contact: Contact, now: dt.datetime | None = None) -> dict[str, float]:
    """Seconds spent in each stage (stages never entered are absent)."""
    now = now or timezone.now()
    totals: dict[str, float] = {}
    rows = StageHistory.objects.filter(contact=contact).values_list(
        "stage", "entered_at", "left_at"
    )
    for stage, entered, left in rows:
        totals[stage] = totals.get(stage, 0.0) + ((left or now) - entered).total_seconds()
    if not totals:
        totals[contact.lifecycle_stage] = (now - contact.created_at).total_seconds()
    return totals
