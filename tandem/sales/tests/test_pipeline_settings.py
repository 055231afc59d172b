"""Pipelines are set up on a page (Settings > Pipelines) and through the API: a new organisation
has none, and no deal can be opened until one exists."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tandem.core.models import AuditEntry
from tandem.sales.models import Pipeline

pytestmark = pytest.mark.django_db
API = "/api/v1/sales"


def _client(world, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def _rows(stages: list[tuple[str, str, str]]) -> dict[str, str]:
    data = {
        "stages-TOTAL_FORMS": str(len(stages)),
        "stages-INITIAL_FORMS": "0",
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "30",
    }
    for i, (name, kind, probability) in enumerate(stages):
        data |= {
            f"stages-{i}-name": name,
            f"stages-{i}-kind": kind,
            f"stages-{i}-probability": probability,
        }
    return data


def test_the_first_pipeline_made_on_the_page_is_the_default_and_opens_deals(world):
    admin = _client(world, "admin")
    page = admin.get(reverse("sales:pipeline_settings")).content.decode()
    assert "No pipelines yet" in page
    assert 'value="Qualification"' in page  # rows start with a common pipeline
    response = admin.post(
        reverse("sales:pipeline_settings"),
        {
            "name": "New business",
            **_rows(
                [
                    ("Qualify", "open", "10"),
                    ("Propose", "open", ""),
                    ("Won", "won", "100"),
                    ("Lost", "lost", "0"),
                    ("", "open", ""),
                ]
            ),
        },
    )
    assert response.status_code == 302
    pipeline = Pipeline.objects.get()
    assert pipeline.is_default
    stages = list(pipeline.stages.values_list("name", "kind", "probability"))
    assert stages == [
        ("Qualify", "open", 10),
        ("Propose", "open", 0),
        ("Won", "won", 100),
        ("Lost", "lost", 0),
    ]
    assert AuditEntry.objects.filter(model="sales.Pipeline", action="create").count() == 1
    listed = admin.get(reverse("sales:pipeline_settings")).content.decode()
    assert "New business" in listed
    assert "Propose" in listed
    hub = admin.get(reverse("core:settings")).content.decode()
    assert reverse("sales:pipeline_settings") in hub

    rep = _client(world, "sales_rep")
    form = rep.get(reverse("sales:deal_create")).content.decode()
    assert f'<option value="{pipeline.pk}"' in form


def test_a_pipeline_without_a_won_stage_is_a_form_error_and_a_400(world):
    admin = _client(world, "admin")
    response = admin.post(
        reverse("sales:pipeline_settings"),
        {"name": "Broken", **_rows([("Talk", "open", "20"), ("Lost", "lost", "0")])},
    )
    assert response.status_code == 400
    assert "needs open stages, one won stage and a lost stage" in response.content.decode()
    answer = admin.post(
        f"{API}/pipelines",
        json.dumps({"name": "Broken", "stages": [{"name": "Talk", "probability": 20}]}),
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert not Pipeline.objects.exists()


def test_the_api_creates_a_pipeline_and_reps_may_not(world):
    body = {
        "name": "Renewals",
        "stages": [
            {"name": "Due", "probability": 50, "forecast_category": "commit"},
            {"name": "Renewed", "kind": "won"},
            {"name": "Churned", "kind": "lost"},
        ],
    }
    rep = _client(world, "sales_rep")
    refused = rep.post(f"{API}/pipelines", json.dumps(body), content_type="application/json")
    assert refused.status_code == 403
    assert rep.get(reverse("sales:pipeline_settings")).status_code == 403
    head = _client(world, "head")
    made = head.post(f"{API}/pipelines", json.dumps(body), content_type="application/json")
    assert made.status_code == 201, made.content
    out = made.json()
    assert out["is_default"] is True
    assert [(s["name"], s["probability"], s["forecast_category"]) for s in out["stages"]] == [
        ("Due", 50, "commit"),
        ("Renewed", 100, "closed"),
        ("Churned", 0, "omitted"),
    ]


def test_the_pipelines_page_in_russian(world):
    admin = _client(world, "admin")
    admin.post(reverse("core:language"), {"language": "ru"})
    page = admin.get(reverse("sales:pipeline_settings")).content.decode()
    assert "Новая воронка" in page
    assert "Квалификация" in page
