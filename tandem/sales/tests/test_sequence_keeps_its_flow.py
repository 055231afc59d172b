"""A sales sequence is the one home of its flow's definition: the automation builder shows the
flow read-only with a link to the sequence, automation's services and API refuse its graph,
publishing, status and settings (400 `owned_elsewhere`), while the sequence's page still edits,
publishes and pauses it. And a seller who may not open the automation builder reads each
enrolment's step history on the sales side, in their own time zone."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from conftest import World
from tandem.automation import graph as g
from tandem.automation import runner
from tandem.automation import services as automation
from tandem.automation.models import Flow, FlowStatus, ManagedBy
from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.sales import sequences
from tandem.sales.models import Sequence

STEPS = [
    {"kind": "email", "subject": "Hello {first_name}", "body": "We make tractors. {rep_name}"},
    {"kind": "wait", "wait_days": 2},
    {"kind": "call", "body": "ask about the harvest"},
]
MONDAY = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
API = "/api/v1/automation"
marking = importlib.import_module("tandem.sales.migrations.0006_sequence_flows_managed_by_sales")


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


@pytest.fixture
def cadence(world: World) -> Sequence:
    rep = world.user("sales_rep")
    return sequences.sequence_create(actor=Actor(user=rep), name="Outbound", steps=STEPS)


def _flow_state(flow_id: int) -> tuple[str, int, str, int]:
    flow = Flow.objects.get(pk=flow_id)
    return (flow.name, flow.versions.count(), flow.status, flow.holdout_percent)


def test_a_sequences_flow_is_marked_as_kept_by_the_sequence(cadence: Sequence) -> None:
    assert Flow.objects.get(pk=cadence.flow_id).managed_by == ManagedBy.SALES_SEQUENCE
    plain = automation.flow_create(
        actor=Actor.system(), name="Plain", graph=g.linear({"kind": "manual"}, [("exit", {})])
    )
    assert plain.managed_by == ""


def test_the_migration_marks_the_flows_of_existing_sequences_only(cadence: Sequence) -> None:
    plain = automation.flow_create(
        actor=Actor.system(), name="Plain", graph=g.linear({"kind": "manual"}, [("exit", {})])
    )
    Flow.objects.update(managed_by="")  # as before the column existed
    marking.mark(apps, None)
    marked = dict(Flow.objects.values_list("pk", "managed_by"))
    assert marked == {cadence.flow_id: "sales.sequence", plain.pk: ""}


def test_the_builder_shows_a_sequences_flow_read_only_and_refuses_its_changes(
    world: World, cadence: Sequence
) -> None:
    marketer = _client(world, "marketer")
    flow_id = cadence.flow_id
    assert flow_id is not None
    listed = marketer.get(reverse("automation:flows")).content.decode()
    assert "kept by a sales sequence" in listed
    russian = marketer.get(reverse("automation:flows"), headers={"accept-language": "ru"})
    assert "принадлежит последовательности продаж" in russian.content.decode()
    page = marketer.get(reverse("automation:flow", args=[flow_id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Edit the steps on the sequence's page" in html
    assert f'href="/sales/sequences/{cadence.pk}/"' in html
    for name in ("flow_graph", "flow_settings", "flow_publish", "flow_status", "flow_step_add"):
        assert reverse(f"automation:{name}", args=[flow_id]) not in html
    assert 'class="diagram' in html or "<svg" in html  # the diagram is still drawn

    before = _flow_state(flow_id)
    graph = json.dumps(g.linear({"kind": "manual"}, [("exit", {})]))
    refused = [
        marketer.post(reverse("automation:flow_graph", args=[flow_id]), {"graph": graph}),
        marketer.post(
            reverse("automation:flow_step_add", args=[flow_id]), {"after": "s1", "kind": "exit"}
        ),
        marketer.post(reverse("automation:flow_step_remove", args=[flow_id, "s2"])),
        marketer.post(reverse("automation:flow_publish", args=[flow_id])),
        marketer.post(reverse("automation:flow_status", args=[flow_id]), {"status": "paused"}),
        marketer.post(
            reverse("automation:flow_settings", args=[flow_id]),
            {"name": "Renamed", "description": "", "reentry": "always", "holdout_percent": 10},
        ),
    ]
    assert [r.status_code for r in refused] == [400] * 6
    for response in refused:
        assert "This flow belongs to a sales sequence" in response.content.decode()
    assert _flow_state(flow_id) == before == ("Outbound", 1, FlowStatus.ACTIVE, 0)


def test_the_api_refuses_a_sequences_flow_with_owned_elsewhere(
    world: World, cadence: Sequence
) -> None:
    api = _client(world, "marketer")
    flow_id = cadence.flow_id
    assert api.get(f"{API}/flows/{flow_id}").json()["managed_by"] == "sales.sequence"
    listed = {f["id"]: f["managed_by"] for f in api.get(f"{API}/flows").json()}
    assert listed[flow_id] == "sales.sequence"
    before = _flow_state(flow_id)
    graph = g.linear({"kind": "manual"}, [("exit", {})])
    answers = [
        api.put(f"{API}/flows/{flow_id}/graph", {"graph": graph}, content_type="application/json"),
        api.post(f"{API}/flows/{flow_id}/publish"),
        api.post(
            f"{API}/flows/{flow_id}/status", {"status": "paused"}, content_type="application/json"
        ),
        api.put(
            f"{API}/flows/{flow_id}",
            {"name": "Renamed", "reentry": "always", "holdout_percent": 10},
            content_type="application/json",
        ),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, "owned_elsewhere")] * 4
    assert _flow_state(flow_id) == before


def test_automation_services_change_the_flow_only_for_the_sequence(cadence: Sequence) -> None:
    flow = Flow.objects.get(pk=cadence.flow_id)
    with pytest.raises(InvalidInput) as refused:
        automation.flow_set_status(actor=Actor.system(), flow=flow, status=FlowStatus.PAUSED)
    assert refused.value.code == "owned_elsewhere"
    automation.flow_set_status(
        actor=Actor.system(), flow=flow, status=FlowStatus.PAUSED, manager=sequences.MANAGER
    )
    assert Flow.objects.get(pk=flow.pk).status == FlowStatus.PAUSED


def test_the_sequence_page_still_edits_publishes_pauses_and_resumes(
    world: World, cadence: Sequence
) -> None:
    rep = _client(world, "sales_rep")
    url = reverse("sales:sequence_steps", args=[cadence.pk])
    assert rep.post(url, {"steps": "email: New | Text\nlinkedin: hi"}).status_code == 302
    flow = Flow.objects.select_related("live_version").get(pk=cadence.flow_id)
    assert flow.live_version is not None
    assert (flow.live_version.number, flow.status) == (2, FlowStatus.ACTIVE)
    assert [n["kind"] for n in flow.live_version.graph["nodes"]] == ["send_email", "create_task"]
    pause = reverse("sales:sequence_pause", args=[cadence.pk])
    assert rep.post(pause).status_code == 302
    assert Flow.objects.get(pk=flow.pk).status == FlowStatus.PAUSED
    assert rep.post(url, {"steps": "call: ring"}).status_code == 302  # paused stays paused
    flow = Flow.objects.select_related("live_version").get(pk=flow.pk)
    assert flow.live_version is not None
    assert (flow.live_version.number, flow.status) == (3, FlowStatus.PAUSED)
    assert rep.post(pause).status_code == 302
    assert Flow.objects.get(pk=flow.pk).status == FlowStatus.ACTIVE


def test_a_seller_without_the_builder_reads_the_step_history_on_the_sales_side(
    world: World,
) -> None:
    field_rep = world.user("field_rep")
    assert can(field_rep, "sell")
    assert not can(field_rep, "view_automation")
    field_rep.time_zone = "Asia/Vladivostok"  # UTC+10
    field_rep.save(update_fields=["time_zone"])
    sequence = sequences.sequence_create(actor=Actor(user=field_rep), name="Visits", steps=STEPS)
    contact = world.contacts[("field_rep", "north")]
    (enrolment,) = sequences.sequence_enrol(
        actor=Actor(user=field_rep), sequence=sequence, contact_ids=[contact.pk], now=MONDAY
    )
    runner.run_until_idle(now=MONDAY, deliver=False)

    client = _client(world, "field_rep")
    page = client.get(reverse("sales:sequence_detail", args=[sequence.pk])).content.decode()
    history_url = reverse("sales:sequence_enrolment", args=[sequence.pk, enrolment.pk])
    assert f'href="{history_url}"' in page
    assert reverse("automation:enrolment", args=[enrolment.pk]) not in page
    assert reverse("automation:flow", args=[sequence.flow_id]) not in page

    answer = client.get(history_url)
    assert answer.status_code == 200
    html = answer.content.decode()
    rows = html.split('id="step-history"')[1]
    assert "1. Automatic email" in rows
    assert "2. Wait" in rows
    assert "06/02/2025 7 p.m." in rows  # 09:00 UTC on the rep's clock in Vladivostok (UTC+10)
    assert 'id="builder-link"' not in html
    assert client.get(reverse("automation:enrolment", args=[enrolment.pk])).status_code == 403
    (row,) = client.get(f"/api/v1/sales/sequences/{sequence.pk}/enrolments").json()
    assert (row["history_url"], row["builder_url"]) == (history_url, None)

    # a head may open the builder: the same page links to it
    head = _client(world, "head")
    assert 'id="builder-link"' in head.get(history_url).content.decode()
    # someone who does not see the sequence or the contact gets a 404
    assert _client(world, "field_rep", "south").get(history_url).status_code == 404


def test_a_sales_rep_sees_the_history_page_and_the_builder_link(
    world: World, cadence: Sequence
) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    (enrolment,) = sequences.sequence_enrol(
        actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk], now=MONDAY
    )
    runner.run_until_idle(now=MONDAY, deliver=False)
    client = _client(world, "sales_rep")
    history_url = reverse("sales:sequence_enrolment", args=[cadence.pk, enrolment.pk])
    page = client.get(reverse("sales:sequence_detail", args=[cadence.pk])).content.decode()
    assert f'href="{history_url}"' in page
    assert reverse("automation:enrolment", args=[enrolment.pk]) in page
    html = client.get(history_url).content.decode()
    assert "1. Automatic email" in html
    assert 'id="builder-link"' in html
    other = sequences.sequence_create(actor=Actor(user=rep), name="Other", steps=STEPS)
    wrong = reverse("sales:sequence_enrolment", args=[other.pk, enrolment.pk])
    assert client.get(wrong).status_code == 404
