"""Backups of a Tandem installation and their restore (`tandem backup PATH`, `tandem restore PATH`).

A backup is a directory:

    manifest.json      format, Tandem's version, the engine, the applied migrations, the row
                       count of every table, the files below
    database.dump      PostgreSQL: `pg_dump --format=custom` (restored with `pg_restore`)
    database.sqlite3   SQLite: a copy made with SQLite's online backup API
    media.tar          the uploaded files (MEDIA_ROOT: import files), when there are any

Not in a backup: the secret key (SECRET_KEY or TANDEM_VAR_DIR/secret_key: keep it with your other
secrets), exports waiting to be downloaded (EXPORT_DIR: kept EXPORT_KEEP_HOURS, then deleted),
sessions, caches and collected static files (rebuilt by `tandem serve`).

Invariants:
- the manifest describes exactly the database in the backup: PostgreSQL counts rows inside the
  snapshot `pg_dump` reads (``--snapshot``), SQLite counts rows in the copy; so a backup may be
  taken while Tandem runs;
- `backup_restore` refuses (`BackupRefused`, nothing changed) a directory that is not a backup,
  a backup of the other engine, one made by migrations this code does not know (a newer Tandem),
  and a target database that has tables unless ``force``; a PostgreSQL restore is one
  transaction (``--single-transaction``), a SQLite restore one backup-API copy;
- after a restore every table of the manifest is counted again; a difference is reported in
  `Restored.mismatches`, never ignored.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

FORMAT = "tandem-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
MEDIA_TAR = "media.tar"
TOOL_TIMEOUT = 6 * 3600  # seconds: a dump or restore that takes longer is stuck


class BackupRefused(Exception):
    """Bad input (not a backup, wrong engine, newer migrations, a database in use): exit 2."""


class BackupFailed(Exception):
    """A tool or the database failed (pg_dump's error, a full disk): exit 1."""


@dataclass(frozen=True)
class Database:
    """Where a backup comes from or goes to: Django's ``settings_dict`` of a connection."""

    settings: Mapping[str, Any]

    @property
    def engine(self) -> str:
        engine = str(self.settings["ENGINE"])
        if engine.endswith("sqlite3"):
            return "sqlite"
        if "postgresql" in engine:
            return "postgresql"
        raise BackupRefused(
            _("backups support SQLite and PostgreSQL, not %(engine)s") % {"engine": engine}
        )

    @property
    def name(self) -> str:
        return str(self.settings["NAME"])

    def pg_args(self) -> tuple[list[str], dict[str, str]]:
        """Connection arguments and environment for pg_dump / pg_restore (as Django's psql)."""
        s, options = self.settings, self.settings.get("OPTIONS") or {}
        args = []
        if s.get("USER"):
            args += ["--username", str(s["USER"])]
        if s.get("HOST"):
            args += ["--host", str(s["HOST"])]
        if s.get("PORT"):
            args += ["--port", str(s["PORT"])]
        env = {**os.environ}
        if s.get("PASSWORD"):
            env["PGPASSWORD"] = str(s["PASSWORD"])
        for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
            if options.get(option):
                env[variable] = str(options[option])
        return [*args, "--no-password"], env

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A plain DB-API connection (sqlite3 or psycopg), closed on leaving."""
        if self.engine == "sqlite":
            conn: Any = sqlite3.connect(self.name, timeout=30)
        else:
            import psycopg

            s = self.settings
            conn = psycopg.connect(
                dbname=self.name,
                user=s.get("USER") or None,
                password=s.get("PASSWORD") or None,
                host=s.get("HOST") or None,
                port=s.get("PORT") or None,
                sslmode=(s.get("OPTIONS") or {}).get("sslmode"),
            )
        with closing(conn):
            yield conn


@dataclass(frozen=True)
class Manifest:
    engine: str
    tandem_version: str
    created_at: str
    migrations: list[tuple[str, str]]
    tables: dict[str, int]
    media_files: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "engine": self.engine,
            "tandem_version": self.tandem_version,
            "created_at": self.created_at,
            "migrations": [list(pair) for pair in self.migrations],
            "tables": self.tables,
            "media_files": self.media_files,
        }


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    tables: dict[str, int]
    mismatches: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # (want, got)
    older_by: int = 0  # migrations this code has that the backup had not applied


# --- reading a database ----------------------------------------------------------------------


def table_names(conn: Any, engine: str) -> list[str]:
    if engine == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    cursor = conn.cursor()
    cursor.execute(sql)
    return sorted(str(row[0]) for row in cursor.fetchall())


def table_counts(conn: Any, engine: str) -> dict[str, int]:
    """The row count of every table (sqlite_* and other schemas left out), by name."""
    cursor = conn.cursor()
    counts = {}
    for name in table_names(conn, engine):
        quoted = '"' + name.replace('"', '""') + '"'
        cursor.execute(f"SELECT COUNT(*) FROM {quoted}")  # a quoted table name
        counts[name] = int(cursor.fetchone()[0])
    return counts


def applied_migrations(conn: Any, engine: str) -> list[tuple[str, str]]:
    if "django_migrations" not in table_names(conn, engine):
        return []
    cursor = conn.cursor()
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [(str(app), str(name)) for app, name in cursor.fetchall()]


def known_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def tandem_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tandem")
    except PackageNotFoundError:
        return "unknown"


# --- backup ----------------------------------------------------------------------------------


def backup_create(*, path: Path, database: Database, media_root: Path) -> Manifest:
    """Write a backup of ``database`` and ``media_root`` into the new or empty directory
    ``path``; returns its manifest."""
    engine = database.engine
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupRefused(_("%(path)s exists and is not an empty directory") % {"path": path})
    try:
        path.mkdir(parents=True, exist_ok=True)
        if engine == "sqlite":
            migrations, tables = _sqlite_copy(database, path / SQLITE_COPY)
        else:
            migrations, tables = _pg_dump(database, path / PG_DUMP)
        media_files = _media_pack(media_root, path / MEDIA_TAR)
        manifest = Manifest(
            engine=engine,
            tandem_version=tandem_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            migrations=migrations,
            tables=tables,
            media_files=media_files,
        )
        draft = path / f".{MANIFEST}.draft"
        draft.write_text(json.dumps(manifest.as_json(), indent=2, sort_keys=True) + "\n")
        draft.replace(path / MANIFEST)  # the manifest last: a backup without one is unfinished
    except (OSError, sqlite3.Error) as exc:
        message = _("cannot write the backup in %(path)s: %(error)s")
        raise BackupFailed(message % {"path": path, "error": exc}) from None
    return manifest


def _sqlite_copy(database: Database, target: Path) -> tuple[list[tuple[str, str]], dict[str, int]]:
    if not Path(database.name).is_file():
        message = _("there is no SQLite database at %(path)s")
        raise BackupRefused(message % {"path": database.name})
    with database.connect() as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # the online backup API: consistent while others write
        return applied_migrations(copy, "sqlite"), table_counts(copy, "sqlite")


def _pg_dump(database: Database, target: Path) -> tuple[list[tuple[str, str]], dict[str, int]]:
    args, env = database.pg_args()
    import psycopg

    with database.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        with conn.transaction():
            cursor = conn.cursor()
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            migrations = applied_migrations(conn, "postgresql")
            tables = table_counts(conn, "postgresql")
            command = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", *args]
            _run([*command, f"--file={target}", database.name], env, "pg_dump")
    return migrations, tables


def _run(command: list[str], env: dict[str, str], tool: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603  # arguments, no shell
            command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except FileNotFoundError:
        message = _("%(tool)s is not installed (PostgreSQL's client tools)")
        raise BackupFailed(message % {"tool": tool}) from None
    except subprocess.TimeoutExpired:
        message = _("%(tool)s did not finish in %(seconds)s s")
        raise BackupFailed(message % {"tool": tool, "seconds": TOOL_TIMEOUT}) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        error = lines[0] if lines else done.returncode
        raise BackupFailed(_("%(tool)s failed: %(error)s") % {"tool": tool, "error": error})


def _media_pack(media_root: Path, target: Path) -> int:
    files = sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.is_dir() else []
    if not files:
        return 0
    with tarfile.open(target, "w") as tar:
        for file in files:
            tar.add(file, arcname=str(file.relative_to(media_root)))
    return len(files)


# --- restore ---------------------------------------------------------------------------------


def manifest_read(path: Path) -> Manifest:
    """The manifest of the backup in ``path``; `BackupRefused` when it is not one."""
    file = path / MANIFEST
    if not path.is_dir():
        message = _("%(path)s is not a directory (a backup is one: tandem backup PATH)")
        raise BackupRefused(message % {"path": path})
    if not file.is_file():
        message = _("%(path)s has no %(file)s: not a Tandem backup, or an unfinished one")
        raise BackupRefused(message % {"path": path, "file": MANIFEST})
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {data.get('format_version')!r} is not known")
        manifest = Manifest(
            engine=str(data["engine"]),
            tandem_version=str(data["tandem_version"]),
            created_at=str(data["created_at"]),
            migrations=[(str(app), str(name)) for app, name in data["migrations"]],
            tables={str(name): int(count) for name, count in data["tables"].items()},
            media_files=int(data.get("media_files", 0)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        message = _("%(file)s is not a Tandem backup manifest: %(error)s")
        raise BackupRefused(message % {"file": file, "error": exc}) from None
    database_file = path / (PG_DUMP if manifest.engine == "postgresql" else SQLITE_COPY)
    if not database_file.is_file():
        message = _("%(path)s has no %(file)s: the backup is incomplete")
        raise BackupRefused(message % {"path": path, "file": database_file.name})
    return manifest


def backup_restore(
    *, path: Path, database: Database, media_root: Path, force: bool = False
) -> Restored:
    """Replace the contents of ``database`` and ``media_root`` by the backup in ``path``."""
    manifest = manifest_read(path)
    engine = database.engine
    if manifest.engine != engine:
        message = _(
            "the backup is of a %(backup)s database; this Tandem uses %(engine)s "
            "(set DATABASE_URL to a database of the same engine)"
        )
        raise BackupRefused(message % {"backup": manifest.engine, "engine": engine})
    known = known_migrations()
    newer = sorted(set(manifest.migrations) - known)
    if newer:
        names = ", ".join(f"{app}.{name}" for app, name in newer[:5])
        if len(newer) > 5:
            names += _(" and %(count)s more") % {"count": len(newer) - 5}
        message = _(
            "the backup was made by a newer Tandem (%(version)s; migrations %(names)s "
            "are unknown here): upgrade Tandem, then restore"
        )
        raise BackupRefused(message % {"version": manifest.tandem_version, "names": names})
    if not force:
        with database.connect() as conn:
            present = table_names(conn, engine)
        if present:
            message = _(
                "the database %(name)s is not empty (%(tables)s tables): "
                "restore into a new database, or add --force to replace its contents"
            )
            raise BackupRefused(message % {"name": database.name, "tables": len(present)})
    try:
        if engine == "sqlite":
            with (
                closing(sqlite3.connect(path / SQLITE_COPY)) as source,
                database.connect() as target,
            ):
                source.backup(target)
        else:
            args, env = database.pg_args()
            command = ["pg_restore", "--clean", "--if-exists", "--no-owner", *args]
            command += ["--single-transaction", "--exit-on-error", f"--dbname={database.name}"]
            _run([*command, str(path / PG_DUMP)], env, "pg_restore")
        _media_unpack(path / MEDIA_TAR, media_root)
    except (OSError, sqlite3.Error, tarfile.TarError) as exc:
        message = _("cannot restore from %(path)s: %(error)s")
        raise BackupFailed(message % {"path": path, "error": exc}) from None
    with database.connect() as conn:
        tables = table_counts(conn, engine)
    mismatches: dict[str, tuple[int, int | None]] = {
        name: (want, tables.get(name))
        for name, want in manifest.tables.items()
        if tables.get(name) != want
    }
    older_by = len(known - set(manifest.migrations))
    return Restored(manifest=manifest, tables=tables, mismatches=mismatches, older_by=older_by)


def _media_unpack(tar_path: Path, media_root: Path) -> None:
    if not tar_path.is_file():
        return
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r") as tar:
        tar.extractall(media_root, filter="data")  # no absolute paths, links out or devices
