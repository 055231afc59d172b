"""Marketers who meet buyers: a marketer asks to join a rep's call, meeting or field visit on an
account; the rep accepts or declines; when it has happened, the joint touch is on the timeline
for both departments and the marketer records what they learned as insight notes.

Invariants:
- only the rep who owns the account (or a teammate) can be asked, and only that rep answers;
- `joint_done` writes two touchpoints through crm's `touchpoint_record` — one for sales (actor =
  the rep), one for marketing (actor = the marketer), both with `properties.joint` = the joint
  touch's id — and never twice (the status moves accepted -> done under a row lock);
- every step writes an audit entry in its transaction; the other person is notified.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import can, teammate_ids
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.enablement.models import InsightNote, JointKind, JointStatus, JointTouch
from tandem.leads import services as leads

# a joint touch on the timeline as the contact page logs the same activity (crm's activity
# kinds and channels): a call is a `sales_call` on the phone
TOUCH = {"call": ("sales_call", "phone"), "meeting": ("meeting", "meeting"),
         "field_visit": ("field_visit", "field_visit")}  # fmt: skip


def _url(joint: JointTouch) -> str:
    return reverse("enablement:joint_list") + f"#joint-{joint.pk}"


@transaction.atomic
def joint_request(
    *,
    actor: Actor,
    account: Account,
    rep: User,
    kind: str,
    planned_at: dt.datetime,
    contact: Contact | None = None,
    purpose: str = "",
) -> JointTouch:
    if actor.user is None or not can(actor.user, "join_sales_meetings"):
        raise InvalidInput(_("Only marketing can ask to join a meeting."), code="forbidden")
    errors: dict[str, list[str]] = {}
    if kind not in JointKind.values:
        errors["kind"] = [_("Choose a call, a meeting or a field visit.")]
    try:
        near = abs(planned_at - timezone.now()) <= dt.timedelta(days=730)
    except (OverflowError, TypeError):
        near = False
    if not near:
        errors["planned_at"] = [_("Plan it within two years of today.")]
    owner = account.owner
    if owner is None or rep.pk not in teammate_ids(owner):
        errors["rep_id"] = [_("Ask the rep who owns the account or a teammate.")]
    if contact is not None and contact.account_id != account.pk:
        errors["contact_id"] = [_("The contact is not at this account.")]
    if errors:
        raise InvalidInput(errors)
    joint = JointTouch.objects.create(
        marketer=actor.user,
        rep=rep,
        account=account,
        contact=contact,
        kind=kind,
        planned_at=planned_at,
        purpose=purpose[:300],
    )
    record_change(actor=actor, action="create", instance=joint, changes=diff({}, snapshot(joint)))
    who, name = actor.user, account.name
    leads.notify(
        user=rep,
        kind="joint_request",
        text=lambda: (
            _("%(m)s asks to join your %(k)s with %(a)s.")
            % {"m": who.get_full_name() or who.username, "k": joint.get_kind_display(), "a": name}
        ),
        url=_url(joint),
    )
    return joint


def _move(actor: Actor, joint: JointTouch, allowed: set[str], status: str) -> JointTouch:
    locked = JointTouch.objects.select_for_update().get(pk=joint.pk)
    if locked.status not in allowed:
        raise InvalidInput(
            _("This joint touch is %(s)s.") % {"s": locked.get_status_display()}, code="conflict"
        )
    before = snapshot(locked, ["status"])
    locked.status = status
    locked.save(update_fields=["status"])
    record_change(
        actor=actor, action="update", instance=locked, changes=diff(before, {"status": status})
    )
    return locked


@transaction.atomic
def joint_answer(*, actor: Actor, joint: JointTouch, accept: bool) -> JointTouch:
    """The rep accepts or declines the marketer's request."""
    if actor.user is None or actor.user.pk != joint.rep_id:
        raise InvalidInput(_("Only the rep who was asked can answer."), code="forbidden")
    status = JointStatus.ACCEPTED if accept else JointStatus.DECLINED
    locked = _move(actor, joint, {JointStatus.REQUESTED}, status)
    label = locked.get_status_display
    leads.notify(
        user=locked.marketer,
        kind="joint_answer",
        text=lambda: _("Your request to join is %(s)s.") % {"s": label()},
        url=_url(locked),
    )
    return locked


@transaction.atomic
def joint_done(*, actor: Actor, joint: JointTouch, note: str = "") -> JointTouch:
    """The meeting happened: one touchpoint for each department, and the marketer's insight."""
    if actor.user is None or actor.user.pk not in (joint.rep_id, joint.marketer_id):
        raise InvalidInput(_("Only the rep or the marketer can close it."), code="forbidden")
    locked = _move(actor, joint, {JointStatus.ACCEPTED}, JointStatus.DONE)
    for department, person in (
        (Department.SALES, locked.rep),
        (Department.MARKETING, locked.marketer),
    ):
        crm.touchpoint_record(
            channel=TOUCH[locked.kind][1],
            kind=TOUCH[locked.kind][0],
            department=department,
            contact=locked.contact,
            account=locked.account,
            occurred_at=locked.planned_at,
            actor=person,
            source="enablement",
            properties={
                "joint": locked.pk,
                "with": locked.marketer_id if person == locked.rep else locked.rep_id,
            },
        )
    if note.strip():
        insight_add(
            actor=actor, account=locked.account, text=note, joint=locked, at=locked.planned_at
        )
    return locked


@transaction.atomic
def insight_add(
    *,
    actor: Actor,
    account: Account,
    text: str,
    joint: JointTouch | None = None,
    at: dt.datetime | None = None,
) -> InsightNote:
    if actor.user is None:
        raise InvalidInput(_("Only a person can write an insight."))
    if not text.strip():
        raise InvalidInput({"text": [_("Write what you learned.")]})
    note = InsightNote.objects.create(
        account=account,
        joint=joint,
        author=actor.user,
        text=text.strip()[:4000],
        created_at=at or timezone.now(),
    )
    record_change(actor=actor, action="create", instance=note, changes=diff({}, snapshot(note)))
    return note
