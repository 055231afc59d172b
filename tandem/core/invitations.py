"""The invitation email: a link with which an invited person sets their first password.

The link is Django's password-reset link (`default_token_generator`, the user's id in base 64) to
`core:password_set`, made absolute with the public base URL (`TANDEM_BASE_URL`) when one is set,
else with the host the inviting request came to.

Invariants:
- the token is made when the email is sent, by the worker; it stops working once a password is
  set (the token covers the password hash), after `PASSWORD_RESET_TIMEOUT`, or when the person is
  deactivated;
- the email goes only to an active person who has no usable password yet, so running the task
  again after they set a password sends nothing.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from tandem.core.mail_headers import one_line
from tandem.core.models import Organisation, User


def site_url_of(request: HttpRequest) -> str:
    """Tandem's public base URL: `TANDEM_BASE_URL` if set, else the request's own host."""
    configured = getattr(settings, "TANDEM_BASE_URL", "") or os.environ.get("TANDEM_BASE_URL", "")
    return (configured or request.build_absolute_uri("/")).rstrip("/")


def invitation_link(user: User, site_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("core:password_set", kwargs={"uidb64": uid, "token": token})
    return site_url.rstrip("/") + path


def invitation_email_send(*, user_id: int, site_url: str) -> bool:
    """Send the invitation to `user_id`; False (nothing sent) when it no longer applies."""
    user = User.objects.filter(pk=user_id, is_active=True).select_related("team").first()
    if user is None or not user.email or user.has_usable_password():
        return False
    org = Organisation.current()
    with translation.override(user.language or org.language):
        context = {
            "organisation": org.name,
            "name": user.first_name or user.email,
            "link": invitation_link(user, site_url),
            "username": user.username,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        subject = one_line(_("You are invited to %(organisation)s on Tandem") % context)
        body = render_to_string("core/email/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True
