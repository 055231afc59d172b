"""A contact's stage changes only through the lifecycle service: the contact form and PATCH
cannot skip the stage history and the timeline; the leads page and API endpoint move it."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.crm.tests.api_client import api_as
from tandem.leads import services as leads
from tandem.leads.models import StageHistory
from tandem.tracking.models import ConsentRecord

pytestmark = pytest.mark.django_db


def _signed_in(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def _customer(world: World) -> Contact:
    contact = world.contacts[("sales_rep", "north")]
    leads.lifecycle_move(actor=Actor.system(), contact=contact, stage="customer", reason="won")
    return contact


def test_a_patch_cannot_move_a_customer_back_to_subscriber(world: World) -> None:
    contact = _customer(world)
    history, touches = StageHistory.objects.count(), Touchpoint.objects.count()
    response = api_as(world.user("head")).patch(
        f"/contacts/{contact.pk}", {"lifecycle_stage": "subscriber", "title": "CTO"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "owned_elsewhere"
    assert "POST /api/v1/leads/contacts/{id}/lifecycle" in body["details"]["lifecycle_stage"][0]
    contact.refresh_from_db()
    assert (contact.lifecycle_stage, contact.title) == ("customer", "")
    assert (StageHistory.objects.count(), Touchpoint.objects.count()) == (history, touches)


def test_a_patch_cannot_set_consent_without_a_ledger_row(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    response = api_as(world.user("head")).patch(f"/contacts/{contact.pk}", {"consent": "granted"})
    assert response.status_code == 400
    assert response.json()["code"] == "owned_elsewhere"
    assert "consent ledger" in response.json()["details"]["consent"][0]
    contact.refresh_from_db()
    assert contact.consent == "unknown"
    assert not ConsentRecord.objects.filter(contact=contact).exists()


def test_the_api_schema_says_patch_refuses_stage_and_consent(world: World) -> None:
    spec = Client().get("/api/v1/openapi.json").json()
    patch = spec["components"]["schemas"]["ContactPatch"]["properties"]
    assert patch["lifecycle_stage"]["deprecated"] is True
    assert "/api/v1/leads/contacts/{id}/lifecycle" in patch["lifecycle_stage"]["description"]
    assert patch["consent"]["deprecated"] is True
    move = spec["paths"]["/api/v1/leads/contacts/{contact_id}/lifecycle"]["post"]
    assert "PATCH /contacts/{id}" in move["description"]


def test_the_contact_form_changes_neither_stage_nor_consent(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    client = _signed_in(world, "head")
    page = client.get(f"/crm/contacts/{contact.pk}/edit/").content.decode()
    assert 'name="lifecycle_stage"' not in page
    assert 'name="consent"' not in page
    response = client.post(
        f"/crm/contacts/{contact.pk}/edit/",
        {"first_name": "Nina", "lifecycle_stage": "customer", "consent": "granted"},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.first_name, contact.lifecycle_stage, contact.consent) == (
        "Nina",
        "lead",
        "unknown",
    )
    assert not StageHistory.objects.filter(contact=contact).exists()
    assert not ConsentRecord.objects.filter(contact=contact).exists()


def test_contact_update_refuses_stage_and_consent(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    for field, value in (("lifecycle_stage", "mql"), ("consent", "granted")):
        with pytest.raises(crm.InvalidInput) as refused:
            crm.contact_update(actor=Actor.system(), contact=contact, **{field: value})
        assert refused.value.code == "owned_elsewhere"
        assert list(refused.value.errors) == [field]
    with pytest.raises(crm.InvalidInput):
        crm.contacts_bulk_update(actor=Actor.system(), changes=[(contact.pk, {"consent": "x"})])


def test_the_api_moves_a_contact_with_history_and_timeline(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    api = api_as(world.user("sales_rep"))
    path = f"/leads/contacts/{contact.pk}/lifecycle"
    response = api.post(path, {"stage": "mql", "reason": "asked for a demo"})
    assert response.status_code == 200, response.content
    assert response.json() == {"contact_id": contact.pk, "lifecycle_stage": "mql", "moved": True}
    assert list(
        StageHistory.objects.filter(contact=contact).order_by("id").values_list("stage", "reason")
    ) == [("lead", ""), ("mql", "asked for a demo")]
    touch = Touchpoint.objects.get(contact=contact, kind="lifecycle_stage_changed")
    assert touch.properties == {"from": "lead", "to": "mql", "reason": "asked for a demo"}
    entry = AuditEntry.objects.filter(model="crm.Contact", object_id=str(contact.pk)).latest("id")
    assert entry.changes == {"lifecycle_stage": ["lead", "mql"]}
    again = api.post(path, {"stage": "mql", "reason": "again"})
    assert again.json()["moved"] is False
    back = api.post(path, {"stage": "subscriber", "reason": "oops"})
    assert (back.status_code, back.json()["code"]) == (400, "transition_not_allowed")
    assert api.post(path, {"stage": "sql"}).status_code == 400  # a reason is required


def test_the_api_move_follows_the_scope(world: World) -> None:
    south = world.contacts[("sales_rep", "south")]
    body = {"stage": "mql", "reason": "x"}
    rep = api_as(world.user("sales_rep", "north"))
    assert rep.post(f"/leads/contacts/{south.pk}/lifecycle", body).status_code == 404
    read_only = api_as(world.user("marketer"), scope="read")
    north = world.contacts[("sales_rep", "north")]
    assert read_only.post(f"/leads/contacts/{north.pk}/lifecycle", body).status_code == 403
    south.refresh_from_db()
    north.refresh_from_db()
    assert (south.lifecycle_stage, north.lifecycle_stage) == ("lead", "lead")


def test_the_stage_page_moves_a_contact_and_shows_only_allowed_stages(world: World) -> None:
    contact = _customer(world)
    client = _signed_in(world, "head")
    detail = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert f'href="/leads/contacts/{contact.pk}/lifecycle/"' in detail
    page = client.get(f"/leads/contacts/{contact.pk}/lifecycle/").content.decode()
    assert 'value="opportunity"' in page
    assert 'value="subscriber"' not in page
    refused = client.post(
        f"/leads/contacts/{contact.pk}/lifecycle/", {"stage": "subscriber", "reason": "x"}
    )
    assert refused.status_code == 400
    no_reason = client.post(f"/leads/contacts/{contact.pk}/lifecycle/", {"stage": "opportunity"})
    assert no_reason.status_code == 400
    moved = client.post(
        f"/leads/contacts/{contact.pk}/lifecycle/", {"stage": "opportunity", "reason": "upsell"}
    )
    assert moved.status_code == 302
    assert moved["Location"] == f"/crm/contacts/{contact.pk}/"
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "opportunity"
    assert StageHistory.objects.filter(contact=contact, stage="opportunity").exists()


def test_the_stage_page_is_404_for_a_contact_the_user_may_not_change(world: World) -> None:
    south = world.contacts[("sales_rep", "south")]
    client = _signed_in(world, "sales_rep")
    assert client.get(f"/leads/contacts/{south.pk}/lifecycle/").status_code == 404
    posted = client.post(f"/leads/contacts/{south.pk}/lifecycle/", {"stage": "mql", "reason": "x"})
    assert posted.status_code == 404
