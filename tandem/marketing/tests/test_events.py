"""Events: public registration (CSRF, honeypot), iCalendar invitations through a real SMTP server
(REQUEST, update with a higher SEQUENCE, CANCEL), reminders claimed once, attendance and badge
imports, no-shows, touchpoints and the attendee-to-lead rule."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
import vobject
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import SmtpInbox
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact, Touchpoint
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.events import imports, services
from tandem.marketing.models import EventReminder, MarketingEvent, Registration

SYSTEM = Actor.system()
pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(smtp_inbox: SmtpInbox, settings: Any) -> SmtpInbox:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return smtp_inbox


def _webinar(**extra: Any) -> MarketingEvent:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    data: dict[str, Any] = {
        "kind": "webinar",
        "title": "Revenue teams 101",
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(hours=1),
        "join_url": "https://meet.example.com/rt101",
        "organizer_name": "Marta Marketer",
        "organizer_email": "events@tandem.test",
    }
    data.update(extra)
    return services.event_create(actor=SYSTEM, **data)


def _held(event: MarketingEvent) -> MarketingEvent:
    """The event takes place: its hour moves into the past (attendance comes after it begins)."""
    starts = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    MarketingEvent.objects.filter(pk=event.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    event.refresh_from_db()
    return event


def _calendar(msg: EmailMessage) -> tuple[icalendar.Calendar, str]:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    method_param = parts[0].get_param("method")
    text = parts[0].get_content()
    attachment = [p for p in msg.walk() if p.get_filename() == "invite.ics"]
    assert attachment[0].get_content().decode() == text
    return icalendar.Calendar.from_ical(text), str(method_param)


def _vevent(cal: icalendar.Calendar) -> Any:
    return next(c for c in cal.walk("VEVENT"))


def test_registration_invitation_update_and_cancel(
    world: Any, smtp: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    event = _webinar()
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/marketing/events/r/{event.slug}")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    form = {"name": "Ada Lovelace", "email": "Ada@Example.com", "company": "Engines"}
    assert client.post(f"/marketing/events/r/{event.slug}", form).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(
            f"/marketing/events/r/{event.slug}", {**form, "csrfmiddlewaretoken": token}
        )
    assert ok.status_code == 200
    assert "You are registered" in ok.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/marketing/events/r/{event.slug}",
            {
                **form,
                "website_url": "http://spam",
                "email": "bot@spam.example",
                "csrfmiddlewaretoken": token,
            },
        )
        bad = client.post(
            f"/marketing/events/r/{event.slug}",
            {"name": "", "email": "nope", "csrfmiddlewaretoken": token},
        )
        again = client.post(
            f"/marketing/events/r/{event.slug}", {**form, "csrfmiddlewaretoken": token}
        )
    assert bad.status_code == 400
    assert again.status_code == 200
    registration = Registration.objects.get()
    assert (registration.email, registration.contact.lifecycle_stage) == (
        "ada@example.com",
        "subscriber",
    )
    assert len(smtp.messages) == 1  # one invitation: not for the bot, not for the repeat

    rcpt = smtp.messages[0].rcpt_tos
    assert rcpt == ["ada@example.com"]
    msg = smtp.parsed(0)
    assert msg["Subject"] == "You are registered: Revenue teams 101"
    cal, method = _calendar(msg)
    vevent = _vevent(cal)
    assert (str(cal["METHOD"]), method) == ("REQUEST", "REQUEST")
    assert (str(vevent["UID"]), int(vevent["SEQUENCE"]), str(vevent["STATUS"])) == (
        event.uid,
        0,
        "CONFIRMED",
    )
    assert vevent.decoded("DTSTART") == event.starts_at
    assert str(vevent["ORGANIZER"]) == "mailto:events@tandem.test"
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:ada@example.com"
    assert (attendee.params["PARTSTAT"], attendee.params["RSVP"], attendee.params["CN"]) == (
        "NEEDS-ACTION",
        "FALSE",  # replies are not read back
        "Ada Lovelace",
    )
    independent = vobject.readOne(_ics(msg))
    assert independent.method.value == "REQUEST"
    assert independent.vevent.uid.value == event.uid
    assert independent.vevent.sequence.value == "0"

    # an update attendees must see: SEQUENCE 1, same UID; a change they don't see sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(
            actor=SYSTEM,
            event=event,
            starts_at=event.starts_at + dt.timedelta(hours=2),
            ends_at=event.ends_at + dt.timedelta(hours=2),
        )
        campaign = campaigns.campaign_create(actor=SYSTEM, name="Webinars", utm_code="webinars")
        services.event_update(actor=SYSTEM, event=event, campaign_id=campaign.pk)
    assert len(smtp.messages) == 2
    cal, method = _calendar(smtp.parsed(1))
    assert smtp.parsed(1)["Subject"] == "Updated: Revenue teams 101"
    assert (method, str(_vevent(cal)["UID"]), int(_vevent(cal)["SEQUENCE"])) == (
        "REQUEST",
        event.uid,
        1,
    )
    assert _vevent(cal).decoded("DTSTART") == event.starts_at + dt.timedelta(hours=2)

    # cancel: METHOD:CANCEL, SEQUENCE 2, STATUS:CANCELLED; registration closes
    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(actor=SYSTEM, event=event)
        services.event_cancel(actor=SYSTEM, event=event)  # twice: once
    assert len(smtp.messages) == 3
    cal, method = _calendar(smtp.parsed(2))
    vevent = _vevent(cal)
    assert (str(cal["METHOD"]), method, int(vevent["SEQUENCE"]), str(vevent["STATUS"])) == (
        "CANCEL",
        "CANCEL",
        2,
        "CANCELLED",
    )
    assert vobject.readOne(_ics(smtp.parsed(2))).method.value == "CANCEL"
    assert services.invitations_deliver(event_id=event.pk) == 0  # a retried task sends nothing
    with pytest.raises(InvalidInput) as closed:
        services.register(event=event, email="late@example.com", name="Late")
    assert closed.value.code == "closed"
    assert EventReminder.objects.filter(claimed_at__isnull=True).count() == 0
    kinds = list(Touchpoint.objects.filter(channel="webinar").values_list("kind", flat=True))
    assert kinds == ["webinar_registered"]


def _ics(msg: EmailMessage) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    return str(part.get_content())


def test_reminders_are_claimed_once(world: Any, smtp: SmtpInbox) -> None:
    event = _webinar()
    services.register(event=event, email="a@example.com", name="A")
    services.register(event=event, email="b@example.com", name="B")
    assert EventReminder.objects.count() == 4  # 24 h and 1 h before, for each
    at = event.starts_at - dt.timedelta(hours=23)
    first = EventReminder.objects.filter(hours_before=24).order_by("pk").first()
    assert first is not None
    # another worker claimed this one already
    EventReminder.objects.filter(pk=first.pk).update(claimed_at=at)
    assert services.reminders_send_due(now=at) == 1
    assert services.reminders_send_due(now=at) == 0
    assert [m.rcpt_tos for m in smtp.messages] == [["b@example.com"]]
    assert smtp.parsed(0)["Subject"] == "Reminder: Revenue teams 101"
    assert services.reminders_send_due(now=event.starts_at - dt.timedelta(minutes=30)) == 2


ZOOM = (
    "\ufeffUSER EMAIL,Name (Original Name),join time,Leave Time,TIME IN SESSION (MINUTES)\r\n"
    "ada@example.com,Ada Lovelace,09/15/2026 10:02:33 AM,09/15/2026 10:12:33 AM,10\r\n"
    "walkin@example.com,Walk In,09/15/2026 10:05:00 AM,09/15/2026 10:50:00 AM,45\r\n"
    "ADA@example.com,Ada Lovelace,09/15/2026 10:20:00 AM,09/15/2026 10:35:00 AM,15\r\n"
    "not-an-email,Nobody,09/15/2026 10:05:00 AM,09/15/2026 10:06:00 AM,1\r\n"
    "late@example.com,Late,yesterday,09/15/2026 10:06:00 AM,1\r\n"
)


def test_attendance_import_no_shows_and_lead_rule(world: Any) -> None:
    event = _webinar()
    ada, _created = services.register(event=event, email="ada@example.com", name="Ada Lovelace")
    services.register(event=event, email="ghost@example.com", name="Ghost")
    customer = world.contacts[("sales_rep", "north")]
    Contact.objects.filter(pk=customer.pk).update(lifecycle_stage="opportunity")
    services.register(event=event, email=customer.email, name="Buyer")
    event = _held(event)

    report = imports.attendance_import(actor=SYSTEM, event=event, data=ZOOM.encode())
    assert report.imported == 2
    assert [row for row, _reason in report.errors] == [5, 6]
    ada.refresh_from_db()
    assert (ada.attended, ada.minutes) == (True, 25)
    assert ada.joined_at == dt.datetime(2026, 9, 15, 10, 2, 33, tzinfo=dt.UTC)
    assert ada.left_at == dt.datetime(2026, 9, 15, 10, 35, tzinfo=dt.UTC)
    walkin = Registration.objects.get(email="walkin@example.com")
    assert (walkin.source, walkin.attended, walkin.minutes) == ("import", True, 45)
    outcome = dict(Registration.objects.values_list("email", "attended"))
    assert outcome == {
        "ada@example.com": True,
        "walkin@example.com": True,
        "ghost@example.com": False,
        customer.email: False,
    }

    def kinds() -> dict[str, int]:
        out: dict[str, int] = {}
        for kind in Touchpoint.objects.filter(channel="webinar").values_list("kind", flat=True):
            out[kind] = out.get(kind, 0) + 1
        return out

    expected = {"webinar_registered": 4, "webinar_attended": 2, "webinar_no_show": 2}
    assert kinds() == expected
    imports.attendance_import(actor=SYSTEM, event=event, data=ZOOM.encode())
    assert kinds() == expected  # re-importing the file adds nothing

    moved = imports.attendees_to_leads(actor=SYSTEM, event=event)
    assert moved == 2
    stages = dict(
        Contact.objects.filter(event_registrations__event=event).values_list(
            "email", "lifecycle_stage"
        )
    )
    assert stages == {
        "ada@example.com": "lead",
        "walkin@example.com": "lead",
        "ghost@example.com": "subscriber",
        customer.email: "opportunity",
    }
    assert imports.attendees_to_leads(actor=SYSTEM, event=event) == 0

    with pytest.raises(InvalidInput) as missing:
        imports.attendance_import(actor=SYSTEM, event=event, data=b"name,minutes\nx,1\n")
    assert missing.value.errors == {"file": ["Missing columns: Email."]}


def test_badge_scans_for_a_conference(world: Any) -> None:
    event = _webinar(kind="conference", title="Revenue Summit", location="Expo Hall, Berlin")
    services.register(event=event, email="ada@example.com", name="Ada")
    event = _held(event)
    data = (
        b"Email,Name,Company,Scan Time\n"
        b"ada@example.com,Ada,Engines,2026-09-15 09:30\n"
        b"ada@example.com,Ada,Engines,2026-09-15 09:10\n"
        b"bob@example.com,Bob Builder,Bricks,2026-09-15 11:00\n"
        b",,,\n"
        b"bad,Bad,,2026-09-15 11:00\n"
    )
    report = imports.badge_scans_import(actor=SYSTEM, event=event, data=data)
    assert (report.imported, report.errors) == (3, [(6, "email: not a valid address: bad")])
    ada = Registration.objects.get(email="ada@example.com")
    assert ada.scanned_at == dt.datetime(2026, 9, 15, 9, 10, tzinfo=dt.UTC)
    bob = Registration.objects.get(email="bob@example.com")
    assert (bob.company, bob.source, bob.attended, bob.contact.first_name) == (
        "Bricks",
        "badge",
        True,
        "Bob",
    )
    attended = Touchpoint.objects.filter(kind="conference_attended").order_by("contact__email")
    assert [(t.contact.email, t.department, t.content) for t in attended] == [  # type: ignore[union-attr]
        ("ada@example.com", "marketing", event.slug),
        ("bob@example.com", "marketing", event.slug),
    ]


def test_event_pages_for_marketing_only(world: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conftest import PASSWORD

    rep = Client()
    rep.login(username="sales_rep_north", password=PASSWORD)
    assert rep.get("/marketing/events/").status_code == 404
    client = Client()
    client.login(username="marketer_north", password=PASSWORD)
    bad = client.post("/marketing/events/new", {"kind": "webinar", "title": "X"})
    assert bad.status_code == 400
    created = client.post(
        "/marketing/events/new",
        {
            "kind": "webinar",
            "title": "Pricing clinic",
            "starts_at": "2026-09-15T10:00",
            "ends_at": "2026-09-15T11:00",
            "organizer_name": "M",
            "organizer_email": "m@tandem.test",
            "reminder_hours": "48, 2",
        },
    )
    event = MarketingEvent.objects.get()
    assert created.status_code == 302
    assert (event.slug, event.reminder_hours, event.starts_at) == (
        "pricing-clinic",
        [48, 2],
        dt.datetime(2026, 9, 15, 10, tzinfo=dt.UTC),
    )
    assert rep.get(f"/marketing/events/{event.pk}/").status_code == 404
    upload = SimpleUploadedFile("zoom.csv", ZOOM.encode())
    page = client.post(f"/marketing/events/{event.pk}/attendance", {"file": upload, "close": "1"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Imported 2 rows, skipped 2." in body
    assert '<td id="attended">2</td>' in body


def test_registration_page_in_russian(world: Any) -> None:
    event = _webinar()
    page = Client().get(f"/marketing/events/r/{event.slug}", HTTP_ACCEPT_LANGUAGE="ru")
    body = page.content.decode()
    assert "Зарегистрироваться" in body
    assert "Компания" in body


@pytest.mark.parametrize(
    "body",
    [
        {"name": "N" * 201, "email": "ada@example.com"},
        {"name": "Ada", "email": "a" * 250 + "@example.com"},
        {"name": "Ada", "email": "ada@example.com", "company": "C" * 201},
    ],
)
def test_registration_page_bad_input_is_a_400_with_the_form_and_registers_nobody(
    world: Any, body: dict[str, str]
) -> None:
    event = _webinar()
    page = Client().post(f"/marketing/events/r/{event.slug}", body)
    assert page.status_code == 400
    assert page.context["errors"]
    assert not Registration.objects.filter(event=event).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_minutes", "-1"), ("min_minutes", "ten"), ("stage", "customer"), ("statuses", "maybe")],
)
def test_lead_rule_page_bad_input_is_a_form_error_and_saves_no_rule(
    world: Any, field: str, value: str
) -> None:
    from conftest import PASSWORD
    from tandem.marketing.models import EventLeadRule

    event = _webinar()
    client = Client()
    client.login(username="marketer_north", password=PASSWORD)
    body = {"statuses": "attended", "min_minutes": "10", "stage": "lead", field: value}
    page = client.post(f"/marketing/events/{event.pk}/lead-rule", body)
    assert page.status_code == 400
    assert field in page.context["errors"]
    assert not EventLeadRule.objects.exists()


def test_attendance_waits_for_the_event_and_its_phase_follows_the_clock(world: Any) -> None:
    """Attendance before the event begins, no-shows before it ends, and anything for a
    cancelled event are refused with a reason; the shown phase follows the clock."""
    event = _webinar()
    services.register(event=event, email="ada@example.com", name="Ada")
    assert event.phase_label == "Upcoming"
    with pytest.raises(InvalidInput) as early:
        imports.attendance_import(
            actor=SYSTEM, event=event, data=b"Email,Minutes\nada@example.com,5\n"
        )
    assert early.value.code == "not_started"
    with pytest.raises(InvalidInput):
        imports.badge_scans_import(actor=SYSTEM, event=event, data=b"email\nada@example.com\n")
    assert not Registration.objects.filter(attended__isnull=False).exists()

    starts = timezone.now() - dt.timedelta(minutes=10)
    MarketingEvent.objects.filter(pk=event.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    event.refresh_from_db()
    assert event.phase == "live"
    with pytest.raises(InvalidInput) as running:
        imports.no_shows_close(event=event)
    assert running.value.code == "not_ended"
    imports.attendance_import(actor=SYSTEM, event=event, data=b"Email,Minutes\nbob@example.com,5\n")
    assert Registration.objects.get(email="ada@example.com").attended is None  # not yet a no-show

    event = _held(event)
    assert event.phase_label == "Held"
    assert imports.no_shows_close(event=event) == 1
    services.event_cancel(actor=SYSTEM, event=_webinar(title="Gone"))
    gone = MarketingEvent.objects.get(title="Gone")
    assert gone.phase == "cancelled"
    with pytest.raises(InvalidInput):
        imports.attendance_import(actor=SYSTEM, event=gone, data=b"Email\nx@example.com\n")


def test_the_event_page_offers_attendance_only_once_the_event_began(world: Any) -> None:
    client = Client()
    client.force_login(world.users[("marketer", "north")])
    event = _webinar()
    page = client.get(reverse("marketing:event_detail", args=[event.pk])).content.decode()
    assert 'id="attendance-later"' in page
    assert "Upcoming" in page
    early = client.post(
        reverse("marketing:event_action", args=[event.pk, "no_shows"]), follow=False
    )
    assert early.status_code == 400
    assert "once the event has ended" in early.content.decode()
    event = _held(event)
    page = client.get(reverse("marketing:event_detail", args=[event.pk])).content.decode()
    assert 'id="attendance-later"' not in page
    assert "Held" in page
