"""A broken segment is marked (reason on its page) and the refresh of all
segments goes on; a segment other segments use is not deleted; the score condition; the
`/segment-events` API; number custom attributes compared safely when a stored value is not a
number (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.tokens import token_create
from tandem.crm import services as crm
from tandem.crm.models import Contact, CustomAttribute
from tandem.leads.models import ContactScore, ScoringModel
from tandem.marketing.models import Segment, SegmentEvent
from tandem.marketing.segments import services as seg
from tandem.marketing.segments import tasks

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def _contact(name: str, **custom: Any) -> Contact:
    return crm.contact_create(
        actor=SYSTEM, first_name=name, email=f"{name.lower()}@seg.test", custom=custom
    )


def _segment(name: str, definition: Any) -> Segment:
    return seg.segment_create(actor=SYSTEM, name=name, definition=definition)


def _names(definition: Any) -> set[str]:
    draft = Segment(kind="dynamic", definition=definition)
    return {c.first_name for c in seg.segment_members(draft)}


def _seats(op: str, value: float) -> dict[str, Any]:
    return {"type": "field", "field": "contact.custom.seats", "op": op, "value": value}


# --- broken segments ---------------------------------------------------------------------------


def test_refresh_all_marks_broken_segments_and_goes_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    CustomAttribute.objects.create(target="contact", key="seats", label="Seats", type="number")
    _contact("Ann", seats=50)
    _contact("Bob", seats=5)
    by_attribute = _segment("Uses seats", _seats("gte", 10))
    base = _segment("Base", {"type": "field", "field": "contact.first_name", "op": "eq",
                             "value": "Bob"})  # fmt: skip
    by_segment = _segment("Uses base", {"type": "segment", "segment_id": base.pk})
    fine = _segment("Everyone named Ann", {"type": "field", "field": "contact.first_name",
                                           "op": "eq", "value": "Ann"})  # fmt: skip
    CustomAttribute.objects.filter(key="seats").delete()  # deleted after the segment was saved
    Segment.objects.filter(pk=base.pk).delete()  # bypassing the service (admin, cascade...)

    with caplog.at_level(logging.WARNING, logger="tandem.marketing"):
        assert seg.segments_refresh_all() == {"refreshed": 1, "broken": 2}
    fine.refresh_from_db()
    assert fine.member_count == 1
    assert fine.broken_reason == ""
    by_attribute.refresh_from_db()
    by_segment.refresh_from_db()
    assert "seats" in by_attribute.broken_reason
    assert by_attribute.broken_at is not None
    assert f"#{base.pk}" in by_segment.broken_reason
    assert f"segment {by_attribute.pk} cannot be refreshed" in caplog.text
    # the scheduled task takes the same path: it completes and counts every segment
    assert tasks.segments_refresh_all.call() == 3
    assert tasks.segment_refresh.call(by_attribute.pk) == [0, 0]

    client = Client()
    client.force_login(world.user("marketer"))
    page = client.get(f"/marketing/segments/{by_attribute.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="broken"' in html
    assert "seats" in html

    # fixing the filter clears the mark
    seg.segment_update(
        actor=SYSTEM,
        segment=by_attribute,
        name="Uses seats",
        definition={"type": "field", "field": "contact.first_name", "op": "eq", "value": "Ann"},
    )
    by_attribute.refresh_from_db()
    assert by_attribute.broken_reason == ""
    assert seg.segments_refresh_all() == {"refreshed": 2, "broken": 1}


def test_page_of_a_segment_broken_since_the_last_refresh_explains_itself(world: World) -> None:
    CustomAttribute.objects.create(target="contact", key="plan", label="Plan", type="text")
    segment = _segment("Pro plan", {"type": "field", "field": "contact.custom.plan", "op": "eq",
                                    "value": "Pro"})  # fmt: skip
    CustomAttribute.objects.filter(key="plan").delete()
    client = Client()
    client.force_login(world.user("marketer"))
    page = client.get(f"/marketing/segments/{segment.pk}/")
    assert page.status_code == 200
    assert 'id="broken"' in page.content.decode()
    segment.refresh_from_db()
    assert "plan" in segment.broken_reason


def test_a_segment_other_segments_use_is_not_deleted(world: World) -> None:
    base = _segment("Base", {"type": "tag", "op": "has", "value": "vip"})
    user = _segment(
        "Not base",
        {"type": "and", "children": [
            {"type": "tag", "op": "has_not", "value": "x"},
            {"type": "not", "child": {"type": "segment", "segment_id": base.pk, "op": "in"}},
        ]},
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        seg.segment_delete(actor=SYSTEM, segment=base)
    assert refused.value.code == "in_use"
    assert "“Not base”" in refused.value.message
    assert Segment.objects.filter(pk=base.pk).exists()
    seg.segment_delete(actor=SYSTEM, segment=user)  # nobody uses this one
    seg.segment_delete(actor=SYSTEM, segment=base)  # and now base is free
    assert not Segment.objects.exists()


# --- score condition ---------------------------------------------------------------------------


def test_score_condition(world: World) -> None:
    model = ScoringModel.objects.create(name="Default")
    other = ScoringModel.objects.create(name="Product B", product_line="b")
    ann, bob, cat = _contact("Ann"), _contact("Bob"), _contact("Cat")
    ContactScore.objects.create(contact=ann, scoring_model=model, total=80)
    ContactScore.objects.create(contact=bob, scoring_model=model, total=50)
    ContactScore.objects.create(contact=cat, scoring_model=other, total=99)  # another model

    def score(op: str, value: float, model_id: int = model.pk) -> dict[str, Any]:
        return {"type": "score", "scoring_model_id": model_id, "op": op, "value": value}

    assert _names(score("gte", 50)) == {"Ann", "Bob"}  # inclusive bound
    assert _names(score("gte", 50.5)) == {"Ann"}
    assert _names(score("lte", 50)) == {"Bob"}  # unscored people have no score: not <= 50
    assert _names({"type": "not", "child": score("gte", 60)}) >= {"Bob", "Cat"}
    assert _names(score("gte", 0, other.pk)) == {"Cat"}
    assert _names(score("gte", 0, 987654)) == set()  # no such model: nobody
    with pytest.raises(InvalidInput):
        _names({"type": "score", "scoring_model_id": model.pk, "op": "gt", "value": 1})
    with pytest.raises(InvalidInput):
        _names({"type": "score", "scoring_model_id": model.pk, "op": "gte", "value": "high"})


# --- number custom attributes with values that are not numbers -----------------------------


def test_number_attribute_ignores_stored_values_that_are_not_numbers(world: World) -> None:
    CustomAttribute.objects.create(target="contact", key="seats", label="Seats", type="number")
    stored: dict[str, Any] = {
        "Ann": 50,
        "Bob": "5",  # a number stored as text (an import)
        "Cat": "many",  # text kept from when the attribute was a text attribute
        "Dan": "",
        "Eve": "1e999",  # would overflow a float cast
    }
    for name in ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay"):
        contact = _contact(name)
        if name in stored:  # what the database may hold, whatever today's validation says
            Contact.objects.filter(pk=contact.pk).update(custom={"seats": stored[name]})
    assert _names(_seats("gte", 10)) == {"Ann"}
    assert _names(_seats("lt", 10)) == {"Bob"}  # "many" is not 0
    assert _names(_seats("eq", 0)) == set()
    assert {"Bob", "Cat", "Dan", "Eve", "Fay"} <= _names(_seats("ne", 50))
    assert "Ann" not in _names(_seats("ne", 50))
    segment = _segment("Big", _seats("gte", 10))
    assert seg.segment_refresh(segment_id=segment.pk) == (1, 0)


# --- the /segment-events API ------------------------------------------------------------------


def _api(user: User) -> Client:
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="read").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_segment_events_api(world: World) -> None:
    ann, bob = _contact("Ann"), _contact("Bob")
    segment = _segment("A", {"type": "field", "field": "contact.first_name", "op": "eq",
                             "value": "Ann"})  # fmt: skip
    seg.segment_refresh(segment_id=segment.pk)
    seg.segment_update(
        actor=SYSTEM,
        segment=segment,
        name="A",
        definition={"type": "field", "field": "contact.first_name", "op": "eq", "value": "Bob"},
    )
    seg.segment_refresh(segment_id=segment.pk)
    events = list(SegmentEvent.objects.order_by("pk"))
    assert [(e.contact_id, e.kind) for e in events] == [
        (ann.pk, "entered"),
        (bob.pk, "entered"),
        (ann.pk, "left"),
    ]

    marketer = _api(world.user("marketer"))
    everything = marketer.get("/api/v1/marketing/segment-events")
    assert everything.status_code == 200
    body = everything.json()
    assert [(e["contact_id"], e["kind"], e["segment_id"]) for e in body] == [
        (ann.pk, "entered", segment.pk),
        (bob.pk, "entered", segment.pk),
        (ann.pk, "left", segment.pk),
    ]
    after_first = marketer.get(f"/api/v1/marketing/segment-events?after_id={events[0].pk}")
    assert [e["id"] for e in after_first.json()] == [events[1].pk, events[2].pk]
    one = marketer.get(f"/api/v1/marketing/segment-events?after_id={events[0].pk}&limit=1")
    assert [e["id"] for e in one.json()] == [events[1].pk]
    assert marketer.get(f"/api/v1/marketing/segment-events?after_id={events[2].pk}").json() == []

    for query in ("after_id=-1", "after_id=abc", "limit=0", "limit=1001", "limit=x"):
        assert 400 <= marketer.get(f"/api/v1/marketing/segment-events?{query}").status_code < 500
    beyond = marketer.get(f"/api/v1/marketing/segment-events?after_id={'9' * 30}")
    assert beyond.status_code < 500
    for role in ("sales_rep", "field_rep"):  # reps see no segment events
        assert _api(world.user(role)).get("/api/v1/marketing/segment-events").json() == []
    assert Client().get("/api/v1/marketing/segment-events").status_code == 401
