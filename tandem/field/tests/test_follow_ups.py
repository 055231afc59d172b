"""A visit's follow-ups are tasks on the rep's "My tasks": made with the report, one task each,
done in one place whichever page completes them, never made twice by a replayed sync; the
follow-ups recorded before are carried over by the migration."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.tests.api_client import api_as
from tandem.field import services
from tandem.field.models import FollowUp
from tandem.field.tests.conftest import Field
from tandem.sales import services as sales_services
from tandem.sales.models import SalesTask

YESTERDAY = timezone.localdate() - dt.timedelta(days=1)
NEXT_WEEK = timezone.localdate() + dt.timedelta(days=7)


def _report(field: Field, *follow_ups: tuple[str, dt.date], base_version: int = 1) -> None:
    services.visit_report_save(
        actor=Actor(user=field.rep),
        visit=field.visit,
        base_version=base_version,
        notes="Met the agronomist",
        follow_ups=follow_ups,
    )


def test_each_follow_up_of_a_report_is_one_task_of_the_visits_rep(field: Field) -> None:
    deal = services.visit_deal_create(actor=Actor(user=field.rep), visit=field.visit, name="Seed")
    _report(
        field,
        ("Send the trial protocol", YESTERDAY),
        ("Call  the\tbuyer", NEXT_WEEK),
        base_version=2,
    )
    follow_ups = list(FollowUp.objects.filter(visit=field.visit).select_related("task"))
    assert [(f.title, f.due_on, f.done_at) for f in follow_ups] == [
        ("Send the trial protocol", YESTERDAY, None),
        ("Call the buyer", NEXT_WEEK, None),
    ]
    tasks = SalesTask.objects.order_by("due_on")
    assert [(t.pk, t.owner, t.contact, t.deal, t.kind) for t in tasks] == [
        (f.task_id, field.rep, field.contact, deal, "todo") for f in follow_ups
    ]
    assert AuditEntry.objects.filter(model="sales.SalesTask", action="create").count() == 2


def test_a_refused_report_leaves_no_task(field: Field) -> None:
    with pytest.raises(InvalidInput):
        _report(field, *[(f"Task {n}", NEXT_WEEK) for n in range(21)])
    with pytest.raises(services.VisitConflict):
        _report(field, ("Too late", NEXT_WEEK), base_version=7)
    assert not SalesTask.objects.exists()
    assert not FollowUp.objects.exists()


def test_done_on_my_tasks_is_done_on_the_visit_and_off_todays_list(
    client: Client, field: Field
) -> None:
    _report(field, ("Send the trial protocol", YESTERDAY))
    follow_up = FollowUp.objects.get()
    client.force_login(field.rep)
    tasks_page = client.get(reverse("sales:tasks")).content.decode()
    assert "Send the trial protocol" in tasks_page
    assert reverse("field:visit", kwargs={"key": field.visit.uuid}) in tasks_page
    assert "Send the trial protocol" in client.get(reverse("field:today")).content.decode()
    visit_url = reverse("field:visit", kwargs={"key": field.visit.uuid})
    assert '<span class="badge warn">open</span>' in client.get(visit_url).content.decode()

    done = client.post(reverse("sales:task_done", args=[follow_up.task_id]))
    assert done.status_code == 302
    follow_up.task.refresh_from_db()
    assert follow_up.done_at is not None
    visit_page = client.get(visit_url).content.decode()
    assert '<span class="badge muted">done' in visit_page
    assert reverse("sales:tasks") in visit_page
    assert "Send the trial protocol" not in client.get(reverse("field:today")).content.decode()
    answer = api_as(field.rep).get(f"/field/visits/{field.visit.uuid}").json()
    assert answer["follow_ups"] == [
        {
            "id": follow_up.pk,
            "task_id": follow_up.task_id,
            "title": "Send the trial protocol",
            "due_on": YESTERDAY.isoformat(),
            "done_at": answer["follow_ups"][0]["done_at"],
        }
    ]
    assert answer["follow_ups"][0]["done_at"] is not None


def test_done_on_the_field_page_completes_the_task_once(client: Client, field: Field) -> None:
    _report(field, ("Send the trial protocol", YESTERDAY))
    follow_up = FollowUp.objects.get()
    client.force_login(field.rep)
    url = reverse("field:follow_up_done", args=[follow_up.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302  # a second press changes nothing
    task = SalesTask.objects.get()
    assert task.done_at is not None
    entries = AuditEntry.objects.filter(model="sales.SalesTask", object_id=str(task.pk))
    assert sorted(entries.values_list("action", flat=True)) == ["create", "update"]
    page = client.get(reverse("sales:tasks")).content.decode()
    assert "Send the trial protocol" in page.split("Done</h2>")[-1]  # in the done list


def test_another_rep_cannot_complete_the_follow_up(
    client: Client, world: Any, field: Field
) -> None:
    _report(field, ("Send the trial protocol", YESTERDAY))
    follow_up = FollowUp.objects.get()
    client.force_login(world.user("field_rep", "south"))
    assert client.post(reverse("field:follow_up_done", args=[follow_up.pk])).status_code == 404
    assert client.post(reverse("sales:task_done", args=[follow_up.task_id])).status_code == 404
    assert SalesTask.objects.get().done_at is None


def test_a_replayed_sync_makes_no_second_follow_up_nor_task(field: Field) -> None:
    api = api_as(field.rep)
    op = {
        "uuid": str(uuid.uuid4()),
        "kind": "report",
        "visit": str(field.visit.uuid),
        "base_version": 1,
        "notes": "offline",
        "follow_ups": [{"title": "Bring samples", "due_on": NEXT_WEEK.isoformat()}],
    }
    first = api.post("/field/sync", {"operations": [op]})
    again = api.post("/field/sync", {"operations": [op]})
    assert [r["status"] for r in first.json()["results"]] == ["applied"]
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]
    assert FollowUp.objects.count() == SalesTask.objects.count() == 1
    assert SalesTask.objects.get().owner == field.rep


def test_completing_a_task_through_sales_services_completes_the_follow_up(field: Field) -> None:
    _report(field, ("Send the trial protocol", YESTERDAY))
    task = SalesTask.objects.get()
    sales_services.task_complete(actor=Actor(user=field.rep), task=task)
    assert FollowUp.objects.select_related("task").get().done_at == task.done_at


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_recorded_follow_up_its_task(field: Field) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("field", "0003_follow_up_task")])
    old = executor.loader.project_state([("field", "0003_follow_up_task")]).apps
    done_at = timezone.now() - dt.timedelta(days=2)
    old.get_model("field", "FollowUp").objects.bulk_create(
        [
            old.get_model("field", "FollowUp")(
                visit_id=field.visit.pk, title="Send results", due_on=YESTERDAY
            ),
            old.get_model("field", "FollowUp")(
                visit_id=field.visit.pk, title="Call back", due_on=NEXT_WEEK, done_at=done_at
            ),
        ]
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = [
        (f.title, f.due_on, f.done_at, f.task.owner_id, f.task.contact_id)
        for f in FollowUp.objects.select_related("task")
    ]
    assert rows == [
        ("Send results", YESTERDAY, None, field.rep.pk, field.contact.pk),
        ("Call back", NEXT_WEEK, done_at, field.rep.pk, field.contact.pk),
    ]
    assert SalesTask.objects.count() == 2
