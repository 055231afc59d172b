"""Disputes between marketing and sales, mediated by the head in a thread with @mentions; the
head's decision changes the record.

What a dispute can be about, by record (`SUBJECTS_FOR`): a contact's lead quality or ownership,
an account's ownership, the credit for a deal, a hand-off (its quality, or the hand-off itself).

Invariants:
- a rep or a marketer opens a dispute about a record they can see; the opener and the record's
  other side (its owner, a hand-off's rep, when that is someone else) are participants and the
  other side and the heads are notified;
- a message's `@username` mentions notify those (active) users and make them participants;
- only the head or an admin decides; a dispute is decided once (a conditional UPDATE on status
  guards it), audited, and its effect is made in the same transaction by the owning service:
  * credit for a deal, upheld or split: the head's shares of the deal per department are
    recorded (`attribution.services.credit_adjustment_record`); attribution reports show them
    beside the model's credit with a link to the decision;
  * lead quality, upheld: the contact is recycled (`lifecycle_move` to "recycled", the reason
    citing the dispute; a customer cannot be recycled, so such a decision is refused) and the
    lead-quality page counts the dispute against the campaigns that brought the lead;
  * ownership, upheld or split: the record goes to the side the head names
    (`crm.services.contact_update` / `account_update`, audited);
  * a dismissed dispute changes nothing but the thread;
- opening and deciding each append a "dispute" touchpoint to the record's timeline (crm's one
  writer), and both sides are told of the decision.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.attribution import services as attribution
from tandem.core.access import can
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, LifecycleStage
from tandem.leads.models import (
    Dispute,
    DisputeMessage,
    DisputeOutcome,
    DisputeStatus,
    DisputeSubject,
    Handoff,
)
from tandem.leads.notify import notify
from tandem.leads.services import heads, lifecycle_move
from tandem.sales.models import Deal, DealContact

MENTION = re.compile(r"(?<![\w.@])@([\w.+-]{1,150})")
MAX_BODY = 5000
SUBJECTS_FOR: dict[str, tuple[str, ...]] = {
    "crm.contact": (DisputeSubject.LEAD_QUALITY, DisputeSubject.OWNERSHIP),
    "crm.account": (DisputeSubject.OWNERSHIP,),
    "sales.deal": (DisputeSubject.DEAL_CREDIT,),
    "leads.handoff": (DisputeSubject.LEAD_QUALITY, DisputeSubject.HANDOFF),
}
RECORD_PAGES = {
    "crm.contact": "crm:contact_detail",
    "crm.account": "crm:account_detail",
    "sales.deal": "sales:deal_detail",
    "leads.handoff": "leads:handoff_detail",
}
CHANGES_RECORD = (DisputeOutcome.UPHELD, DisputeOutcome.SPLIT)


def _url(dispute: Dispute) -> str:
    return reverse("leads:dispute_detail", args=[dispute.pk])


def subjects_for(target: models.Model) -> tuple[str, ...]:
    """The subjects a dispute about this kind of record may have."""
    return SUBJECTS_FOR.get(target._meta.label_lower, ())


def record_url(dispute: Dispute) -> str:
    """The page of the record the dispute is about ("" for a kind without one)."""
    name = RECORD_PAGES.get(f"{dispute.content_type.app_label}.{dispute.content_type.model}")
    return reverse(name, args=[dispute.object_id]) if name else ""


def record_owner(target: models.Model) -> User | None:
    """The record's side in a dispute: its owner (a hand-off: its rep)."""
    if isinstance(target, Handoff):
        return target.assigned_to
    owner = getattr(target, "owner", None)
    return owner if isinstance(owner, User) else None


def dispute_sides(dispute: Dispute) -> list[User]:
    """The people on either side: the opener, the participants and the record's owner."""
    people = {dispute.opened_by_id: dispute.opened_by}
    for person in dispute.participants.order_by("pk"):
        people.setdefault(person.pk, person)
    target = dispute.target
    owner = record_owner(target) if target is not None else None
    if owner is not None:
        people.setdefault(owner.pk, owner)
    return [p for p in people.values() if p.is_active and not p.sees_everything]


def mentioned_users(body: str) -> list[User]:
    names = {m.rstrip(".") for m in MENTION.findall(body)}
    if not names:
        return []
    return list(User.objects.filter(username__in=names, is_active=True).order_by("pk"))


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidInput({"body": [_("Write a message.")]})
    if len(body) > MAX_BODY:
        raise InvalidInput({"body": [_("At most %(n)d characters.") % {"n": MAX_BODY}]})
    return body


