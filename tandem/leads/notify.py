"""Telling people: an in-app `Notification` now, an email after the transaction commits.

Invariants:
- the text is rendered in the recipient's language (their own, else the organisation's);
- email is sent only after commit (`transaction.on_commit`), so a rolled-back change sends
  nothing; a failing mail server never undoes the change (errors are logged, not raised);
- inactive users and users without an email address get the in-app notification only;
- the subject is one line (`core.mail_headers.one_line`): a name with a line break in it never
  stops the email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation

from tandem.core.mail_headers import one_line
from tandem.core.models import Organisation, User
from tandem.leads.models import Notification

log = logging.getLogger(__name__)


def _language(user: User) -> str:
    return user.language or Organisation.current().language or settings.LANGUAGE_CODE


def notify(
    *,
    user: User,
    kind: str,
    text: Callable[[], str],
    url: str = "",
    email_subject: Callable[[], str] | None = None,
) -> Notification | None:
    """Notify `user`; `text` and `email_subject` are called under the user's language."""
    if not user.is_active:
        return None
    with translation.override(_language(user)):
        body = str(text())[:500]
        subject = one_line(email_subject()) if email_subject else ""
    note = Notification.objects.create(user=user, kind=kind, text=body, url=url[:300])
    if subject and user.email:
        address = user.email

        def send() -> None:
            try:
                send_mail(subject, f"{body}\n\n{url}".strip(), None, [address])
            except Exception:  # the change is committed; a mail outage must not look like a failure
                log.exception("could not email notification %s", note.pk)

        transaction.on_commit(send)
    return note
