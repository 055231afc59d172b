"""The visual segment builder's server side: the catalogue generated from the schema (nothing the
schema accepts is missing from it), the JSON live count with errors placed on their conditions,
the edit page carrying the catalogue, permissions, and bad definitions as form errors."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from pydantic import BaseModel

from conftest import PASSWORD, World
from tandem.crm.models import AttributeTarget, CustomAttribute
from tandem.marketing.models import Segment
from tandem.marketing.segments import catalogue as cat
from tandem.marketing.segments import compiler
from tandem.marketing.segments import schema as s

pytestmark = pytest.mark.django_db


def _client(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _page_catalogue(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index('<script id="segment-catalogue" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_catalogue_covers_every_schema_field_type_and_operator(world: World) -> None:
    CustomAttribute.objects.create(
        target=AttributeTarget.CONTACT, key="fleet_size", label="Fleet size", type="number"
    )
    data = cat.catalogue(world.user("marketer"))
    keys = {f["key"]: f for f in data["fields"]}
    assert set(s.CONTACT_FIELDS) <= set(keys)
    for key, (_path, kind) in s.CONTACT_FIELDS.items():
        ui_kind = "choice" if kind in compiler.CHOICES else kind
        assert set(keys[key]["ops"]) == compiler.OPS_BY_KIND[ui_kind], key
        if kind in compiler.CHOICES:
            assert {c[0] for c in keys[key]["choices"]} == compiler.CHOICES[kind]
    assert keys["contact.custom.fleet_size"]["ops"] == sorted(
        compiler.OPS_BY_KIND["number"], key=list(data["ops"]).index
    )
    # every node type of the discriminated union, with a label
    union = typing.get_args(typing.get_args(s.Node)[0])
    types = {cat.literal_values(m, "type")[0] for m in union}
    assert types == set(data["nodes"]) == set(cat.node_types())
    # every operator literal anywhere in the schema has a label
    literals = set(typing.get_args(s.Op))
    models: list[tuple[type[BaseModel], str]] = [
        (s.TagLeaf, "op"),
        (s.PropertyCondition, "op"),
        (s.SegmentLeaf, "op"),
        (s.SubscriptionLeaf, "op"),
        (s.ScoreLeaf, "op"),
    ]
    for model, name in models:
        literals |= set(typing.get_args(model.model_fields[name].annotation))
    assert literals <= set(data["ops"])
    assert set(data["tag"]["ops"]) == set(typing.get_args(s.TagLeaf.model_fields["op"].annotation))
    assert data["email"]["events"] == ["opened", "clicked"]
    assert all(data["labels"][e] for e in data["email"]["events"])
    assert data["max_depth"] == s.MAX_DEPTH


def test_catalogue_is_translated(world: World) -> None:
    with translation.override("ru"):
        data = cat.catalogue(world.user("marketer"))
    assert data["labels"]["add_condition"] == "Добавить условие"
    assert data["ops"]["eq"] == "равно"


def test_edit_page_carries_catalogue_and_builder(world: World) -> None:
    marketer = _client("marketer_north")
    other = Segment.objects.create(name="Fairs", kind="static", created_by=world.user("marketer"))
    page = marketer.get("/marketing/segments/new")
    assert page.status_code == 200
    assert b"marketing/segment_builder.js" in page.content
    assert b'id="segment-builder"' in page.content
    assert b'name="definition"' in page.content  # the textarea works without JavaScript
    data = _page_catalogue(page)
    assert [other.pk, "Fairs"] in data["segment"]["choices"]


@pytest.mark.parametrize("role", ["sales_rep", "field_rep"])
def test_reps_get_404(world: World, role: str) -> None:
    rep = _client(f"{role}_north")
    segment = Segment.objects.create(
        name="Any", definition={"type": "tag", "value": "x"}, created_by=world.user("marketer")
    )
    assert rep.get("/marketing/segments/new").status_code == 404
    assert rep.get(f"/marketing/segments/{segment.pk}/edit").status_code == 404
    count = rep.post(
        "/marketing/segments/count",
        {"definition": '{"type": "tag", "value": "x"}', "format": "json"},
    )
    assert count.status_code == 404


def test_json_count_and_errors_on_their_conditions(world: World) -> None:
    marketer = _client("marketer_north")
    ok = {"type": "field", "field": "contact.email", "op": "contains", "value": "north"}
    response = marketer.post(
        "/marketing/segments/count", {"definition": json.dumps(ok), "format": "json"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "text": "2 contacts match",
        "errors": [],
        "nodes": [],
    }
    bad = {
        "type": "and",
        "children": [
            ok,
            {
                "type": "or",
                "children": [
                    {"type": "field", "field": "contact.lifecycle_stage", "op": "eq", "value": "x"},
                    {"type": "email", "event": "opened", "within_days": 0},
                ],
            },
            {"type": "or", "children": []},
        ],
    }
    response = marketer.post(
        "/marketing/segments/count", {"definition": json.dumps(bad), "format": "json"}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["count"] is None
    assert data["errors"]
    paths = {tuple(e["path"]): e["messages"] for e in data["nodes"]}
    assert set(paths) == {(1, 0), (1, 1), (2,)}
    assert "no such value" in paths[(1, 0)][0]
    assert "within_days" in paths[(1, 1)][0]
    not_json = marketer.post("/marketing/segments/count", {"definition": "{", "format": "json"})
    assert not_json.status_code == 200
    assert not_json.json()["count"] is None
    assert "Not valid JSON" in not_json.json()["errors"][0]
    assert not_json.json()["nodes"] == []  # nothing to place it on


def test_self_reference_refused_in_live_count(world: World) -> None:
    marketer = _client("marketer_north")
    segment = Segment.objects.create(
        name="Loop", definition={"type": "tag", "value": "x"}, created_by=world.user("marketer")
    )
    loop = {"type": "segment", "segment_id": segment.pk}
    data = marketer.post(
        "/marketing/segments/count",
        {"definition": json.dumps(loop), "format": "json", "segment": str(segment.pk)},
    ).json()
    assert data["count"] is None
    assert data["nodes"][0]["path"] == []
    assert "cannot include itself" in data["nodes"][0]["messages"][0]


def test_bad_definition_is_a_form_error_with_node_errors(world: World) -> None:
    marketer = _client("marketer_north")
    bad = {"type": "and", "children": [{"type": "field", "field": "contact.nope", "op": "eq"}]}
    response = marketer.post(
        "/marketing/segments/new",
        {"name": "Broken", "kind": "dynamic", "definition": json.dumps(bad)},
    )
    assert response.status_code == 400
    assert not Segment.objects.exists()
    html = response.content.decode()
    assert 'role="alert"' in html
    start = html.index('<script id="segment-node-errors" type="application/json">')
    nodes = json.loads(html[start:].split(">", 1)[1].split("</script>", 1)[0])
    assert nodes[0]["path"] == [0]
    assert "contact.nope" in nodes[0]["messages"][0]
    garbled = marketer.post(
        "/marketing/segments/new", {"name": "Broken", "kind": "dynamic", "definition": "[1,"}
    )
    assert garbled.status_code == 400
    assert b"Not valid JSON" in garbled.content


def test_node_errors_never_raise_on_odd_json() -> None:
    deep: Any = {"type": "tag", "value": "x"}
    for _ in range(30):
        deep = {"type": "not", "child": deep}
    for odd in [
        None,
        [],
        3,
        "x",
        {"type": "and"},
        {"type": "not"},
        deep,
        {"type": "and", "children": [1] * 500},
    ]:
        assert isinstance(cat.node_errors(odd), list)


def test_segment_edit_round_trip(world: World) -> None:
    marketer = _client("marketer_north")
    definition = {
        "type": "and",
        "children": [
            {"type": "field", "field": "contact.lifecycle_stage", "op": "in", "value": ["mql"]},
            {"type": "not", "child": {"type": "tag", "op": "has", "value": "competitor"}},
        ],
    }
    saved = marketer.post(
        "/marketing/segments/new",
        {"name": "MQLs", "kind": "dynamic", "definition": json.dumps(definition)},
    )
    assert saved.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == definition
    page = marketer.get(f"/marketing/segments/{segment.pk}/edit")
    assert page.status_code == 200
    assert f'data-segment="{segment.pk}"'.encode() in page.content
    offered = [pk for pk, _name in _page_catalogue(page)["segment"]["choices"]]
    assert segment.pk not in offered  # a segment cannot be a member of itself


def test_static_list_page_marks_builder_off(world: World) -> None:
    marketer = _client("marketer_north")
    static = Segment.objects.create(name="Fair", kind="static", created_by=world.user("marketer"))
    page = marketer.get(f"/marketing/segments/{static.pk}/edit")
    assert page.status_code == 200
    assert b'data-static="1"' in page.content
