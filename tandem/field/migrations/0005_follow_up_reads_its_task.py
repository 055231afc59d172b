"""The task is the follow-up's one home: its title, due day and done time leave the follow-up."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("field", "0004_follow_up_tasks_made"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="followup",
            options={"ordering": ["task__due_on", "id"]},
        ),
        migrations.AlterField(
            model_name="followup",
            name="task",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="field_follow_up",
                to="sales.salestask",
            ),
        ),
        migrations.RemoveField(model_name="followup", name="done_at"),
        migrations.RemoveField(model_name="followup", name="due_on"),
        migrations.RemoveField(model_name="followup", name="title"),
    ]
