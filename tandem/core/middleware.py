"""Per-user language and time zone.

Language: the language chosen in the session (set at sign-in from the user's own language, else
the organisation's default, and by the language switch); otherwise the browser's.
`UserLanguageMiddleware` runs after SessionMiddleware and before LocaleMiddleware, and hands the
choice to LocaleMiddleware as the language cookie would, so one mechanism decides the language.

Time zone: the signed-in user's own zone, else the organisation's (`TimeZoneMiddleware`, after
AuthenticationMiddleware), activated with `django.utils.timezone.activate` for the request, so
templates show times and forms read typed times in it. Invariant: the zone is deactivated when
the request ends, whatever happened, so no zone leaks into the next request on the thread.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tandem.core.models import Organisation
from tandem.core.services import ORGANISATION_TIME_ZONE_KEY

SESSION_KEY = "tandem_language"


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = session.get(SESSION_KEY) if session is not None else None
        if isinstance(language, str) and language in dict(settings.LANGUAGES):
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = language
        return self.get_response(request)


def organisation_time_zone() -> str:
    """The organisation's zone name, from the shared cache (cleared when the settings change)."""
    name = cache.get(ORGANISATION_TIME_ZONE_KEY)
    if not isinstance(name, str):
        name = Organisation.current().time_zone
        cache.set(ORGANISATION_TIME_ZONE_KEY, name, 60)
    return name


def time_zone_of(user: object) -> str:
    """The zone a user works in: their own if set, else the organisation's."""
    own = getattr(user, "time_zone", "") if getattr(user, "is_authenticated", False) else ""
    return own or organisation_time_zone()


class TimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            timezone.activate(zoneinfo.ZoneInfo(time_zone_of(getattr(request, "user", None))))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
