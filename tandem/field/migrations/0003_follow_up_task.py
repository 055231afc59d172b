"""A follow-up gets its sales task (nullable until 0004 has made one for every follow-up)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("field", "0002_visit_table_name"),
        ("sales", "0004_enrolment_moved_to_flow"),
    ]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="task",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="field_follow_up",
                to="sales.salestask",
            ),
        ),
    ]
