"""Exports of a segment's members and an event's registrations: the rows the page lists (all of
them), scoped, formula text neutralised, attendance filter, bad input a 400, audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from conftest import ROLES, SIDES, World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing.events import services as events
from tandem.marketing.models import MarketingEvent, Registration, Segment
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
PERSONAS = [(role, side) for role in ROLES for side in SIDES]


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:], newline="")))


def _xlsx(response: Any) -> list[list[Any]]:
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws is not None
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    return [[c.value for c in row] for row in ws.iter_rows()]


@pytest.fixture
def customers(world: World) -> Segment:
    """A segment of every contact whose last name contains 'customer' (the four of `world`) and
    a hostile one."""
    crm.contact_create(
        actor=SYSTEM,
        first_name="=cmd|' /C calc'!A0",
        last_name="@evil customer",
        email="evil@hostile.test",
    )
    return seg.segment_create(
        actor=SYSTEM,
        name="Customers",
        definition={
            "type": "field",
            "field": "contact.last_name",
            "op": "contains",
            "value": "customer",
        },
    )


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_segment_export_follows_the_page(
    world: World, customers: Segment, persona: tuple[str, str]
) -> None:
    client = _client(world, *persona)
    url = f"/marketing/segments/{customers.pk}/export"
    page = client.get(f"/marketing/segments/{customers.pk}/")
    if persona[0] in ("sales_rep", "field_rep"):
        assert page.status_code == 404
        assert client.get(url, {"format": "csv"}).status_code == 404
        assert client.get(url, {"format": "xlsx"}).status_code == 404
        return
    assert 'id="export"' in page.content.decode()
    rows = _csv(client.get(url))
    members = seg.segment_members_for(world.user(*persona), customers)
    assert {int(r["Record ID"]) for r in rows} == set(members.values_list("pk", flat=True))
    assert len(rows) == 5
    evil = next(r for r in rows if r["Email"] == "evil@hostile.test")
    assert (evil["First Name"], evil["Last Name"]) == ("'=cmd|' /C calc'!A0", "'@evil customer")
    assert (evil["Lifecycle Stage"], evil["Marketing consent"]) == ("Lead", "Unknown")
    sheet = _xlsx(client.get(url, {"format": "xlsx"}))
    assert sheet[0][:3] == ["Record ID", "First Name", "Last Name"]
    assert {r[0] for r in sheet[1:]} == {int(r["Record ID"]) for r in rows}


def test_segment_export_is_audited_and_refuses_bad_formats(
    world: World, customers: Segment
) -> None:
    client = _client(world, "marketer")
    response = client.get(f"/marketing/segments/{customers.pk}/export", {"format": "ods"})
    assert response.status_code == 400
    assert "use csv or xlsx" in response.content.decode()
    assert client.get("/marketing/segments/999999/export").status_code == 404
    _csv(client.get(f"/marketing/segments/{customers.pk}/export", {"format": "csv"}))
    entry = AuditEntry.objects.get(action="export")
    assert (entry.actor, entry.model, entry.object_id, entry.object_repr) == (
        world.user("marketer"),
        "crm.Contact",
        str(customers.pk),
        "Customers",
    )
    assert entry.changes == {
        "format": "csv",
        "rows": 5,
        "filters": {},
        "source": "marketing.Segment",
    }


@pytest.fixture
def webinar(world: World) -> MarketingEvent:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    event = events.event_create(
        actor=SYSTEM,
        kind="webinar",
        title="Revenue teams 101",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        join_url="https://meet.example.com/rt101",
        organizer_name="Marta Marketer",
        organizer_email="events@tandem.test",
    )
    events.register(event=event, email="ada@example.com", name="Ada Lovelace", company="+AB")
    events.register(event=event, email="ghost@example.com", name="=Ghost")
    events.register(event=event, email="new@example.com", name="Newcomer")
    Registration.objects.filter(email="ada@example.com").update(attended=True, minutes=25)
    Registration.objects.filter(email="ghost@example.com").update(attended=False)
    return event


def test_event_registrations_export_with_attendance_filter(
    world: World, webinar: MarketingEvent
) -> None:
    client = _client(world, "marketer", "south")
    url = f"/marketing/events/{webinar.pk}/export"
    page = client.get(f"/marketing/events/{webinar.pk}/").content.decode()
    assert f'href="{url}?attended=no&amp;format=csv"' in page
    rows = _csv(client.get(url))
    assert [(r["Email"], r["Attended"], r["Minutes"]) for r in rows] == [
        ("ada@example.com", "yes", "25"),
        ("ghost@example.com", "no-show", ""),
        ("new@example.com", "", ""),
    ]
    assert rows[0]["Company"] == "'+AB"
    assert rows[1]["Name"] == "'=Ghost"
    ada = Contact.objects.get(email="ada@example.com")
    assert rows[0]["Record ID"] == str(ada.pk)
    assert [r["Email"] for r in _csv(client.get(url, {"attended": "yes"}))] == ["ada@example.com"]
    assert [r["Email"] for r in _csv(client.get(url, {"attended": "no"}))] == ["ghost@example.com"]
    assert [r["Email"] for r in _csv(client.get(url, {"attended": "unknown"}))] == [
        "new@example.com"
    ]
    sheet = _xlsx(client.get(url, {"format": "xlsx", "attended": "yes"}))
    header = sheet[0]
    assert sheet[1][header.index("Minutes")] == 25
    assert isinstance(sheet[1][header.index("Registered at")], dt.datetime)
    entry = AuditEntry.objects.filter(action="export").order_by("-id").first()
    assert entry is not None
    assert (entry.model, entry.object_id) == ("marketing.Registration", str(webinar.pk))
    assert entry.changes["rows"] == 1
    assert entry.changes["filters"] == {"attended": "yes"}


def test_event_export_refusals(world: World, webinar: MarketingEvent) -> None:
    url = f"/marketing/events/{webinar.pk}/export"
    marketer = _client(world, "marketer")
    bad = marketer.get(url, {"attended": "maybe"})
    assert bad.status_code == 400
    assert "use yes, no or unknown" in bad.content.decode()
    assert marketer.get(url, {"format": "pdf"}).status_code == 400
    assert marketer.post(url).status_code == 405
    for rep in ("sales_rep", "field_rep"):
        assert _client(world, rep).get(url).status_code == 404
    assert Client().get(url).status_code == 302
    assert not AuditEntry.objects.filter(action="export").exists()
