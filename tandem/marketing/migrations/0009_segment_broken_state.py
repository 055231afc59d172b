"""Segments remember why their filter cannot be computed ."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0008_event_lead_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="broken_reason",
            field=models.CharField(
                blank=True, max_length=500, verbose_name="why it cannot be computed"
            ),
        ),
        migrations.AddField(
            model_name="segment",
            name="broken_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="broken since"),
        ),
    ]
