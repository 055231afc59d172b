"""Disputes: opened by a rep or marketer about a lead, a hand-off or a deal; a thread with
@mentions; decided once by the head; who sees what."""

from __future__ import annotations

import pytest
from django.http import Http404

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.leads import disputes, services
from tandem.leads.models import Dispute, Notification

pytestmark = pytest.mark.django_db


def test_a_dispute_thread_with_mentions_and_one_decision(world, reps, make_lead):
    handoff = services.handoff_create(
        actor=Actor.system(), contact=make_lead(region="west"), trigger="mql"
    )
    rep, marketer, head = reps[0], world.user("marketer"), world.user("head")
    dispute = disputes.dispute_open(
        actor=Actor(user=rep),
        subject="lead_quality",
        target=handoff,
        summary="Student, not a buyer",
        body="@marketer_north where did this one come from?",
    )
    assert dispute.target == handoff
    assert Notification.objects.filter(kind="dispute_opened").count() == 2  # both heads
    assert Notification.objects.get(user=marketer, kind="dispute_mention").text == (
        "sales_rep_north mentioned you in the dispute “Lead quality: Lead 1 → sales_rep_north "
        "(pending)”."
    )
    assert set(dispute.participants.all()) == {rep, marketer}
    disputes.dispute_post(
        actor=Actor(user=marketer),
        dispute=dispute,
        body="Webinar sign-up, cc @head_north and @nobody_here",
    )
    assert [m.body[:7] for m in dispute.messages.all()] == ["@market", "Webinar"]
    assert list(dispute.messages.last().mentions.all()) == [head]
    with pytest.raises(InvalidInput) as exc:
        disputes.dispute_decide(
            actor=Actor(user=rep), dispute=dispute, outcome="upheld", decision="mine"
        )
    assert exc.value.code == "forbidden"
    disputes.dispute_decide(
        actor=Actor(user=head),
        dispute=dispute,
        outcome="upheld",
        decision="Webinar leads need a company check before scoring.",
    )
    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome, dispute.decided_by) == ("decided", "upheld", head)
    assert AuditEntry.objects.filter(model="leads.Dispute", action="update").count() == 1
    assert Notification.objects.filter(kind="dispute_decided").count() == 2  # rep, marketer
    with pytest.raises(InvalidInput) as exc:
        disputes.dispute_decide(
            actor=Actor(user=head), dispute=dispute, outcome="dismissed", decision="changed my mind"
        )
    assert exc.value.code == "wrong_state"
    assert Dispute.objects.get(pk=dispute.pk).outcome == "upheld"


def test_who_sees_a_dispute(world, reps):
    contact = world.contacts[("sales_rep", "north")]
    dispute = disputes.dispute_open(
        actor=Actor(user=reps[0]),
        subject="lead_quality",
        target=contact,
        summary="Marketing claims this lead was ready",
    )
    assert get_scoped(world.user("head", "south"), Dispute, dispute.pk) == dispute
    assert get_scoped(reps[0], Dispute, dispute.pk) == dispute
    with pytest.raises(Http404):
        get_scoped(world.user("marketer"), Dispute, dispute.pk)
    disputes.dispute_post(actor=Actor(user=reps[0]), dispute=dispute, body="@marketer_north ?")
    assert scoped(world.user("marketer"), Dispute).count() == 1
    assert scoped(world.user("sales_rep", "south"), Dispute).count() == 0


def test_bad_dispute_input_is_refused(world, reps):
    contact = world.contacts[("sales_rep", "north")]
    with pytest.raises(InvalidInput) as exc:
        disputes.dispute_open(
            actor=Actor(user=reps[0]), subject="weather", target=contact, summary=""
        )
    assert set(exc.value.errors) == {"subject"}
    with pytest.raises(InvalidInput):
        disputes.dispute_open(
            actor=Actor(user=reps[0]), subject="lead_quality", target=contact, summary="x" * 501
        )
    assert not Dispute.objects.exists()
