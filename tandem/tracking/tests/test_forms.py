"""Embeddable forms: contacts, consent evidence, honeypot, rate limit, double opt-in by SMTP."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client

from conftest import SmtpInbox
from tandem.crm.models import Contact, Identity, Touchpoint
from tandem.tracking.models import ConsentRecord, Form

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


@pytest.fixture
def newsletter(db: None) -> Form:
    return Form.objects.create(
        name="Newsletter",
        campaign="spring",
        fields=[
            {"name": "first_name", "label": "First name", "required": True},
            {"name": "company_size", "label": "Company size"},
        ],
        consent_purpose="marketing_email",
        consent_wording="Send me the newsletter.",
        consent_version="2026-01",
        double_opt_in=True,
    )


def test_definition_and_embed_snippet(newsletter: Form) -> None:
    definition = Client().get(f"/f/{newsletter.key}.json").json()
    assert [f["name"] for f in definition["fields"]] == ["email", "first_name", "company_size"]
    assert definition["consent"] == {
        "purpose": "marketing_email",
        "wording": "Send me the newsletter.",
        "version": "2026-01",
    }
    html = Client().get(f"/f/{newsletter.key}/embed").content.decode()
    assert f'action="http://testserver/f/{newsletter.key}/submit"' in html
    assert 'name="website_url"' in html
    assert Client().get("/f/nope.json").status_code == 404


def test_errors_are_reported_per_field(newsletter: Form) -> None:
    response = Client().post(
        f"/f/{newsletter.key}/submit", {"email": "not-an-email", "first_name": ""}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "email": ["Enter a valid email address."],
        "first_name": ["This field is required."],
    }
    assert Contact.objects.count() == 0


def test_submission_creates_contact_records_consent_and_confirms_by_email(
    newsletter: Form, smtp_inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            f"/f/{newsletter.key}/submit",
            data='{"email": "Nina@Farm.example", "first_name": "Nina", "consent": true, '
            '"company_size": "50", "anonymous_id": "visitor-1"}',
            content_type="application/json",
            HTTP_USER_AGENT=UA,
            REMOTE_ADDR="198.51.100.7",
        )
    assert response.status_code == 200
    assert response.json()["confirmation_sent"] is True
    contact = Contact.objects.get(email="nina@farm.example")
    assert (contact.first_name, contact.consent) == ("Nina", "pending")
    record = ConsentRecord.objects.get()
    assert (
        record.purpose,
        record.wording,
        record.wording_version,
        record.state,
        record.ip,
        record.user_agent,
    ) == ("marketing_email", "Send me the newsletter.", "2026-01", "pending", "198.51.100.7", UA)
    assert Identity.objects.get(value="visitor-1").contact_id == contact.pk
    touch = Touchpoint.objects.get(kind="form_submitted")
    assert (touch.contact_id, touch.campaign, touch.properties["fields"]) == (
        contact.pk,
        "spring",
        {"company_size": "50", "consent": True},
    )

    for _ in range(50):
        if smtp_inbox.messages:
            break
        time.sleep(0.05)
    assert len(smtp_inbox.messages) == 1
    body = smtp_inbox.contents[0].decode()
    assert "nina@farm.example" in body
    link = re.search(r"http://testserver(/f/confirm/\S+)", body)
    assert link is not None
    page = Client().get(link.group(1), HTTP_USER_AGENT=UA)
    assert page.status_code == 200
    Client().get(link.group(1))  # a second open changes nothing
    contact.refresh_from_db()
    assert contact.consent == "granted"
    assert list(ConsentRecord.objects.order_by("id").values_list("state", flat=True)) == [
        "pending",
        "confirmed",
    ]
    assert Client().get("/f/confirm/forged:value").status_code == 400


def test_second_submission_updates_the_same_contact(newsletter: Form) -> None:
    Client().post(f"/f/{newsletter.key}/submit", {"email": "a@b.example", "first_name": "A"})
    Client().post(f"/f/{newsletter.key}/submit", {"email": "A@B.example", "first_name": "Z"})
    assert Contact.objects.filter(email="a@b.example").count() == 1
    assert Contact.objects.get(email="a@b.example").first_name == "A"
    assert Touchpoint.objects.filter(kind="form_submitted").count() == 2
    assert ConsentRecord.objects.count() == 0  # the box was not ticked


def test_honeypot_and_rate_limit(newsletter: Form, settings: Any) -> None:
    settings.TRACKING_FORM_RATE_LIMIT = 3
    bot = Client().post(
        f"/f/{newsletter.key}/submit",
        {"email": "bot@spam.example", "first_name": "B", "website_url": "http://spam"},
    )
    assert bot.status_code == 200
    assert Contact.objects.count() == 0
    client = Client(REMOTE_ADDR="203.0.113.50")
    statuses = [
        client.post(
            f"/f/{newsletter.key}/submit", {"email": f"p{i}@x.example", "first_name": "P"}
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert Contact.objects.count() == 3
