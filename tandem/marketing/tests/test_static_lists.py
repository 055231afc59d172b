"""Static lists: members added and removed from the segment page, from the contact list's filter
and through the API, scoped to what the user sees, audited, with the same SegmentEvent rows as a
dynamic segment's refresh."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import PASSWORD
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, User
from tandem.core.tokens import token_create
from tandem.crm.models import Contact
from tandem.marketing.models import Segment, SegmentEvent, SegmentMembership, StaticMember
from tandem.marketing.segments import members
from tandem.marketing.segments import services as seg

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
TAGGED = {"type": "tag", "op": "has", "value": "vip"}


def _login(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _api(user: User) -> Client:
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def _events(segment: Segment) -> list[tuple[int, str]]:
    return list(
        SegmentEvent.objects.filter(segment=segment)
        .order_by("id")
        .values_list("contact_id", "kind")
    )


def test_page_adds_by_ids_and_emails_removes_ticked_and_records_events(world: Any) -> None:
    marketer = world.user("marketer")
    client = _login(marketer)
    vips = seg.segment_create(actor=Actor(user=marketer), name="VIPs", kind="static")
    a = world.contacts[("sales_rep", "north")]
    b = world.contacts[("field_rep", "south")]
    added = client.post(
        f"/marketing/segments/{vips.pk}/members/add", {"contacts": f"{a.pk}, {b.email.upper()}"}
    )
    assert added.status_code == 302
    assert set(StaticMember.objects.filter(segment=vips).values_list("contact_id", flat=True)) == {
        a.pk,
        b.pk,
    }
    assert sorted(_events(vips)) == sorted([(a.pk, "entered"), (b.pk, "entered")])
    vips.refresh_from_db()
    assert vips.member_count == 2
    # a refresh finds nothing to change: no duplicate events
    assert seg.segment_refresh(segment_id=vips.pk) == (0, 0)
    page = client.get(f"/marketing/segments/{vips.pk}/").content.decode()
    assert 'name="contact_ids"' in page
    assert "Remove from the list" in page

    again = client.post(
        f"/marketing/segments/{vips.pk}/members/add", {"contacts": str(a.pk)}, follow=True
    )
    assert "1 already on the list" in again.content.decode()
    assert len(_events(vips)) == 2

    bad = client.post(
        f"/marketing/segments/{vips.pk}/members/add", {"contacts": "nobody@x.example"}, follow=True
    )
    assert "No such contact" in bad.content.decode()

    client.post(f"/marketing/segments/{vips.pk}/members/remove", {"contact_ids": [str(a.pk)]})
    assert list(StaticMember.objects.filter(segment=vips).values_list("contact_id", flat=True)) == [
        b.pk
    ]
    assert not SegmentMembership.objects.filter(segment=vips, contact=a).exists()
    assert _events(vips)[-1] == (a.pk, "left")
    audit = AuditEntry.objects.filter(object_id=str(vips.pk), action="update").order_by("id")
    assert [list(e.changes) for e in audit] == [
        ["added_contacts"],
        ["added_contacts"],
        ["removed_contacts"],
    ]
    assert audit.last().changes == {"removed_contacts": [a.pk]}  # type: ignore[union-attr]

    rep = _login(world.user("sales_rep"))
    assert (
        rep.post(f"/marketing/segments/{vips.pk}/members/add", {"contacts": "1"}).status_code == 404
    )


def test_contact_list_filter_goes_to_a_static_list(world: Any) -> None:
    marketer = world.user("marketer")
    client = _login(marketer)
    vips = seg.segment_create(actor=Actor(user=marketer), name="Norths", kind="static")
    listing = client.get("/crm/contacts/?q=north").content.decode()
    assert 'id="add-to-list"' in listing
    assert (
        "Add to a static list"
        not in _login(world.user("sales_rep")).get("/crm/contacts/").content.decode()
    )

    ask = client.get("/marketing/segments/add-contacts?q=north")
    assert ask.status_code == 200
    north = set(Contact.objects.filter(first_name="north").values_list("pk", flat=True))
    assert len(north) == 2
    assert "2 contacts match" in ask.content.decode()
    done = client.post("/marketing/segments/add-contacts", {"q": "north", "segment": vips.pk})
    assert done.status_code == 302
    assert (
        set(StaticMember.objects.filter(segment=vips).values_list("contact_id", flat=True)) == north
    )
    # a dynamic segment is not a target
    dynamic = seg.segment_create(actor=Actor(user=marketer), name="Dyn", definition=TAGGED)
    refused = client.post("/marketing/segments/add-contacts", {"q": "north", "segment": dynamic.pk})
    assert refused.status_code == 400
    assert "Only static lists" in refused.content.decode()


def test_api_members_add_remove_errors_and_limits(world: Any) -> None:
    marketer = world.user("marketer")
    api = _api(marketer)
    vips = seg.segment_create(actor=Actor(user=marketer), name="VIPs", kind="static")
    a = world.contacts[("sales_rep", "north")]
    b = world.contacts[("sales_rep", "south")]
    url = f"/api/v1/marketing/segments/{vips.pk}/members"

    answer = api.post(url, {"contact_ids": [a.pk, b.pk, a.pk]}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"segment_id": vips.pk, "changed": 2, "unchanged": 0, "member_count": 2}
    again = api.post(url, {"contact_ids": [a.pk]}, content_type="application/json").json()
    assert (again["changed"], again["unchanged"]) == (0, 1)

    dynamic = seg.segment_create(actor=SYSTEM, name="Dyn", definition=TAGGED)
    state = (StaticMember.objects.count(), SegmentEvent.objects.count(), AuditEntry.objects.count())
    for body, status in [
        ({"contact_ids": ["x"]}, 400),
        ({"contact_ids": [-1]}, 400),
        ({"contact_ids": [True]}, 400),
        ({"contact_ids": []}, 400),
        ({"contact_ids": list(range(1, members.MAX_IDS + 2))}, 400),
        ({"contact_ids": [a.pk], "more": 1}, 400),
        ({"contact_ids": [a.pk, 10**9]}, 404),
    ]:
        got = api.post(url, body, content_type="application/json")
        assert got.status_code == status, (body if len(str(body)) < 80 else "big", got.content)
        assert set(got.json()) == {"code", "message", "details"}
    not_static = api.post(
        f"/api/v1/marketing/segments/{dynamic.pk}/members",
        {"contact_ids": [a.pk]},
        content_type="application/json",
    )
    assert not_static.status_code == 400
    assert (
        api.post(
            "/api/v1/marketing/segments/999999/members",
            {"contact_ids": [a.pk]},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert (
        StaticMember.objects.count(),
        SegmentEvent.objects.count(),
        AuditEntry.objects.count(),
    ) == state

    removed = api.delete(url, {"contact_ids": [a.pk]}, content_type="application/json")
    assert removed.json() == {
        "segment_id": vips.pk,
        "changed": 1,
        "unchanged": 0,
        "member_count": 1,
    }
    assert _events(vips)[-1] == (a.pk, "left")
    feed = api.get("/api/v1/marketing/segment-events?after_id=0").json()
    assert [(e["contact_id"], e["kind"]) for e in feed if e["segment_id"] == vips.pk][-1] == (
        a.pk,
        "left",
    )

    rep = _api(world.user("sales_rep"))
    assert (
        rep.post(url, {"contact_ids": [a.pk]}, content_type="application/json").status_code == 403
    )


def test_ten_thousand_members_in_one_call() -> None:
    contacts = Contact.objects.bulk_create(
        [Contact(first_name=f"p{i}", email=f"p{i}@bulk.example") for i in range(members.MAX_IDS)]
    )
    ids = (
        [c.pk for c in contacts]
        if contacts[0].pk
        else list(
            Contact.objects.filter(email__endswith="@bulk.example").values_list("pk", flat=True)
        )
    )
    big = seg.segment_create(actor=SYSTEM, name="Big", kind="static")
    change = members.members_add(actor=SYSTEM, segment=big, contact_ids=ids)
    assert change.changed == members.MAX_IDS
    assert SegmentEvent.objects.filter(segment=big, kind="entered").count() == members.MAX_IDS
    assert seg.segment_refresh(segment_id=big.pk) == (0, 0)
