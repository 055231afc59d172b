"""Disputes between marketing and sales, mediated by the head in a thread with @mentions.

Invariants:
- a rep or a marketer opens a dispute about a lead (contact), a hand-off or a deal (any record,
  by content type and id) they can see; the opener is a participant;
- a message's `@username` mentions notify those (active) users and make them participants;
- only the head or an admin decides; a dispute is decided once (a conditional UPDATE on status
  guards it) and the decision is recorded in the audit log and shown on the thread.
"""

from __future__ import annotations

import re

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import can
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.leads.models import (
    Dispute,
    DisputeMessage,
    DisputeOutcome,
    DisputeStatus,
    DisputeSubject,
)
from tandem.leads.notify import notify
from tandem.leads.services import heads

MENTION = re.compile(r"(?<![\w.@])@([\w.+-]{1,150})")
MAX_BODY = 5000


def _url(dispute: Dispute) -> str:
    return reverse("leads:dispute_detail", args=[dispute.pk])


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


@transaction.atomic
def dispute_open(
    *, actor: Actor, subject: str, target: models.Model, summary: str, body: str = ""
) -> Dispute:
    user = actor.user
    if user is None or not can(user, "open_disputes"):
        raise InvalidInput(_("Only staff can open a dispute."), code="forbidden")
    if subject not in DisputeSubject.values:
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
        summary=summary,
    )
    dispute.participants.add(user)
    record_change(
        actor=actor, action="create", instance=dispute, changes=diff({}, snapshot(dispute))
    )
    if body.strip():
        dispute_post(actor=actor, dispute=dispute, body=body)
    label = str(dispute)
    for head in heads():
        notify(
            user=head,
            kind="dispute_opened",
            url=_url(dispute),
            text=lambda: _("New dispute to mediate: %(d)s") % {"d": label},
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


@transaction.atomic
def dispute_decide(*, actor: Actor, dispute: Dispute, outcome: str, decision: str) -> Dispute:
    user = actor.user
    if user is None or not user.sees_everything:
        raise InvalidInput(_("Only the head decides disputes."), code="forbidden")
    errors: dict[str, list[str]] = {}
    if outcome not in DisputeOutcome.values:
        errors["outcome"] = [_("Choose an outcome.")]
    decision = (decision or "").strip()
    if not decision or len(decision) > MAX_BODY:
        errors["decision"] = [_("Explain the decision (1 to 5000 characters).")]
    if errors:
        raise InvalidInput(errors)
    now = timezone.now()
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
    record_change(
        actor=actor, action="update", instance=dispute, changes=diff(before, snapshot(dispute))
    )
    label = str(dispute)
    outcome_label = str(DisputeOutcome(outcome).label)
    for person in dispute.participants.exclude(pk=user.pk):
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
