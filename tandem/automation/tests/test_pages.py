"""The automation pages: a marketer builds a flow from a template, edits a step, sees a broken
edit refused with its reason, publishes, test-enrols one contact and reads the history; a
sales rep may look but not change; the diagram is an SVG with a box per step."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from conftest import World
from tandem.automation import runner
from tandem.automation.graph import validate_graph
from tandem.automation.library import TEMPLATES
from tandem.automation.models import Enrolment, Flow, FlowVersion
from tandem.core.models import AuditEntry


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_is_a_valid_graph(key: str) -> None:
    validate_graph(TEMPLATES[key][1]())


def _client(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def test_a_marketer_builds_publishes_and_test_enrols_a_flow(world: World) -> None:
    client = _client(world, "marketer")
    answer = client.post("/automation/new/", {"name": "Quote chase", "template": "quote"})
    flow = Flow.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == f"/automation/{flow.pk}/"
    page = client.get(f"/automation/{flow.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<rect ") == 5  # one box per step
    assert "s4 · Create a task" in html

    # edit a step through its form: the draft changes, nothing is published yet
    answer = client.post(
        f"/automation/{flow.pk}/steps/s2/", {"subject": "Your quote", "body": "Questions?"}
    )
    assert answer.status_code == 302
    draft = FlowVersion.objects.get(flow=flow)
    assert draft.graph["nodes"][1]["config"] == {"subject": "Your quote", "body": "Questions?"}
    assert draft.published_at is None

    # a broken graph is refused with the reason, the draft is kept as it was
    broken = dict(draft.graph, edges=[])
    answer = client.post(f"/automation/{flow.pk}/graph/", {"graph": json.dumps(broken)})
    assert answer.status_code == 400
    assert "Step “s2” cannot be reached from the start." in answer.content.decode()
    answer = client.post(f"/automation/{flow.pk}/steps/s2/", {"subject": "", "body": "x"})
    assert answer.status_code == 400
    draft.refresh_from_db()
    assert draft.graph["nodes"][1]["config"]["subject"] == "Your quote"

    assert client.post(f"/automation/{flow.pk}/publish/").status_code == 302
    flow.refresh_from_db()
    assert flow.status == "active"
    assert flow.live_version_id == draft.pk

    contact = world.contacts[("sales_rep", "north")]
    answer = client.post(f"/automation/{flow.pk}/test/", {"email": contact.email})
    enrolment = Enrolment.objects.get()
    assert answer["Location"] == f"/automation/enrolments/{enrolment.pk}/"
    assert enrolment.is_test
    runner.run_until_idle(deliver=False)
    history = client.get(f"/automation/enrolments/{enrolment.pk}/").content.decode()
    assert "waiting 2 days" in history
    assert set(
        AuditEntry.objects.filter(model="automation.Flow").values_list("action", flat=True)
    ) == {"create", "update", "publish"}


def test_a_sales_rep_sees_flows_but_cannot_change_them_and_the_field_rep_sees_nothing(
    world: World,
) -> None:
    marketer = _client(world, "marketer")
    marketer.post("/automation/new/", {"name": "Welcome", "template": "welcome"})
    flow = Flow.objects.get()
    rep = _client(world, "sales_rep")
    assert rep.get("/automation/").status_code == 200
    page = rep.get(f"/automation/{flow.pk}/").content.decode()
    assert "Save step" not in page
    assert rep.post(f"/automation/{flow.pk}/publish/").status_code == 403
    assert _client(world, "field_rep").get("/automation/").status_code == 403
    assert "/automation/" in marketer.get("/automation/").content.decode()  # in the navigation


def test_the_pages_and_the_graph_errors_speak_russian(world: World) -> None:
    client = _client(world, "marketer")
    page = client.get("/automation/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Сценариев пока нет" in page
    client.post("/automation/new/", {"name": "Привет", "template": "welcome"})
    flow = Flow.objects.get()
    broken = dict(FlowVersion.objects.get(flow=flow).graph, edges=[])
    answer = client.post(
        f"/automation/{flow.pk}/graph/", {"graph": json.dumps(broken)}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert "До шага «s2» нельзя дойти от начала." in answer.content.decode()
