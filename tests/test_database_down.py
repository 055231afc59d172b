"""With the database unreachable, the API, the public endpoints and the pages answer 503 with
Retry-After (as ingestion does), never a 500. The test points Django's connection at a closed
port (PostgreSQL) or an unopenable file (SQLite); the shared server is never stopped."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def database_down() -> Iterator[None]:
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
        connection.settings_dict.setdefault("OPTIONS", {})
        connection.settings_dict["OPTIONS"] = {
            **saved.get("OPTIONS", {}),
            "connect_timeout": 2,
        }
    else:
        connection.settings_dict["NAME"] = "/nonexistent-directory/tandem.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


REQUESTS = [
    ("get", "/api/v1/contacts", {"HTTP_AUTHORIZATION": "Bearer tdm_" + "x" * 40}, "json"),
    ("get", "/api/v1/sales/forecast", {}, "json"),
    ("post", "/api/v1/sales/price-request", {}, "json"),
    ("post", "/f/somekey/submit", {}, "any"),
    ("get", "/f/somekey.json", {}, "any"),
    ("get", "/quote/sometoken/", {}, "any"),
    ("post", "/price-request/", {}, "any"),
    ("get", "/e/u/sometoken", {}, "any"),
    ("get", "/login/", {}, "html"),
    ("post", "/login/", {}, "html"),
    ("post", "/v1/track", {"HTTP_AUTHORIZATION": "Basic eDo="}, "json"),
]


@pytest.mark.parametrize(("method", "path", "headers", "kind"), REQUESTS)
def test_with_the_database_down_every_answer_is_503_with_retry_after(
    database_down: None, method: str, path: str, headers: dict[str, str], kind: str
) -> None:
    client = Client(raise_request_exception=False)
    if method == "post":
        body = '{"event": "x", "anonymousId": "a"}' if path.startswith("/v1/") else "{}"
        response = client.post(path, body, content_type="application/json", **headers)
    else:
        response = client.get(path, **headers)
    assert response.status_code == 503, (path, response.content[:300])
    assert int(response["Retry-After"]) >= 1
    if kind == "json":
        assert response.json()["code"] == "unavailable"
