"""Times are shown and read in the organisation's time zone, or the user's own when they set one:
the same instant reads the same on every page, and a time typed into a form is read in the zone
the person works in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry, Organisation, User
from tandem.core.services import organisation_update
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.leads import services as leads
from tandem.marketing.events import services as events

INSTANT = dt.datetime(2025, 3, 7, 0, 53, tzinfo=dt.UTC)


@pytest.fixture
def moscow(db: None) -> Organisation:
    org = Organisation.current()
    org.time_zone = "Europe/Moscow"
    org.save(update_fields=["time_zone"])
    return org


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("own_zone", "shown", "not_shown"),
    [
        ("", "03/07/2025 3:53 a.m.", "03/07/2025 12:53 a.m."),  # the organisation's: Moscow
        ("America/New_York", "03/06/2025 7:53 p.m.", "03/07/2025 3:53 a.m."),  # the user's own
    ],
)
def test_the_same_instant_reads_the_same_on_the_timeline_and_the_hand_off_page(
    world: World, moscow: Organisation, own_zone: str, shown: str, not_shown: str
) -> None:
    contact = world.contacts[("sales_rep", "north")]
    crm.touchpoint_record(
        channel="email", kind="email_opened", department="marketing", contact=contact,
        occurred_at=INSTANT,
    )  # fmt: skip
    admin = world.user("admin")
    handoff = leads.handoff_create(actor=Actor(user=admin), contact=contact, trigger="mql")
    User.objects.filter(pk=admin.pk).update(time_zone=own_zone)
    event = events.event_create(
        actor=Actor(user=world.user("marketer")),
        kind="webinar",
        title="Same instant",
        starts_at=INSTANT,
        ends_at=INSTANT + dt.timedelta(hours=1),
        organizer_name="M",
        organizer_email="m@example.com",
    )
    client = _client(admin)
    timeline = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    handoff_page = client.get(f"/leads/handoffs/{handoff.pk}/").content.decode()
    marketer = world.user("marketer")
    User.objects.filter(pk=marketer.pk).update(time_zone=own_zone)
    event_page = _client(marketer).get(f"/marketing/events/{event.pk}/").content.decode()
    for page in (timeline, handoff_page, event_page):
        assert shown in page
        assert not_shown not in page


@pytest.mark.parametrize(
    ("own_zone", "typed", "stored_utc"),
    [
        ("", "2026-01-15T09:30", dt.datetime(2026, 1, 15, 6, 30, tzinfo=dt.UTC)),
        ("America/New_York", "2026-01-15T09:30", dt.datetime(2026, 1, 15, 14, 30, tzinfo=dt.UTC)),
    ],
)
def test_a_time_typed_into_a_form_is_read_in_the_active_zone(
    world: World, moscow: Organisation, own_zone: str, typed: str, stored_utc: dt.datetime
) -> None:
    rep = world.user("sales_rep")
    User.objects.filter(pk=rep.pk).update(time_zone=own_zone)
    contact = world.contacts[("sales_rep", "north")]
    response = _client(rep).post(
        f"/crm/contacts/{contact.pk}/activity/",
        {"kind": "sales_call", "occurred_at": typed, "note": "Called"},
    )
    assert response.status_code == 302
    call = Touchpoint.objects.get(contact=contact, kind="sales_call")
    assert call.occurred_at == stored_utc


def test_the_zone_is_the_users_else_the_organisations_and_ends_with_the_request(
    world: World, moscow: Organisation
) -> None:
    rep = world.user("sales_rep")
    client = _client(rep)
    assert "Times are shown in Europe/Moscow." in client.get("/profile/").content.decode()
    User.objects.filter(pk=rep.pk).update(time_zone="Asia/Vladivostok")
    assert "Times are shown in Asia/Vladivostok." in client.get("/profile/").content.decode()
    assert timezone.get_current_timezone_name() == "UTC"  # nothing leaks out of a request


def test_a_person_sets_their_own_zone_and_language_on_their_profile(
    world: World, moscow: Organisation
) -> None:
    rep = world.user("field_rep")
    client = _client(rep)
    saved = client.post(
        "/profile/",
        {"first_name": "Fedor", "last_name": "Ivanov", "language": "ru", "time_zone": "Asia/Omsk"},
    )
    assert saved.status_code == 302
    rep.refresh_from_db()
    assert (rep.first_name, rep.language, rep.time_zone) == ("Fedor", "ru", "Asia/Omsk")
    page = client.get("/profile/").content.decode()
    assert "Мой профиль" in page
    assert "Asia/Omsk" in page
    entry = AuditEntry.objects.get(model="core.User", object_id=str(rep.pk))
    assert entry.changes["time_zone"] == ["", "Asia/Omsk"]
    bad = client.post("/profile/", {"language": "en", "time_zone": "Mars/Olympus_Mons"})
    assert bad.status_code == 400
    rep.refresh_from_db()
    assert rep.time_zone == "Asia/Omsk"


def test_a_changed_organisation_zone_applies_to_the_next_request(
    world: World, moscow: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    admin = world.user("admin")
    client = _client(admin)
    assert "Times are shown in Europe/Moscow." in client.get("/profile/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        organisation_update(actor=Actor(user=admin), time_zone="Asia/Tokyo")
    assert "Times are shown in Asia/Tokyo." in client.get("/profile/").content.decode()
