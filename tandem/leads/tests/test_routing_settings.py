"""The lead routing settings from their page and API: territories, rep capacity, the hand-off
policy and MQL targets, set by the head, take effect on the next hand-off's route and SLA clock;
reps reach neither the page nor the API; bad input is a form error or a 4xx; each change is
audited."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.leads import services
from tandem.leads.models import HandoffPolicy, MqlTarget, RepCapacity, Territory
from tandem.leads.tests.conftest import MSK

pytestmark = pytest.mark.django_db
MONDAY_10_MSK = dt.datetime(2025, 3, 10, 10, 0, tzinfo=MSK)
API = "/api/v1/leads"


@pytest.fixture
def head(world, org) -> Client:
    client = Client()
    client.force_login(world.user("head"))
    return client


@pytest.fixture
def rep(world, org) -> Client:
    client = Client()
    client.force_login(world.user("sales_rep"))
    return client


def _json(client: Client, method: str, url: str, body: object) -> object:
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def test_a_new_sla_value_sets_the_next_handoffs_deadline(head, reps, make_lead):
    policy_url = reverse("leads:routing_policy")
    saved = head.post(
        policy_url,
        {"accept_within_hours": "2", "first_contact_within_hours": "6", "max_escalations": "1"},
    )
    assert saved.status_code == 302
    first = services.handoff_create(
        actor=Actor.system(), contact=make_lead(), trigger="manual", now=MONDAY_10_MSK
    )
    assert first.accept_due_at == MONDAY_10_MSK + dt.timedelta(hours=2)

    head.post(
        policy_url,
        {"accept_within_hours": "5", "first_contact_within_hours": "6", "max_escalations": "1"},
    )
    second = services.handoff_create(
        actor=Actor.system(), contact=make_lead(), trigger="manual", now=MONDAY_10_MSK
    )
    assert second.accept_due_at == MONDAY_10_MSK + dt.timedelta(hours=5)
    first.refresh_from_db()
    assert first.accept_due_at == MONDAY_10_MSK + dt.timedelta(hours=2)  # keeps its deadline
    entry = AuditEntry.objects.filter(model="leads.HandoffPolicy").latest("id")
    assert entry.changes["accept_within_hours"] == [2.0, 5.0]


def test_a_territory_made_on_the_page_routes_its_region_to_its_reps(head, world, reps, make_lead):
    south = world.user("sales_rep", "south")
    page = head.get(reverse("leads:routing")).content.decode()
    assert "sales_rep_south" in page or south.get_full_name() in page
    made = head.post(
        reverse("leads:routing_territory_create"),
        {"name": "Far East", "region": "Primorye", "industry": "", "members": [south.pk]},
    )
    assert made.status_code == 302
    territory = Territory.objects.get(name="Far East")
    assert list(territory.members.all()) == [south]
    handoff = services.handoff_create(
        actor=Actor.system(),
        contact=make_lead(region="Primorye"),
        trigger="manual",
        now=MONDAY_10_MSK,
    )
    assert (handoff.assigned_to, handoff.routed_by, handoff.territory) == (
        south,
        "territory",
        territory,
    )
    north = world.user("sales_rep", "north")
    edited = head.post(
        reverse("leads:routing_territory", args=[territory.pk]),
        {"name": "Far East", "region": "Primorye", "industry": "", "members": [north.pk]},
    )
    assert edited.status_code == 302
    again = services.handoff_create(
        actor=Actor.system(),
        contact=make_lead(region="Primorye"),
        trigger="manual",
        now=MONDAY_10_MSK,
    )
    assert again.assigned_to == north
    assert AuditEntry.objects.filter(model="leads.Territory", action="update").exists()


def test_a_rep_set_unavailable_on_the_page_gets_no_round_robin_leads(head, world, reps, make_lead):
    north, south, east = reps
    for person in (north, east):
        saved = head.post(
            reverse("leads:routing_capacity"),
            {"rep": person.pk, "weight": "1", "capacity": "10"},  # unticked: not available
        )
        assert saved.status_code == 302
    assert not RepCapacity.objects.get(user=north).is_available
    for _ in range(3):
        handoff = services.handoff_create(
            actor=Actor.system(), contact=make_lead(), trigger="manual", now=MONDAY_10_MSK
        )
        assert handoff.assigned_to == south


def test_mql_targets_are_set_and_removed_on_the_page(head):
    saved = head.post(reverse("leads:routing_target"), {"month": "2026-03", "target": "120"})
    assert saved.status_code == 302
    assert MqlTarget.objects.get().month == dt.date(2026, 3, 1)
    head.post(reverse("leads:routing_target"), {"month": "2026-03", "target": "150"})
    assert MqlTarget.objects.get().target == 150
    head.post(reverse("leads:routing_target_remove", args=[2026, 3]))
    assert not MqlTarget.objects.exists()
    assert AuditEntry.objects.filter(model="leads.MqlTarget", action="delete").exists()


def test_reps_reach_neither_the_page_nor_the_api(rep, world):
    assert rep.get(reverse("leads:routing")).status_code == 403
    refused = rep.post(
        reverse("leads:routing_policy"),
        {"accept_within_hours": "1", "first_contact_within_hours": "1", "max_escalations": "0"},
    )
    assert refused.status_code == 403
    assert rep.get(f"{API}/handoff-policy").status_code == 403
    put = _json(
        rep,
        "put",
        f"{API}/handoff-policy",
        {"accept_within_hours": 1, "first_contact_within_hours": 1, "max_escalations": 0},
    )
    assert put.status_code == 403
    assert put.json()["code"] == "forbidden"
    assert _json(rep, "post", f"{API}/territories", {"name": "Mine"}).status_code == 403
    assert HandoffPolicy.current().accept_within_hours == 4
    assert not Territory.objects.exists()


def test_bad_input_is_a_form_error_on_the_page_and_a_4xx_from_the_api(head, world):
    bad = head.post(
        reverse("leads:routing_policy"),
        {"accept_within_hours": "0", "first_contact_within_hours": "x", "max_escalations": "-1"},
    )
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 0.1." in bad.content.decode()
    not_a_rep = head.post(
        reverse("leads:routing_capacity"),
        {"rep": world.user("marketer").pk, "weight": "1", "capacity": "5"},
    )
    assert not_a_rep.status_code == 400
    month = head.post(reverse("leads:routing_target"), {"month": "March", "target": "5"})
    assert month.status_code == 400
    assert "A month such as 2026-03." in month.content.decode()
    head.post(reverse("leads:routing_territory_create"), {"name": "North"})
    twice = head.post(reverse("leads:routing_territory_create"), {"name": "north"})
    assert twice.status_code == 400
    assert "a territory with this name exists" in twice.content.decode()

    zero = _json(
        head,
        "put",
        f"{API}/handoff-policy",
        {"accept_within_hours": 0, "first_contact_within_hours": 1, "max_escalations": 0},
    )
    assert zero.status_code in (400, 422)
    marketer = world.user("marketer")
    refused = _json(head, "put", f"{API}/rep-capacities/{marketer.pk}", {"weight": 1})
    assert refused.status_code == 400
    assert "user_id" in refused.json()["details"]
    assert _json(head, "put", f"{API}/mql-targets/2026-13", {"target": 1}).status_code in (400, 422)
    year_zero = _json(head, "put", f"{API}/mql-targets/0000-01", {"target": 1})
    assert year_zero.status_code == 400  # a month the calendar has not: a reason, not a 500
    assert _json(head, "delete", f"{API}/mql-targets/0000-01", None).status_code == 400
    assert head.delete(f"{API}/territories/999999").status_code == 404
    assert HandoffPolicy.current().accept_within_hours == 4


def test_the_api_sets_every_rule(head, world, reps):
    south = world.user("sales_rep", "south")
    policy = _json(
        head,
        "put",
        f"{API}/handoff-policy",
        {"accept_within_hours": 3, "first_contact_within_hours": 9, "max_escalations": 2},
    )
    assert policy.status_code == 200
    assert policy.json()["accept_within_hours"] == 3
    target = _json(head, "put", f"{API}/mql-targets/2026-04", {"target": 80})
    assert target.json() == {"month": "2026-04", "target": 80}
    territory = _json(
        head,
        "post",
        f"{API}/territories",
        {"name": "South", "region": "Kuban", "member_ids": [south.pk]},
    )
    assert territory.status_code == 201, territory.content
    territory_id = territory.json()["id"]
    patched = _json(head, "patch", f"{API}/territories/{territory_id}", {"member_ids": []})
    assert patched.json()["member_ids"] == []
    capacity = _json(
        head,
        "put",
        f"{API}/rep-capacities/{south.pk}",
        {"weight": 3, "capacity": 7, "is_available": False},
    )
    assert capacity.status_code == 200
    assert (capacity.json()["weight"], capacity.json()["capacity"]) == (3, 7)
    assert head.delete(f"{API}/territories/{territory_id}").status_code == 204
    assert not Territory.objects.exists()


def test_the_routing_page_is_linked_from_settings_and_speaks_russian(head, rep):
    assert reverse("leads:routing") in head.get(reverse("core:settings")).content.decode()
    assert reverse("leads:routing") not in rep.get(reverse("core:settings")).content.decode()
    head.post(reverse("core:language"), {"language": "ru"})
    page = head.get(reverse("leads:routing")).content.decode()
    assert "Распределение лидов и соглашение" in page
    assert "Цели по MQL (сторона маркетинга)" in page
