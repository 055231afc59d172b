"""The tracking set-up API (/api/v1/tracking/...): the same services as the pages, the write key
in one answer only, 400 with reasons for bad input, 403 for reps on every operation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.tracking import reclassify, services
from tandem.tracking.consent import consent_record
from tandem.tracking.models import Form, ReclassifyRun, TrackedLink

API = "/api/v1/tracking"


class Caller:
    def __init__(self, world: World, role: str) -> None:
        self.client = Client()
        self.client.force_login(world.user(role))

    def get(self, path: str) -> Any:
        return self.client.get(API + path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(API + path, json.dumps(body or {}), content_type="application/json")

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(API + path, json.dumps(body), content_type="application/json")


def _track(key: str, message_id: str) -> int:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = {"event": "Signed Up", "anonymousId": "v", "messageId": message_id}
    answer = Client().post(
        "/v1/track", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    return int(answer.status_code)


def test_sources_through_the_api_key_once_rotate_and_disable(world: World) -> None:
    api = Caller(world, "marketer")
    created = api.post("/sources", {"name": "Docs site", "kind": "website"})
    assert created.status_code == 201
    body = created.json()
    key = body["write_key"]
    assert key.startswith("tdw_")
    assert _track(key, "m1") == 200
    listed = api.get("/sources").json()
    assert [(s["name"], s["events"]) for s in listed] == [("Docs site", 1)]
    assert "write_key" not in listed[0]
    assert key not in json.dumps(listed)
    rotated = api.post(f"/sources/{body['id']}/rotate").json()
    assert rotated["write_key"] != key
    assert _track(key, "m2") == 401
    assert _track(rotated["write_key"], "m3") == 200
    disabled = api.post(f"/sources/{body['id']}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] is not None
    assert _track(rotated["write_key"], "m4") == 401
    refused = api.post(f"/sources/{body['id']}/rotate")
    assert refused.status_code == 400
    assert api.post("/sources/999/rotate").status_code == 404
    assert api.post("/sources", {"name": "Docs site"}).status_code == 400
    assert api.post("/sources", {"name": "X", "kind": "fax"}).status_code == 400
    assert api.post("/sources", {"name": "X", "extra": 1}).status_code == 400


def test_forms_through_the_api_create_change_and_count(world: World) -> None:
    api = Caller(world, "head")
    created = api.post(
        "/forms",
        {
            "name": "Webinar sign-up",
            "fields": [{"name": "company", "label": "Company"}],
            "consent_purpose": "newsletter",
            "consent_wording": "Yes, send news.",
            "redirect_url": "https://shop.example/ok",
        },
    )
    assert created.status_code == 201
    form = created.json()
    assert form["consent_version"] == "1"
    assert form["fields"] == [
        {"name": "company", "label": "Company", "type": "text", "required": False}
    ]
    sent = Client().post(
        f"/f/{form['key']}/submit",
        json.dumps({"email": "bo@shop.example", "company": "Shop"}),
        content_type="application/json",
    )
    assert sent.json()["redirect"] == "https://shop.example/ok"
    changed = api.patch(f"/forms/{form['id']}", {"consent_wording": "Yes, send news weekly."})
    assert changed.status_code == 200
    assert (changed.json()["consent_version"], changed.json()["submissions"]) == ("2", 1)
    assert (
        api.patch(f"/forms/{form['id']}", {"redirect_url": "http://10.0.0.1/"}).status_code == 400
    )
    assert api.patch(f"/forms/{form['id']}", {"name": None}).status_code == 400
    assert api.post("/forms", {"name": "X", "fields": [{"name": "email"}]}).status_code == 400
    assert api.get("/forms/999").status_code == 404
    assert AuditEntry.objects.filter(object_id=str(form["id"]), action="update").count() == 1


def test_links_through_the_api_refuse_private_and_script_destinations(world: World) -> None:
    api = Caller(world, "marketer")
    created = api.post("/links", {"destination": "https://shop.example/a", "utm_campaign": "c"})
    assert created.status_code == 201
    link = created.json()
    assert link["short_url"] == f"http://testserver/l/{link['token']}"
    Client().get(f"/l/{link['token']}", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/120")
    assert api.get("/links").json()[0]["clicks"] == 1
    for bad in ("javascript:alert(1)", "http://192.168.1.1/", "http://[::1]/", "file:///etc"):
        answer = api.post("/links", {"destination": bad})
        assert answer.status_code == 400, bad
        assert "destination" in answer.json()["details"]
    assert TrackedLink.objects.count() == 1


def test_channel_rules_preview_then_publish_through_the_api(world: World) -> None:
    Touchpoint.objects.bulk_create(
        Touchpoint(anonymous_id=f"a{i}", channel="referral", department="marketing",
                   kind="page_view", properties={"ci": {"utm_source": "partnerx"}})
        for i in range(3)
    )  # fmt: skip
    api = Caller(world, "admin")
    rules = api.get("/channel-rules").json()
    assert rules["version"] == 0
    edited = [
        {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"},
        *rules["rules"],
    ]
    preview = api.post("/channel-rules/preview", {"rules": edited}).json()
    assert (preview["checked"], preview["changed"]) == (3, 3)
    assert preview["moves"][0]["to_channel"] == "conference"
    assert not ReclassifyRun.objects.exists()
    bad = api.post("/channel-rules/preview", {"rules": [{"channel": "fax", "department": "x"}]})
    assert bad.status_code == 400
    assert set(bad.json()["details"]) == {"rules.1.channel", "rules.1.department"}
    published = api.post("/channel-rules", {"rules": edited, "note": "partner"})
    assert published.status_code == 201
    run_id = published.json()["run"]["id"]
    assert published.json()["version"] == 1
    reclassify.run_reclassification(run_id)
    run = api.get(f"/reclassify-runs/{run_id}").json()
    assert (run["status"], run["changed"], run["percent"]) == ("done", preview["changed"], 100)


def test_a_contacts_consent_through_the_api_follows_the_contacts_scope(world: World) -> None:
    contact = world.contacts[("field_rep", "north")]
    consent_record(contact=contact, purpose="newsletter", state="granted")
    consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    answer = Caller(world, "field_rep").get(f"/contacts/{contact.pk}/consent")
    assert answer.status_code == 200
    body = answer.json()
    assert [r["state"] for r in body["history"]] == ["withdrawn", "granted"]
    assert [(r["purpose"], r["state"]) for r in body["subscriptions"]] == [
        ("newsletter", "withdrawn")
    ]
    assert body["consent"] == "withdrawn"
    other = world.contacts[("field_rep", "south")]
    assert Caller(world, "field_rep").get(f"/contacts/{other.pk}/consent").status_code == 404


@pytest.mark.parametrize("role", ["sales_rep", "field_rep"])
def test_reps_get_403_on_every_setup_operation(world: World, role: str) -> None:
    source, _key = services.source_create(actor=Actor.system(), name="Site")
    form = Form.objects.create(name="F")
    api = Caller(world, role)
    rule = {"channel": "direct", "department": "marketing"}
    calls = [
        api.get("/sources"),
        api.post("/sources", {"name": "Mine"}),
        api.post(f"/sources/{source.pk}/rotate"),
        api.post(f"/sources/{source.pk}/disable"),
        api.get("/forms"),
        api.post("/forms", {"name": "Mine"}),
        api.get(f"/forms/{form.pk}"),
        api.patch(f"/forms/{form.pk}", {"name": "Mine"}),
        api.get("/links"),
        api.post("/links", {"destination": "https://shop.example/"}),
        api.get("/channel-rules"),
        api.post("/channel-rules/preview", {"rules": [rule]}),
        api.post("/channel-rules", {"rules": [rule]}),
        api.get("/reclassify-runs/1"),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)
    source.refresh_from_db()
    assert source.revoked_at is None
    assert Form.objects.get().name == "F"
    assert not TrackedLink.objects.exists()
    assert not ReclassifyRun.objects.exists()


def test_marketers_manage_tracking_but_not_the_channel_rules(world: World) -> None:
    api = Caller(world, "marketer")
    assert api.get("/sources").status_code == 200
    assert api.get("/channel-rules").status_code == 403
