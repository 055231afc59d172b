"""`restore PATH [--force]`: replace the database and the uploaded files by a backup
(`tandem.core.backups.backup_restore`), then compare every table's rows with the manifest.
Stop Tandem's processes first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection, connections
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.backups import BackupFailed, BackupRefused, Database, backup_restore
from tandem.core.commands import TandemCommand, refused


class Command(TandemCommand):
    help = gettext_lazy("restore a backup made by `tandem backup` (stop Tandem first)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=_("the backup's directory"))
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("replace the contents of a database that is not empty"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        database = Database(dict(connection.settings_dict))
        connections.close_all()  # the restore replaces what this process may hold open
        try:
            restored = backup_restore(
                path=path,
                database=database,
                media_root=Path(settings.MEDIA_ROOT),
                force=bool(options["force"]),
            )
        except BackupRefused as exc:
            raise refused(str(exc)) from None
        except BackupFailed as exc:
            raise CommandError(str(exc), returncode=1) from None
        if restored.mismatches:
            lines = [
                _("table %(table)s: %(want)s rows in the backup, %(got)s restored")
                % {"table": table, "want": want, "got": "none" if got is None else got}
                for table, (want, got) in sorted(restored.mismatches.items())
            ]
            raise CommandError("\n".join(lines), returncode=1)
        manifest = restored.manifest
        message = _(
            "Restored %(tables)s tables (%(rows)s rows, as counted in the backup) and "
            "%(files)s uploaded files from %(path)s (Tandem %(version)s, %(created)s)."
        )
        self.say(
            message
            % {
                "tables": len(manifest.tables),
                "rows": sum(manifest.tables.values()),
                "files": manifest.media_files,
                "path": path,
                "version": manifest.tandem_version,
                "created": manifest.created_at,
            }
        )
        if restored.older_by:
            self.say(
                _(
                    "The backup is %(count)s migrations behind this Tandem: "
                    "run `tandem manage migrate` (or `tandem serve`, which does) before use."
                )
                % {"count": restored.older_by}
            )
