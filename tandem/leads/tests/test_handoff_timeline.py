"""A hand-off's routing, acceptance and rejection go on the contact's timeline as bookkeeping:
labelled in both languages, never counted as engagement by scoring nor credited by attribution."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone, translation

from tandem.attribution.journeys import BOOKKEEPING_KINDS
from tandem.core.audit import Actor
from tandem.core.labels import kind_label
from tandem.crm.models import Touchpoint
from tandem.leads import services
from tandem.leads.scoring.sql import dialect, engagement_sql

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
KINDS = ("handoff_routed", "handoff_accepted", "handoff_rejected")


def _steps(contact_id: int) -> list[tuple[str, str, str, int | None]]:
    return list(
        Touchpoint.objects.filter(contact_id=contact_id, kind__startswith="handoff_")
        .order_by("id")
        .values_list("kind", "department", "channel", "actor_id")
    )


def test_routing_accepting_and_rejecting_appear_on_the_contact_timeline(reps, make_lead):
    north = reps[0]
    accepted = make_lead(owner=north)
    handoff = services.handoff_create(actor=SYSTEM, contact=accepted, trigger="manual")
    assert handoff.assigned_to == north
    services.handoff_accept(actor=Actor(user=north), handoff=handoff)
    assert _steps(accepted.pk) == [
        ("handoff_routed", "marketing", "lifecycle", None),
        ("handoff_accepted", "sales", "lifecycle", north.pk),
    ]
    accept = Touchpoint.objects.get(contact=accepted, kind="handoff_accepted")
    assert accept.properties == {"handoff": handoff.pk, "rep": north.pk}

    rejected = make_lead(owner=north)
    other = services.handoff_create(actor=SYSTEM, contact=rejected, trigger="manual")
    services.handoff_reject(
        actor=Actor(user=north), handoff=other, reason="no_budget", outcome="recycle"
    )
    assert _steps(rejected.pk) == [
        ("handoff_routed", "marketing", "lifecycle", None),
        ("handoff_rejected", "sales", "lifecycle", north.pk),
    ]
    reject = Touchpoint.objects.get(contact=rejected, kind="handoff_rejected")
    assert reject.properties["reason"] == "no_budget"


def test_hand_off_steps_are_bookkeeping_with_labels_in_both_languages(reps, make_lead):
    assert set(KINDS) <= set(BOOKKEEPING_KINDS)
    with translation.override("en"):
        english = [kind_label(kind) for kind in KINDS]
    assert english == ["Hand-off routed", "Hand-off accepted", "Hand-off rejected"]
    with translation.override("ru"):
        russian = [kind_label(kind) for kind in KINDS]
    assert all(r != e for r, e in zip(russian, english, strict=True))

    lead = make_lead(owner=reps[0])
    handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="manual")
    services.handoff_accept(actor=Actor(user=reps[0]), handoff=handoff)
    assert Touchpoint.objects.filter(contact=lead, kind__startswith="handoff_").count() == 2
    sql, params = engagement_sql(
        [],
        30.0,
        dialect(),
        now_db=connection.ops.adapt_datetimefield_value(timezone.now()),
        contact_ids=[lead.pk],
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    counted = {row[0]: row[2] for row in rows}
    assert (
        counted.get(lead.pk, 0)
        == Touchpoint.objects.filter(contact=lead)
        .exclude(channel__in=("lifecycle", "dispute"))
        .count()
    )
