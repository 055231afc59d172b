"""Every follow-up recorded so far (the demo's too) gets its task on its rep's "My tasks": the
visit's rep owns it, it carries the visit's contact and deal, the follow-up's title, due day and
done time. Historical models only; batches of 500."""

from django.db import migrations

BATCH = 500


def make_tasks(apps, schema_editor):
    FollowUp = apps.get_model("field", "FollowUp")
    SalesTask = apps.get_model("sales", "SalesTask")
    pending = FollowUp.objects.filter(task__isnull=True).select_related("visit").order_by("pk")
    while True:
        rows = list(pending[:BATCH])
        if not rows:
            return
        tasks = SalesTask.objects.bulk_create(
            SalesTask(
                owner_id=row.visit.rep_id,
                contact_id=row.visit.contact_id,
                deal_id=row.visit.deal_id,
                kind="todo",
                title=" ".join(row.title.split())[:300] or "—",
                due_on=row.due_on,
                done_at=row.done_at,
                created_at=row.visit.updated_at,
            )
            for row in rows
        )
        for row, task in zip(rows, tasks, strict=True):
            row.task_id = task.pk
        FollowUp.objects.bulk_update(rows, ["task"])


def copy_back(apps, schema_editor):
    FollowUp = apps.get_model("field", "FollowUp")
    SalesTask = apps.get_model("sales", "SalesTask")
    rows = list(FollowUp.objects.filter(task__isnull=False).select_related("task"))
    for row in rows:
        row.title, row.due_on, row.done_at = row.task.title, row.task.due_on, row.task.done_at
    FollowUp.objects.bulk_update(rows, ["title", "due_on", "done_at"], batch_size=BATCH)
    task_ids = [row.task_id for row in rows]
    FollowUp.objects.filter(pk__in=[row.pk for row in rows]).update(task=None)
    SalesTask.objects.filter(pk__in=task_ids).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("field", "0003_follow_up_task"),
    ]

    operations = [migrations.RunPython(make_tasks, copy_back)]
