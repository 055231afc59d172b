"""Per-user language: the language chosen in the session (set at sign-in from the user's own
language, else the organisation's default, and by the language switch); otherwise the browser's.

It runs after SessionMiddleware and before LocaleMiddleware, and hands the choice to
LocaleMiddleware as the language cookie would, so one mechanism decides the request's language.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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
