"""Segments: exact member sets for each kind of condition, cycles, refresh events, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Contact, CustomAttribute, Tag
from tandem.leads import services as leads
from tandem.marketing.models import Segment, SegmentEvent
from tandem.marketing.segments import services as seg
from tandem.tracking.models import ConsentRecord

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, Contact]:
    CustomAttribute.objects.create(target="contact", key="seats", label="Seats", type="number")
    CustomAttribute.objects.create(target="contact", key="plan", label="Plan", type="text")
    med = crm.account_create(actor=SYSTEM, name="MedCo", industry="medical", region="north")
    agri = crm.account_create(actor=SYSTEM, name="FarmCo", industry="agriculture", region="south")
    now = timezone.now()
    out = {
        "ann": crm.contact_create(
            actor=SYSTEM, first_name="Ann", email="ann@med.test", account_id=med.pk,
            lifecycle_stage="mql", custom={"seats": 50, "plan": "Pro"},
        ),
        "bob": crm.contact_create(
            actor=SYSTEM, first_name="Bob", email="bob@med.test", account_id=med.pk,
            custom={"seats": 5, "plan": "free"},
        ),
        "cat": crm.contact_create(
            actor=SYSTEM, first_name="Cat", email="cat@farm.test", account_id=agri.pk,
            lifecycle_stage="customer",
        ),
        "dan": crm.contact_create(actor=SYSTEM, first_name="Dan", email="dan@none.test"),
    }  # fmt: skip
    Contact.objects.filter(pk=out["dan"].pk).update(created_at=now - dt.timedelta(days=400))
    vip = Tag.objects.create(name="VIP")
    out["bob"].tags.add(vip)

    def visit(who: str, path: str, days_ago: float, bot: bool = False) -> None:
        crm.touchpoint_record(
            channel="website", kind="page_view", department="marketing", contact=out[who],
            properties={"path": path}, occurred_at=now - dt.timedelta(days=days_ago), is_bot=bot,
        )  # fmt: skip

    visit("ann", "/pricing", 1)
    visit("ann", "/pricing", 10)
    visit("bob", "/pricing", 2)
    visit("bob", "/pricing", 40)  # outside 30 days
    visit("cat", "/pricing", 1)
    visit("cat", "/pricing", 2, bot=True)  # bots do not count
    visit("dan", "/blog", 1)
    visit("dan", "/blog", 2)
    crm.touchpoint_record(
        channel="email", kind="email_opened", department="marketing", contact=out["cat"]
    )
    for who, state in (("ann", "granted"), ("bob", "confirmed"), ("cat", "granted")):
        ConsentRecord.objects.create(contact=out[who], purpose="newsletter", state=state)
    ConsentRecord.objects.create(contact=out["cat"], purpose="newsletter", state="withdrawn")
    return out


def members(definition: object) -> set[str]:
    segment = Segment(kind="dynamic", definition=definition)
    return {c.first_name.lower() for c in seg.segment_members(segment)}


def leaf(field: str, op: str, value: object = None) -> dict[str, object]:
    return {"type": "field", "field": field, "op": op, "value": value}


PRICING_TWICE = {
    "type": "touchpoint",
    "kind": "page_view",
    "properties": [{"key": "path", "value": "/pricing"}],
    "at_least": 2,
    "within_days": 30,
}


def test_field_conditions(people: dict[str, Contact]) -> None:
    assert members(leaf("account.industry", "eq", "medical")) == {"ann", "bob"}
    assert members(leaf("account.region", "eq", "SOUTH")) == {"cat"}
    assert members(leaf("contact.lifecycle_stage", "in", ["mql", "customer"])) == {"ann", "cat"}
    assert members(leaf("contact.email", "contains", "@MED.")) == {"ann", "bob"}
    assert members(leaf("contact.created_at", "more_than_days_ago", 365)) == {"dan"}
    assert members(leaf("account.name", "is_empty")) == {"dan"}
    assert members(leaf("contact.custom.seats", "gte", 10)) == {"ann"}
    assert members(leaf("contact.custom.plan", "eq", "pro")) == {"ann"}
    assert members({"type": "tag", "value": "vip"}) == {"bob"}
    assert members({"type": "tag", "op": "has_not", "value": "VIP"}) == {"ann", "cat", "dan"}


def test_behaviour_consent_and_boolean_tree(people: dict[str, Contact]) -> None:
    assert members(PRICING_TWICE) == {"ann"}
    assert members({**PRICING_TWICE, "at_least": 1}) == {"ann", "bob", "cat"}
    assert members({**PRICING_TWICE, "at_least": 1, "include_bots": True, "at_most": 1}) == {"bob"}
    assert members({**PRICING_TWICE, "at_least": 0, "at_most": 0}) == {"dan"}
    assert members({"type": "email", "event": "opened", "within_days": 7}) == {"cat"}
    assert members({"type": "subscription", "subscription": "newsletter"}) == {"ann", "bob"}
    tree = {
        "type": "or",
        "children": [
            {"type": "and", "children": [PRICING_TWICE, leaf("account.industry", "eq", "medical")]},
            {"type": "not", "child": {"type": "touchpoint", "kind": "page_view"}},
        ],
    }
    assert members(tree) == {"ann"}
    tree2 = {"type": "not", "child": {"type": "subscription", "subscription": "newsletter"}}
    assert members(tree2) == {"cat", "dan"}


def test_one_query(people: dict[str, Contact]) -> None:
    tree = {
        "type": "and",
        "children": [
            PRICING_TWICE,
            {"type": "subscription", "subscription": "newsletter"},
            leaf("contact.custom.seats", "gt", 1),
            {"type": "email", "event": "clicked", "within_days": 30, "at_least": 1},
            {"type": "tag", "value": "vip", "op": "has_not"},
        ],
    }
    with CaptureQueriesContext(connection) as queries:
        found = members(tree)
    assert found == set()
    # one query for the custom attributes' types, one for the members
    assert len(queries) == 2


def test_segment_of_segments_and_cycles(people: dict[str, Contact]) -> None:
    medical = seg.segment_create(
        actor=SYSTEM, name="Medical", definition=leaf("account.industry", "eq", "medical")
    )
    vips = seg.segment_create(actor=SYSTEM, name="VIPs", kind="static")
    seg.static_members_add(actor=SYSTEM, segment=vips, contact_ids=[people["cat"].pk, 999999])
    both = seg.segment_create(
        actor=SYSTEM,
        name="Medical or VIP",
        definition={
            "type": "or",
            "children": [
                {"type": "segment", "segment_id": medical.pk},
                {"type": "segment", "segment_id": vips.pk},
            ],
        },
    )
    assert {c.first_name for c in seg.segment_members(both)} == {"Ann", "Bob", "Cat"}
    with pytest.raises(InvalidInput, match="itself"):
        seg.segment_update(
            actor=SYSTEM,
            segment=medical,
            name="Medical",
            definition={"type": "segment", "segment_id": both.pk},
        )
    medical.refresh_from_db()
    assert medical.definition == leaf("account.industry", "eq", "medical")


def test_refresh_records_entering_and_leaving(people: dict[str, Contact]) -> None:
    segment = seg.segment_create(
        actor=SYSTEM, name="MQLs", definition=leaf("contact.lifecycle_stage", "eq", "mql")
    )
    assert seg.segment_refresh(segment_id=segment.pk) == (1, 0)
    assert seg.segment_refresh(segment_id=segment.pk) == (0, 0)
    leads.lifecycle_move(actor=SYSTEM, contact=people["ann"], stage="sql", reason="call")
    leads.lifecycle_move(actor=SYSTEM, contact=people["bob"], stage="mql", reason="score")
    assert seg.segment_refresh(segment_id=segment.pk) == (1, 1)
    events = [(e.contact_id, e.kind) for e in SegmentEvent.objects.order_by("id")]
    assert events == [
        (people["ann"].pk, "entered"),
        (people["bob"].pk, "entered"),
        (people["ann"].pk, "left"),
    ]
    segment.refresh_from_db()
    assert segment.member_count == 1


@pytest.mark.parametrize(
    "definition",
    [
        leaf("contact.password", "eq", "x"),
        leaf("account.owner__password", "eq", "x"),
        leaf("contact.first_name", "regex", ".*"),
        leaf("contact.first_name", "eq; DROP TABLE crm_contact", "x"),
        leaf("contact.custom.seats__contains", "eq", 1),
        leaf("contact.custom.undefined_key", "eq", "x"),
        leaf("contact.lifecycle_stage", "eq", "' OR 1=1 --"),
        leaf("contact.first_name", "gt", "a"),
        {"type": "touchpoint", "properties": [{"key": "path') OR 1=1 --", "value": "x"}]},
        {"type": "touchpoint", "properties": [{"key": "path__contains", "value": "x"}]},
        {"type": "raw_sql", "sql": "SELECT 1"},
        {"type": "and", "children": []},
        {"type": "field", "field": "contact.email", "op": "eq", "value": "x", "extra": 1},
        {"type": "touchpoint", "at_least": 0},
    ],
)
def test_malicious_or_bad_definitions_are_refused(
    people: dict[str, Contact], definition: object
) -> None:
    with pytest.raises(InvalidInput):
        seg.segment_create(actor=SYSTEM, name="Bad", definition=definition)
    assert not Segment.objects.exists()


def test_hostile_values_are_only_parameters(people: dict[str, Contact]) -> None:
    assert members(leaf("contact.first_name", "eq", "x' OR '1'='1")) == set()
    assert members(leaf("contact.custom.plan", "contains", "%' OR 1=1 --")) == set()
    tricky = {"type": "touchpoint", "properties": [{"key": "path", "value": "' OR 1=1 --"}]}
    assert members(tricky) == set()
    assert Contact.objects.count() == 4


def test_too_deep_is_refused(people: dict[str, Contact]) -> None:
    node: dict[str, object] = leaf("contact.email", "is_empty")
    for _level in range(10):
        node = {"type": "not", "child": node}
    with pytest.raises(InvalidInput, match="deeply"):
        seg.segment_create(actor=SYSTEM, name="Deep", definition=node)
