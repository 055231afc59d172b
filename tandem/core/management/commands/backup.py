"""`backup PATH`: the database and the uploaded files into a new directory
(`tandem.core.backups.backup_create`; safe while Tandem runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.backups import BackupFailed, BackupRefused, Database, backup_create
from tandem.core.commands import TandemCommand, refused


class Command(TandemCommand):
    help = gettext_lazy("back up the database and uploaded files into a new directory PATH")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=_("a new (or empty) directory for the backup"))

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            manifest = backup_create(
                path=path,
                database=Database(connection.settings_dict),
                media_root=Path(settings.MEDIA_ROOT),
            )
        except BackupRefused as exc:
            raise refused(str(exc)) from None
        except BackupFailed as exc:
            raise CommandError(str(exc), returncode=1) from None
        rows = sum(manifest.tables.values())
        message = _(
            "Backed up %(tables)s tables (%(rows)s rows) and %(files)s uploaded files "
            "into %(path)s."
        )
        self.say(
            message
            % {
                "tables": len(manifest.tables),
                "rows": rows,
                "files": manifest.media_files,
                "path": path,
            }
        )
