"""Password reset by email, answered the same whether or not the address belongs to anyone.

Invariants:
- the page's answer (status, words, the queries it makes) does not depend on the address: the
  request only enqueues `password_reset_send` with the address typed, and the worker looks it up;
  nobody can learn from the answer or its timing whether an account exists;
- mail goes only to active users with a usable password and that address (Django's
  `PasswordResetForm.get_users`), at most `PUBLIC_EMAIL_RATE_LIMIT` per address in ten minutes
  (the shared email limit): the form cannot mail-bomb an address;
- the link is Django's password-reset token (`PASSWORD_RESET_TIMEOUT`), opened by the same
  set-password page as an invitation; it works once (the token changes with the password).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from tandem.core.invitations import invitation_link
from tandem.core.mail_headers import one_line
from tandem.core.models import Organisation
from tandem.core.ratelimit import email_rate_limit_hit


def password_reset_email_send(*, email: str, site_url: str) -> int:
    """Mail a set-password link to each active account with this address; how many were sent."""
    users = list(PasswordResetForm().get_users(email))
    if not users or email_rate_limit_hit(email).limited:
        return 0
    org = Organisation.current()
    for user in users:
        with translation.override(user.language or org.language):
            context = {
                "organisation": org.name,
                "name": user.first_name or user.username,
                "link": invitation_link(user, site_url),
                "username": user.username,
                "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
            }
            subject = one_line(_("Choose a new password for Tandem"))
            body = render_to_string("core/email/password_reset.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return len(users)
