"""Backups: the drill (back up a database with records, restore it into a fresh database of the
same engine, compare every table's row count and a sample of rows), and the refusals.

The drill runs on whichever engine the suite runs on: SQLite into a new file, PostgreSQL into
a new database ``tandem_backup_drill`` beside the test database (created and dropped here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from conftest import World
from tandem.core.audit import Actor
from tandem.core.backups import (
    MANIFEST,
    BackupRefused,
    Database,
    backup_create,
    backup_restore,
    table_counts,
)
from tandem.crm import services as crm

DRILL_DATABASE = "tandem_backup_drill"
TANDEM = str(Path(sys.executable).with_name("tandem"))
SAMPLED = {  # table: the rows compared field by field (ordered by id)
    "crm_contact": 20,
    "crm_account": 20,
    "core_auditentry": 50,
    "core_user": 20,
}


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Database]:
    """An empty database of the suite's engine, dropped afterwards."""
    source = Database(dict(connection.settings_dict))
    if source.engine == "sqlite":
        yield Database({**source.settings, "NAME": str(tmp_path / "fresh.sqlite3")})
        return
    with source.connect() as conn:
        conn.autocommit = True
        conn.execute(f"DROP DATABASE IF EXISTS {DRILL_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DRILL_DATABASE}")
        try:
            yield Database({**source.settings, "NAME": DRILL_DATABASE})
        finally:
            conn.execute(f"DROP DATABASE IF EXISTS {DRILL_DATABASE} WITH (FORCE)")


def rows(database: Database, table: str, limit: int) -> list[tuple[Any, ...]]:
    with database.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(f'SELECT * FROM "{table}" ORDER BY id LIMIT {int(limit)}')
        return [tuple(row) for row in cursor.fetchall()]


def counts(database: Database) -> dict[str, int]:
    with database.connect() as conn:
        return table_counts(conn, database.engine)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_drill_restores_every_row_and_the_uploaded_files_into_a_fresh_database(
    world: World, tmp_path: Path, fresh_database: Database
) -> None:
    system = Actor.system()
    owner = world.user("sales_rep")
    account = world.accounts[("sales_rep", "north")]
    for k in range(25):
        crm.contact_create(
            actor=system,
            first_name=f"Drill {k}",
            last_name="Контакт",  # not only ASCII
            email=f"drill.{k}@north-sales-rep.example.com",
            account_id=account.pk,
            owner_id=owner.pk,
        )
    media = tmp_path / "media"
    (media / "imports" / "2026").mkdir(parents=True)
    (media / "imports" / "2026" / "contacts.csv").write_bytes(b"email\nx@example.com\n")
    source = Database(dict(connection.settings_dict))

    manifest = backup_create(path=tmp_path / "backup", database=source, media_root=media)
    restored = backup_restore(
        path=tmp_path / "backup", database=fresh_database, media_root=tmp_path / "restored"
    )

    assert restored.mismatches == {}
    assert manifest.tables["crm_contact"] == 29  # the world's four and the drill's 25
    assert manifest.tables["core_auditentry"] >= 29
    assert counts(fresh_database) == counts(source) == manifest.tables
    for table, limit in SAMPLED.items():
        assert rows(fresh_database, table, limit) == rows(source, table, limit), table
    copied = tmp_path / "restored" / "imports" / "2026" / "contacts.csv"
    assert copied.read_bytes() == b"email\nx@example.com\n"
    assert manifest.media_files == 1
    assert restored.older_by == 0

    with pytest.raises(BackupRefused, match="is not empty"):  # a second time: it has tables
        backup_restore(path=tmp_path / "backup", database=fresh_database, media_root=media)


# --- refusals through the command line (exit code 2, one line, no traceback) -----------------


def _manifest(path: Path, **changes: Any) -> None:
    """A backup directory with a manifest (and an empty database file) for refusals."""
    path.mkdir()
    data = {
        "format": "tandem-backup",
        "format_version": 1,
        "engine": "sqlite",
        "tandem_version": "9.9.9",
        "created_at": "2026-12-07T09:00:00+00:00",
        "migrations": [["core", "0001_initial"]],
        "tables": {},
        **changes,
    }
    (path / MANIFEST).write_text(json.dumps(data))
    (path / "database.sqlite3").write_bytes(b"")


@pytest.mark.slow
@pytest.mark.sqlite_leg_only
def test_bad_backups_are_refused_by_the_command_with_a_message_and_exit_code_2(
    tmp_path: Path,
) -> None:
    _manifest(tmp_path / "newer", migrations=[["crm", "9999_from_the_future"]])
    _manifest(tmp_path / "postgres", engine="postgresql")
    (tmp_path / "postgres" / "database.dump").write_bytes(b"")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / MANIFEST).write_text("PGDMP not json")
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "x").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "LANG"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'tandem.sqlite3'}",
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        LC_ALL="C.UTF-8",
        LANGUAGE_CODE="en",
    )
    cases = {
        ("restore", str(tmp_path / "missing")): "is not a directory",
        ("restore", str(tmp_path / "garbage")): "is not a Tandem backup manifest",
        ("restore", str(tmp_path / "occupied")): "has no manifest.json",
        ("restore", str(tmp_path / "newer")): "made by a newer Tandem (9.9.9; migrations "
        "crm.9999_from_the_future are unknown here)",
        ("restore", str(tmp_path / "postgres")): "the backup is of a postgresql database",
        ("backup", str(tmp_path / "occupied")): "exists and is not an empty directory",
    }
    code = (  # one process for all: Django starts once
        "import sys; from config.cli import main\n"
        "for argv in " + repr([list(argv) for argv in cases]) + ":\n"
        "    print(main(argv), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[1::2] == ["2"] * len(cases), done.stderr
    for line, ((command, _path), expected) in zip(lines[0::2], cases.items(), strict=True):
        assert line.startswith(f"tandem {command}: "), line
        assert expected in line, line
