"""Trigram indexes for contact and account search on PostgreSQL (no-op elsewhere).

Search uses `icontains`, which PostgreSQL runs as `UPPER(col::text) LIKE UPPER('%term%')`; a GIN
index over the same expression with `gin_trgm_ops` answers it without a table scan. Built
CONCURRENTLY so a large table stays writable (the migration is therefore non-atomic).
"""

from django.db import migrations

COLUMNS = [
    ("crm_contact", "first_name"),
    ("crm_contact", "last_name"),
    ("crm_contact", "email"),
    ("crm_contact", "title"),
    ("crm_account", "name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {table}_{column}_trgm ON {table} "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in COLUMNS:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {table}_{column}_trgm")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("crm", "0002_touchpoint_tracking_fields")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
