"""API output: the JSON renderer's encoding rules and tag names read once per page."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import uuid

import pydantic_core
import pytest
from django.core.cache import cache
from django.utils.translation import gettext_lazy, override

from tandem.core.api_output import JSONRenderer
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.tests.api_client import api_as


def _render(data: object) -> object:
    body = JSONRenderer().render(None, data, response_status=200)  # type: ignore[arg-type]
    assert isinstance(body, bytes)
    return json.loads(body.decode("utf-8"))


def test_the_renderer_writes_valid_utf8_json_for_every_value_the_api_returns():
    moment = dt.datetime(2026, 11, 27, 9, 30, 5, 123456, tzinfo=dt.UTC)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with override("ru"):
        data = _render(
            {
                "at": moment,
                "day": dt.date(2026, 2, 1),
                "amount": decimal.Decimal("10.50"),
                "id": key,
                "message": gettext_lazy("Method not allowed here."),
                "name": "Иван «Ёж»",
                "ratio": float("nan"),
                "top": float("inf"),
                "nested": [{"n": 1}],
            }
        )
    assert data == {
        "at": "2026-11-27T09:30:05.123456Z",
        "day": "2026-02-01",
        "amount": "10.50",
        "id": str(key),
        "message": "Этот метод здесь не разрешён.",
        "name": "Иван «Ёж»",
        "ratio": None,  # never the invalid JSON NaN
        "top": None,
        "nested": [{"n": 1}],
    }
    body = JSONRenderer().render(None, {"name": "Ёж"}, response_status=200)  # type: ignore[arg-type]
    assert "Ёж".encode() in body  # UTF-8, not \\u escapes


@pytest.mark.django_db
def test_list_and_detail_give_the_same_sorted_tag_names(world):
    cache.clear()
    head = world.user("head")
    made = [
        crm.contact_create(actor=Actor.system(), first_name=f"T{i}", owner_id=head.pk, tags=tags)
        for i, tags in enumerate([["zeta", "alpha", "mid"], [], ["only"]])
    ]
    api = api_as(head)
    listed = {row["id"]: row["tags"] for row in api.get("/contacts?limit=200").json()["items"]}
    for contact, expected in zip(made, [["alpha", "mid", "zeta"], [], ["only"]], strict=True):
        assert listed[contact.pk] == expected
        assert api.get(f"/contacts/{contact.pk}").json()["tags"] == expected


def test_the_renderer_refuses_what_it_does_not_know_instead_of_writing_its_repr():
    class Opaque:
        pass

    with pytest.raises(pydantic_core.PydanticSerializationError, match="Opaque"):
        JSONRenderer().render(None, {"x": Opaque()}, response_status=200)  # type: ignore[arg-type]
    assert _render({"ip": ipaddress.ip_address("10.0.0.1")}) == {"ip": "10.0.0.1"}