def _timeline(dispute: Dispute, *, kind: str, actor: Actor, note: str, at: dt.datetime) -> None:
    """A "dispute" touchpoint on the timeline of the record (a deal: its account and first
    contact; a hand-off: its contact)."""
    target = dispute.target
    contact: Contact | None = None
    account: Account | None = None
    if isinstance(target, Contact):
        contact = target
    elif isinstance(target, Account):
        account = target
    elif isinstance(target, Handoff):
        contact = target.contact
    elif isinstance(target, Deal):
        account = target.account
        first = DealContact.objects.filter(deal=target).order_by("id").first()
        contact = first.contact if first is not None else None
    if contact is None and account is None:
        return
    department = (actor.user.department if actor.user else None) or Department.MARKETING
    crm.touchpoint_record(
        channel="dispute",
        kind=kind,
        department=department,
        contact=contact,
        account=account,
        actor=actor.user,
        occurred_at=at,
        source="tandem",
        properties={
            "dispute": dispute.pk,
            "subject": dispute.subject,
            "outcome": dispute.outcome,
            "note": note[:500],
        },
    )


@transaction.atomic
def dispute_open(
    *,
    actor: Actor,
    subject: str,
    target: models.Model,
    summary: str,
    body: str = "",
    at: dt.datetime | None = None,
) -> Dispute:
    """Open a dispute about `target` (`at`: when, for a story told afterwards; default now)."""
    user = actor.user
    if user is None or not can(user, "open_disputes"):
        raise InvalidInput(_("Only staff can open a dispute."), code="forbidden")
    if subject not in subjects_for(target):
        raise InvalidInput({"subject": [_("Choose what the dispute is about.")]})
    summary = (summary or "").strip()
    if not summary or len(summary) > 500:
        raise InvalidInput({"summary": [_("A summary of 1 to 500 characters is required.")]})
    dispute = Dispute.objects.create(
        subject=subject,
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        target_label=str(target)[:200],
        opened_by=user,
        opened_at=at or timezone.now(),
        summary=summary,
    )
    other = record_owner(target)
    other_side = other if other is not None and other.is_active and other.pk != user.pk else None
    dispute.participants.add(user, *([other_side] if other_side else []))
    record_change(
        actor=actor, action="create", instance=dispute, changes=diff({}, snapshot(dispute))
    )
    if body.strip():
        dispute_post(actor=actor, dispute=dispute, body=body)
    _timeline(dispute, kind="dispute_opened", actor=actor, note=summary, at=dispute.opened_at)
    label = str(dispute)
    for head in heads():
        notify(
            user=head,
            kind="dispute_opened",
            url=_url(dispute),
            text=lambda: _("New dispute to mediate: %(d)s") % {"d": label},
            email_subject=lambda: _("Dispute: %(d)s") % {"d": label},
        )
    if other_side is not None:
        opener = user.get_full_name() or user.username
        notify(
            user=other_side,
            kind="dispute_opened",
            url=_url(dispute),
            text=lambda: (
                _("%(who)s opened a dispute about your record: %(d)s") % {"who": opener, "d": label}
            ),
            email_subject=lambda: _("Dispute: %(d)s") % {"d": label},
        )
    return dispute


@transaction.atomic
def dispute_post(*, actor: Actor, dispute: Dispute, body: str) -> DisputeMessage:
    user = actor.user
    if user is None:
        raise InvalidInput(_("Sign in to write."), code="forbidden")
    body = _clean_body(body)
    message = DisputeMessage.objects.create(
        dispute=dispute, author=user, body=body, created_at=timezone.now()
    )
    mentioned = [u for u in mentioned_users(body) if u.pk != user.pk]
    if mentioned:
        message.mentions.set(mentioned)
    dispute.participants.add(user, *mentioned)
    author = user.get_full_name() or user.username
    label = str(dispute)
    for person in mentioned:
        notify(
            user=person,
            kind="dispute_mention",
            url=_url(dispute),
            text=lambda: (
                _("%(who)s mentioned you in the dispute “%(d)s”.") % {"who": author, "d": label}
            ),
            email_subject=lambda: _("You were mentioned: %(d)s") % {"d": label},
        )
    return message


