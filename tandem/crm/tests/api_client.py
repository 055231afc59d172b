"""Helpers for API tests: a real token for a persona and a Django test client that sends it."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.core.tokens import token_create

API = "/api/v1"


def token_for(user: User, scope: str = "write", name: str = "test") -> str:
    return token_create(actor=Actor(user=user), user=user, name=name, scope=scope).secret


class ApiClient:
    """Calls /api/v1 through Django's full request stack with `Authorization: Bearer …`."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def _call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if body is not None and "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("content_type", "application/json")
        return getattr(self.client, method)(f"{API}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("get", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self._call("post", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self._call("patch", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("delete", path, **kwargs)


def api_as(user: User, scope: str = "write") -> ApiClient:
    return ApiClient(token_for(user, scope))
