"""The automation API: the same operations as the pages, with reasons for bad input, scoped
enrolments, the lift report, and the signed incoming webhook that enrols once per event."""

from __future__ import annotations

import datetime as dt
import json

from django.test import Client
from standardwebhooks.webhooks import Webhook

from conftest import World
from tandem.automation import runner, services
from tandem.automation.graph import linear
from tandem.automation.models import Enrolment, Flow
from tandem.core.webhooks import secret_new

BASE = "/api/v1/automation"


def _client(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def test_a_flow_is_created_refused_when_broken_published_and_test_enrolled(world: World) -> None:
    api = _client(world, "marketer")
    broken = linear({"kind": "manual"}, [("goal", {}), ("exit", {})])
    broken["edges"] = []
    answer = api.post(
        f"{BASE}/flows", {"name": "X", "graph": broken}, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["details"] == {"graph": ["Step “s2” cannot be reached from the start."]}

    answer = api.post(
        f"{BASE}/flows", {"name": "Welcome", "template": "welcome"}, content_type="application/json"
    )
    assert answer.status_code == 201
    flow_id = answer.json()["id"]
    assert answer.json()["draft_version"] == 1
    assert answer.json()["live_version"] is None
    published = api.post(f"{BASE}/flows/{flow_id}/publish")
    assert published.status_code == 200
    assert published.json()["number"] == 1
    assert api.post(f"{BASE}/flows/{flow_id}/publish").status_code == 400  # no draft left

    contact = world.contacts[("sales_rep", "north")]
    enrolled = api.post(
        f"{BASE}/flows/{flow_id}/test-enrolments",
        {"contact_id": contact.pk},
        content_type="application/json",
    )
    assert enrolled.status_code == 201
    assert enrolled.json()["is_test"] is True
    runner.run_until_idle(deliver=False)
    detail = api.get(f"{BASE}/enrolments/{enrolled.json()['id']}").json()
    assert [(h["step"], h["message_state"]) for h in detail["history"]] == [
        ("s1", "queued"),
        ("s2", None),
    ]
    flow = api.get(f"{BASE}/flows/{flow_id}").json()
    assert flow["enrolments"]["active"] == 1
    lift = api.get(f"{BASE}/flows/{flow_id}/lift").json()
    assert lift["verdict"] == "too_small"


def test_who_may_read_and_change_flows(world: World) -> None:
    _client(world, "marketer").post(
        f"{BASE}/flows", {"name": "W", "template": "welcome"}, content_type="application/json"
    )
    flow = Flow.objects.get()
    rep = _client(world, "sales_rep")
    assert rep.get(f"{BASE}/flows").status_code == 200
    assert rep.post(f"{BASE}/flows/{flow.pk}/publish").status_code == 403
    assert _client(world, "field_rep").get(f"{BASE}/flows").status_code == 403
    assert Client().get(f"{BASE}/flows").status_code == 401


def test_the_incoming_webhook_needs_the_signature_and_enrols_once_per_event(world: World) -> None:
    api = _client(world, "marketer")
    graph = linear({"kind": "webhook"}, [("goal", {})])
    flow_id = api.post(
        f"{BASE}/flows", {"name": "Hook", "graph": graph}, content_type="application/json"
    ).json()["id"]
    api.post(f"{BASE}/flows/{flow_id}/publish")
    secret = services.flow_webhook_secret(Flow.objects.get(pk=flow_id))
    contact = world.contacts[("sales_rep", "south")]
    body = json.dumps({"id": "evt-1", "email": contact.email}).encode()
    hook = Client()
    unsigned = hook.post(f"{BASE}/flows/{flow_id}/hook", body, content_type="application/json")
    assert unsigned.status_code == 401
    # signed by the reference Standard Webhooks package, as a sending system would
    now = dt.datetime.now(dt.UTC)
    headers = Webhook(secret).sign("msg_1", now, body.decode()).split()  # "v1,<base64>"
    signed = {
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": " ".join(headers),
    }
    other = Webhook(secret_new()).sign("msg_1", now, body.decode())
    forged = {**signed, "HTTP_WEBHOOK_SIGNATURE": other}
    refused = hook.post(
        f"{BASE}/flows/{flow_id}/hook", body, content_type="application/json", **forged
    )
    assert refused.status_code == 401
    stale = {**signed, "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp()) - 600)}
    late = hook.post(f"{BASE}/flows/{flow_id}/hook", body, content_type="application/json", **stale)
    assert late.status_code == 401
    first = hook.post(
        f"{BASE}/flows/{flow_id}/hook", body, content_type="application/json", **signed
    )
    assert first.status_code == 200
    assert first.json()["enrolled"] is True
    again = hook.post(
        f"{BASE}/flows/{flow_id}/hook", body, content_type="application/json", **signed
    )
    assert again.json() == {"enrolled": False, "enrolment_id": None}
    assert Enrolment.objects.filter(contact=contact).count() == 1
