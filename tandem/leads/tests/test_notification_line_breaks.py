"""A name with a line break (typed into a form, imported, or sent by a tracking client) never
stops an email: the subject becomes one line and the message reaches a real SMTP server."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.mail import BadHeaderError, send_mail

from conftest import SmtpInbox, World
from tandem.core.invitations import invitation_email_send
from tandem.core.mail_headers import one_line
from tandem.core.models import Organisation, User
from tandem.leads.notify import notify

pytestmark = pytest.mark.django_db
NAMES = ["Eve\r\nBcc: victim@example.com", "Line\nbreak", "Tab\tand\rreturn", "Sep\u2028arator"]


@pytest.mark.parametrize("name", NAMES)
def test_a_notification_about_a_name_with_a_line_break_is_emailed(
    world: World, smtp_inbox: SmtpInbox, django_capture_on_commit_callbacks: Any, name: str
) -> None:
    if "\n" in name or "\r" in name:  # what Django does with such a subject as it is
        with pytest.raises(BadHeaderError):
            send_mail(f"New lead: {name}", "body", None, ["x@example.com"])
    user = world.user("sales_rep")
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            user=user,
            kind="handoff",
            text=lambda: f"New lead: {name}",
            url="/leads/",
            email_subject=lambda: f"New lead: {name}",
        )
    assert len(smtp_inbox.messages) == 1
    message = smtp_inbox.parsed(0)
    assert message["Subject"] == one_line(f"New lead: {name}")
    assert "\n" not in message["Subject"]
    assert "\r" not in message["Subject"]
    assert message["Bcc"] is None
    assert smtp_inbox.messages[0].rcpt_tos == [user.email]


def test_an_invitation_from_an_organisation_with_a_line_break_in_its_name_is_emailed(
    world: World, smtp_inbox: SmtpInbox
) -> None:
    Organisation.objects.filter(pk=Organisation.current().pk).update(name="Acme\r\nBcc: x@y.io")
    cache.clear()  # the organisation is cached
    invited = User.objects.create_user(username="new@acme.io", email="new@acme.io")
    invited.set_unusable_password()
    invited.save()
    assert invitation_email_send(user_id=invited.pk, site_url="https://tandem.example.com")
    assert len(smtp_inbox.messages) == 1
    assert "\n" not in smtp_inbox.parsed(0)["Subject"]
    assert smtp_inbox.parsed(0)["Bcc"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\r\nb", "a b"), ("  Ünïcode\u2029name  ", "Ünïcode name"), ("x" * 300, "x" * 200)],
)
def test_one_line_keeps_the_text_and_drops_only_breaks(text: str, expected: str) -> None:
    assert one_line(text) == expected
