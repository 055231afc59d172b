"""Flow.managed_by: the app that keeps a flow's definition (a sales sequence), if not the builder."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automation', '0004_segment_sequence_reactions_to_flows'),
    ]

    operations = [
        migrations.AddField(
            model_name='flow',
            name='managed_by',
            field=models.CharField(blank=True, choices=[('', 'the automation builder'), ('sales.sequence', 'a sales sequence')], default='', max_length=40),
        ),
    ]
