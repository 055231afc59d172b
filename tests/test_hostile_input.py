"""The hostile inputs found by attacking a running Tandem, each answered without a server error:
far dates, numbers no database column holds, a relative `next`, nesting hundreds of levels
deep, timestamps in the wrong format. (Every page's parameters at large: test_page_fuzzing.py;
every API operation: test_api_schemathesis.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from conftest import PASSWORD, World
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.core.tokens import token_create

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999"


def _client(world: World, role: str = Role.ADMIN) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def _api(world: World, role: str = Role.ADMIN) -> dict[str, str]:
    user = world.user(role)
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="write").secret
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.mark.parametrize("target", ["foo", "foo/bar", "//evil.example.com/", "https://evil.io/"])
def test_sign_in_with_a_next_that_is_not_a_path_here_still_signs_in(
    world: World, target: str
) -> None:
    client = Client()
    response = client.post(
        f"/login/?next={target}", {"username": "admin_north", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_sign_in_follows_a_next_path_on_this_site(world: World) -> None:
    response = Client().post(
        "/login/?next=/crm/contacts/", {"username": "admin_north", "password": PASSWORD}
    )
    assert (response.status_code, response["Location"]) == (302, "/crm/contacts/")


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2999-12-31", "1900-01-01"])
def test_the_forecast_page_answers_for_any_date(world: World, day: str) -> None:
    assert _client(world).get("/sales/forecast/", {"date": day}).status_code == 200


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_the_forecast_api_refuses_dates_out_of_range_and_other_formats(
    world: World, period: str
) -> None:
    client, auth = Client(), _api(world)
    for day in ("9999-12-31", "0001-01-01", "1700000000", "2026-06-01T00:00:00", "2026-02-30"):
        response = client.get("/api/v1/sales/forecast", {"date": day, "period": period}, **auth)
        assert response.status_code == 400, (day, response.content)
        assert "date" in response.json()["details"]
    ok = client.get("/api/v1/sales/forecast", {"date": "2999-12-31", "period": period}, **auth)
    assert ok.status_code == 200


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "0000-01", "2026-13", HUGE + "-1"])
def test_the_social_calendar_answers_for_any_month(world: World, month: str) -> None:
    response = _client(world, Role.MARKETER).get("/marketing/social/", {"month": month})
    assert response.status_code == 200


@pytest.mark.parametrize("key", ["owner", "pipeline", "stage"])
@pytest.mark.parametrize("value", [HUGE, "\u00b2", "\u0661"])
def test_the_deal_list_ignores_ids_no_database_holds(world: World, key: str, value: str) -> None:
    assert _client(world).get("/sales/deals/", {key: value}).status_code == 200


@pytest.mark.parametrize("value", [HUGE, "-" + HUGE])
def test_a_territory_naming_a_person_by_an_impossible_id_is_a_form_error(
    world: World, value: str
) -> None:
    response = _client(world).post(
        "/leads/routing/territories/", {"name": "T", "members": [value], "head": value}
    )
    assert response.status_code in (200, 400)


def _nested(depth: int) -> str:
    """A definition `depth` groups deep, as JSON text (too deep for json.dumps to write)."""
    leaf = '{"type": "field", "field": "first_name", "op": "eq", "value": "a"}'
    return '{"type": "and", "children": [' * depth + leaf + "]}" * depth


@pytest.mark.parametrize("depth", [30, 300, 900])
def test_a_segment_count_nested_hundreds_of_levels_is_an_error_not_a_crash(
    world: World, depth: int
) -> None:
    client = _client(world, Role.MARKETER)
    text = _nested(depth)
    page = client.post("/marketing/segments/count", {"definition": text, "format": "json"})
    assert page.status_code == 200
    assert page.json()["count"] is None
    assert page.json()["errors"]
    api = Client().post(
        "/api/v1/marketing/segments/count",
        '{"definition": ' + _nested(depth) + "}",
        content_type="application/json",
        **_api(world, Role.MARKETER),
    )
    assert api.status_code == 400


@pytest.mark.parametrize(
    "occurred_at",
    [1700000000, "1700000000", "2026-06-01", "2026-06-01T10:00:00", "0001-01-01T00:00:00Z"],
)
def test_a_touchpoint_time_accepts_only_an_rfc_3339_date_time(
    world: World, occurred_at: Any
) -> None:
    contact = world.contacts[(Role.SALES_REP, "north")]
    body = {
        "contact_id": contact.pk,
        "channel": "phone",
        "kind": "sales_call",
        "department": "sales",
        "occurred_at": occurred_at,
    }
    response = Client().post(
        "/api/v1/touchpoints", json.dumps(body), content_type="application/json", **_api(world)
    )
    assert response.status_code == 400, response.content
    assert "occurred_at" in response.json()["details"]
    body["occurred_at"] = "2026-06-01T10:00:00+03:00"
    response = Client().post(
        "/api/v1/touchpoints", json.dumps(body), content_type="application/json", **_api(world)
    )
    assert response.status_code == 201, response.content


def _nullable(schema: dict[str, Any], name: str) -> set[str]:
    properties = schema["components"]["schemas"][name]["properties"]
    return {
        field
        for field, spec in properties.items()
        if any(option.get("type") == "null" for option in spec.get("anyOf", []))
    }


def test_patch_fields_that_refuse_null_are_not_nullable_in_the_schema(world: World) -> None:
    from tandem.leads import handoff_rules
    from tandem.marketing.models import SubscriptionType
    from tandem.marketing.subscriptions.defaults import ensure_defaults
    from tandem.sales import services as sales
    from tandem.tracking import forms_service

    system = Actor.system()
    sales.pipeline_create(
        actor=system,
        name="P",
        stages=[
            {"name": "Q", "probability": 10},
            {"name": "W", "kind": "won"},
            {"name": "L", "kind": "lost"},
        ],
    )
    deal = sales.deal_create(actor=system, name="D", owner_id=world.user(Role.ADMIN).pk)
    product = sales.product_create(actor=system, sku="S", name="N")
    territory = handoff_rules.territory_create(actor=system, name="North")
    form = forms_service.form_create(actor=system, name="Contact us")
    ensure_defaults(SubscriptionType)
    client, auth = Client(), _api(world)
    schema = client.get("/api/v1/openapi.json", **auth).json()
    for path, name, fields in [
        (f"/api/v1/sales/deals/{deal.pk}", "DealPatch", ["name", "amount", "currency"]),
        (
            f"/api/v1/sales/products/{product.pk}",
            "ProductPatch",
            ["sku", "name", "description", "self_service", "active"],
        ),
        (
            f"/api/v1/leads/territories/{territory.pk}",
            "TerritoryPatch",
            ["name", "region", "industry", "member_ids"],
        ),
        (
            "/api/v1/marketing/subscription-types/newsletter",
            "SubscriptionTypePatch",
            ["key", "name", "description", "wording", "wording_version", "double_opt_in"],
        ),
        (
            f"/api/v1/tracking/forms/{form.pk}",
            "FormChangeIn",
            ["name", "fields", "consent_purpose", "double_opt_in", "campaign", "redirect_url"],
        ),
    ]:
        nullable = _nullable(schema, name)
        for field in fields:
            response = client.patch(
                path, json.dumps({field: None}), content_type="application/json", **auth
            )
            assert response.status_code == 400, (path, field)
            assert field not in nullable, (name, field)
        for field in nullable:  # what the schema calls nullable is taken as null
            response = client.patch(
                path, json.dumps({field: None}), content_type="application/json", **auth
            )
            assert response.status_code == 200, (path, field, response.content)
