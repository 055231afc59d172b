"""Answering while the database cannot be reached: 503 with Retry-After, never a 500.

Django calls `server_error` (settings' `handler500`) for an exception no view handled, inside
the `except` block, so the exception is at hand. When it says the database is unreachable or
gone (`OperationalError`, `InterfaceError`: a refused connection, a dropped one, SQLite's
"unable to open" or "locked"), the answer is 503 with `Retry-After`, JSON for the API and the
public endpoints, a short page otherwise; anything else is Django's plain 500. The API's own
handler (`api_errors`) answers the same way for operations.

Invariants:
- no database query and no template is used to answer (either may be what failed);
- `Retry-After` is always present on a 503 (`RETRY_AFTER_SECONDS`).
"""

from __future__ import annotations

import json
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
_JSON_PREFIXES = ("/api/", "/v1/", "/f/")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unavailable_response(request: HttpRequest) -> HttpResponse:
    message = "The service is briefly unavailable; try again in a few seconds."
    if request.path.startswith(_JSON_PREFIXES) or "json" in request.headers.get("Accept", ""):
        body = {"code": "unavailable", "message": message, "details": {}}
        response = HttpResponse(json.dumps(body), status=503, content_type="application/json")
    else:
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>503</title></head>"
            f"<body><h1>Service unavailable</h1><p>{message}</p></body></html>"
        )
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """`handler500`: 503 + Retry-After when the database is unreachable, else Django's 500."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    return django_server_error(request, template_name=template_name)
