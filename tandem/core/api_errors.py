"""Every API error is JSON: `{"code": "...", "message": "...", "details": {...}}` with a 4xx status.

Invariants:
- bad input of any kind (a wrong field, a wrong type, an unknown field, malformed JSON, bad UTF-8,
  a body that is too large, a wrong content type) is a 4xx and changes nothing;
- `details` maps a field name (or "__all__") to a list of messages for field errors;
- a database that cannot be reached is a 503 with Retry-After (`core.outage`), never a 500;
- a 500 is only the last resort for a bug: it is logged with its traceback and still answers JSON
  without internals.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from tandem.core.errors import InvalidInput
from tandem.core.outage import RETRY_AFTER_SECONDS

logger = logging.getLogger("tandem.api")

JSON_TYPES = ("application/json",)


class Error(Schema):
    """The body of every error answer."""

    code: str
    message: str
    details: dict[str, Any]


class ApiError(Exception):
    """An error the API answers as such: status, machine code, human message, details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(message)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = JsonResponse(
        {"code": code, "message": message, "details": details or {}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


MAX_JSON_DEPTH = 20


def _check_text(value: Any, path: str, depth: int = 0) -> None:
    """Refuse strings no database stores (NUL characters, lone surrogates) and deep nesting."""
    if depth > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            "invalid",
            _("The body is nested too deeply."),
            {path or "body": [_("at most %(n)d levels") % {"n": MAX_JSON_DEPTH}]},
        )
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(
                400,
                "invalid",
                _("Text may not contain NUL characters."),
                {path or "body": [_("contains a NUL character")]},
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400,
                "bad_encoding",
                _("Text must be valid Unicode."),
                {path or "body": [_("contains an unpaired surrogate")]},
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path, depth + 1)
            _check_text(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}.{index}" if path else str(index), depth + 1)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StrictJsonParser(Parser):
    """JSON bodies only: the right content type, UTF-8, standard JSON, storable text."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = request.content_type or ""
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            raise ApiError(415, "unsupported_media_type", _("Send the body as application/json."))
        charset = (request.content_params or {}).get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", _("Send the body as UTF-8."))
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_encoding", _("The body is not valid UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise ApiError(400, "malformed_json", _("The body is not valid JSON.")) from None
        _check_text(data, "")
        return data


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    """'name' for ('body', 'payload', 'name'); 'limit' for ('query', 'limit')."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        parts = parts[1:]
        if len(parts) > 1 and parts[0] == "filters":
            parts = parts[1:]
    return ".".join(parts) or "__all__"


def _validation_details(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    details: dict[str, list[str]] = {}
    for error in errors:
        name = _field_name(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "missing":
            message = "is required"
        details.setdefault(name, []).append(message)
    return details


def _on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, ApiError):  # raised by the body parser, wrapped by ninja
        return _on_api_error(request, cause)
    if isinstance(cause, RequestDataTooBig):
        return _on_too_big(request, cause)
    codes = {
        400: "bad_request",
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        429: "rate_limited",
    }
    if isinstance(exc, AuthenticationError):
        return error_response(
            401, "not_authenticated", _("Send an API token: Authorization: Bearer tdm_…")
        )
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    return error_response(status, codes.get(status, "error"), str(exc))


def _on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(
        400, "invalid", _("Some fields are not valid."), _validation_details(exc.errors)
    )


def _on_invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    return error_response(400, exc.code, exc.message, exc.errors)


def _on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "not_found", _("No such record."))


def _on_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(403, "forbidden", _("You may not do this."))


def _on_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(413, "too_large", _("The request body is too large."))


def _on_suspicious(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(400, "bad_request", _("The request was refused."))


def _on_bad_multipart(request: HttpRequest, exc: Exception) -> HttpResponse:
    message = _("The multipart body cannot be read: %(reason)s") % {"reason": exc}
    return error_response(400, "invalid_multipart", message)


def _on_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("API %s %s: database unavailable: %s", request.method, request.path, exc)
    return error_response(
        503,
        "unavailable",
        _("The service is briefly unavailable; retry later."),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "server_error", _("Something went wrong on our side."))


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace ninja's default handlers with ones answering the JSON error shape."""
    handlers: list[tuple[type[Exception], Any]] = [
        (Exception, _on_unexpected),
        (OperationalError, _on_database_unavailable),
        (InterfaceError, _on_database_unavailable),
        (ApiError, _on_api_error),
        (HttpError, _on_http_error),
        (ValidationError, _on_validation_error),
        (InvalidInput, _on_invalid_input),
        (Http404, _on_not_found),
        (ObjectDoesNotExist, _on_not_found),
        (PermissionDenied, _on_permission_denied),
        (RequestDataTooBig, _on_too_big),
        (TooManyFieldsSent, _on_suspicious),
        (SuspiciousOperation, _on_suspicious),
        (MultiPartParserError, _on_bad_multipart),  # e.g. no boundary: a file upload
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


def retry_after_seconds(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
