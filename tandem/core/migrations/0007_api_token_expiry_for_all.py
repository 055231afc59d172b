"""Every API token expires: tokens created before expiry became the rule get 90 days from now."""

import datetime as dt

from django.db import migrations
from django.utils import timezone


def expire_open_tokens(apps, schema_editor):  # type: ignore[no-untyped-def]
    ApiToken = apps.get_model("core", "ApiToken")
    ApiToken.objects.filter(expires_at__isnull=True).update(
        expires_at=timezone.now() + dt.timedelta(days=90)
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0006_organisation_require_admin_two_factor")]

    operations = [migrations.RunPython(expire_open_tokens, migrations.RunPython.noop)]