def _check_effect(
    dispute: Dispute,
    outcome: str,
    shares: Mapping[str, Any] | None,
    new_owner: User | None,
) -> dict[str, list[str]]:
    """What is wrong with the decision's effect fields (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    changes = outcome in CHANGES_RECORD
    target = dispute.target
    if dispute.subject == DisputeSubject.DEAL_CREDIT:
        if changes and not isinstance(target, Deal):
            errors["shares"] = [_("Credit can be adjusted only for a deal.")]
        elif changes and not shares:
            errors["shares"] = [_("Give each department's share of the deal.")]
        elif changes and shares:
            try:
                attribution.credit_shares_clean(shares)
            except InvalidInput as exc:
                errors.update(exc.errors)
        elif shares:
            errors["shares"] = [_("A dismissed dispute changes no credit.")]
    elif shares:
        errors["shares"] = [_("Shares are decided only in a dispute about credit.")]
    if dispute.subject == DisputeSubject.OWNERSHIP:
        sides = {p.pk for p in dispute_sides(dispute)}
        if changes and new_owner is None:
            errors["new_owner"] = [_("Choose who owns the record now.")]
        elif changes and new_owner is not None and new_owner.pk not in sides:
            errors["new_owner"] = [_("Choose one of the sides of the dispute.")]
        elif not changes and new_owner is not None:
            errors["new_owner"] = [_("A dismissed dispute changes no owner.")]
    elif new_owner is not None:
        errors["new_owner"] = [_("An owner is chosen only in a dispute about ownership.")]
    if dispute.subject == DisputeSubject.LEAD_QUALITY and outcome == DisputeOutcome.UPHELD:
        contact = target.contact if isinstance(target, Handoff) else target
        if isinstance(contact, Contact) and contact.lifecycle_stage == LifecycleStage.CUSTOMER:
            errors["outcome"] = [
                _("The lead is a customer now and cannot be recycled: dismiss or split.")
            ]
    return errors


def _apply(
    *,
    actor: Actor,
    dispute: Dispute,
    shares: Mapping[str, Any] | None,
    new_owner: User | None,
    at: dt.datetime,
) -> None:
    """The decision's effect on the record, through the owning services."""
    target = dispute.target
    if dispute.outcome not in CHANGES_RECORD:
        return
    if dispute.subject == DisputeSubject.DEAL_CREDIT and isinstance(target, Deal) and shares:
        attribution.credit_adjustment_record(
            actor=actor, deal=target, dispute=dispute, shares=shares, at=at
        )
    elif dispute.subject == DisputeSubject.LEAD_QUALITY:
        if dispute.outcome != DisputeOutcome.UPHELD:
            return
        contact = target.contact if isinstance(target, Handoff) else target
        if not isinstance(contact, Contact):
            return
        if contact.lifecycle_stage in (LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED):
            return
        lifecycle_move(
            actor=actor,
            contact=contact,
            stage=LifecycleStage.RECYCLED,
            reason=_("Lead quality dispute #%(n)d upheld") % {"n": dispute.pk},
            at=at,
        )
    elif dispute.subject == DisputeSubject.OWNERSHIP and new_owner is not None:
        if isinstance(target, Contact) and target.owner_id != new_owner.pk:
            crm.contact_update(actor=actor, contact=target, owner_id=new_owner.pk)
        elif isinstance(target, Account) and target.owner_id != new_owner.pk:
            crm.account_update(actor=actor, account=target, owner_id=new_owner.pk)
        Dispute.objects.filter(pk=dispute.pk).update(new_owner=new_owner)
        dispute.new_owner = new_owner


@transaction.atomic
def dispute_decide(
    *,
    actor: Actor,
    dispute: Dispute,
    outcome: str,
    decision: str,
    shares: Mapping[str, Any] | None = None,
    new_owner: User | None = None,
    at: dt.datetime | None = None,
) -> Dispute:
    """Decide the dispute and make its effect (see the module docstring); `shares` (credit:
    department -> share of 1) and `new_owner` (ownership: one of `dispute_sides`) only where
    the subject takes them."""
    user = actor.user
    if user is None or not user.sees_everything:
        raise InvalidInput(_("Only the head decides disputes."), code="forbidden")
    errors: dict[str, list[str]] = {}
    if outcome not in DisputeOutcome.values:
        errors["outcome"] = [_("Choose an outcome.")]
    decision = (decision or "").strip()
    if not decision or len(decision) > MAX_BODY:
        errors["decision"] = [_("Explain the decision (1 to 5000 characters).")]
    if not errors:
        errors = _check_effect(dispute, outcome, shares or None, new_owner)
    if errors:
        raise InvalidInput(errors)
    now = at or timezone.now()
    before = snapshot(dispute)
    decided = Dispute.objects.filter(pk=dispute.pk, status=DisputeStatus.OPEN).update(
        status=DisputeStatus.DECIDED,
        outcome=outcome,
        decision=decision,
        decided_by=user,
        decided_at=now,
    )
    if not decided:
        raise InvalidInput(_("This dispute was decided already."), code="wrong_state")
    dispute.refresh_from_db()
    _apply(actor=actor, dispute=dispute, shares=shares or None, new_owner=new_owner, at=now)
    record_change(
        actor=actor, action="update", instance=dispute, changes=diff(before, snapshot(dispute))
    )
    _timeline(dispute, kind="dispute_decided", actor=actor, note=decision, at=now)
    label = str(dispute)
    outcome_label = str(DisputeOutcome(outcome).label)
    told = {p.pk: p for p in dispute.participants.exclude(pk=user.pk)}
    for person in dispute_sides(dispute):
        told.setdefault(person.pk, person)
    for person in told.values():
        notify(
            user=person,
            kind="dispute_decided",
            url=_url(dispute),
            text=lambda: (
                _("The dispute “%(d)s” was decided: %(o)s.") % {"d": label, "o": outcome_label}
            ),
            email_subject=lambda: _("Dispute decided: %(d)s") % {"d": label},
        )
    return dispute
