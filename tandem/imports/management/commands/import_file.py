"""`import_file contacts|accounts PATH [--dry-run] [--mapping JSON] [--user USERNAME]`
(`tandem import ...`): contacts or accounts from a CSV or XLSX file.

Prints the recognised mapping, progress after each chunk, then the per-row report
(`row N: field: message`) and a summary. Exit codes: 0 when the file was read (rejected rows
are reported, not fatal), 2 for bad arguments or a file that cannot be read (nothing stored).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from tandem.core.commands import TandemCommand, refused
from tandem.core.errors import InvalidInput
from tandem.core.models import Role, User
from tandem.imports import services
from tandem.imports.models import ImportJob, ImportStatus


def _user(username: str) -> User | None:
    users = User.objects.filter(is_active=True)
    if username:
        return users.filter(username=username).first()
    return users.filter(role=Role.ADMIN).order_by("pk").first()


def _mapping(text: str) -> dict[str, str] | None:
    try:
        override = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        raise refused(_("--mapping is not JSON: %(error)s") % {"error": exc}) from None
    if override is not None and not (
        isinstance(override, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in override.items())
    ):
        raise refused(_('--mapping must be an object of strings, e.g. {"Mail": "email"}'))
    return override


class Command(TandemCommand):
    help = gettext_lazy(
        "import contacts or accounts from CSV or XLSX (tandem import contacts PATH --dry-run)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.description = _("Import contacts or accounts from CSV or XLSX.")
        parser.add_argument("kind", choices=["contacts", "accounts"], help=_("what the file holds"))
        parser.add_argument("path", type=Path, help=_("the CSV or XLSX file"))
        parser.add_argument(
            "--dry-run", action="store_true", help=_("check every row, store nothing")
        )
        parser.add_argument(
            "--mapping", default="", help=_('JSON {"file header": "field" or "" to ignore}')
        )
        parser.add_argument(
            "--user", default="", help=_("act as this user (default: the first admin)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        override = _mapping(options["mapping"])
        actor = _user(options["user"])
        if actor is None:
            if options["user"]:
                raise refused(
                    _("no active user %(username)s") % {"username": repr(options["user"])}
                )
            raise refused(_("no active admin user"))
        path: Path = options["path"]
        if not path.is_file():
            raise refused(_("%(path)s: no such file") % {"path": path})
        try:
            with path.open("rb") as handle:
                job = services.import_job_create(
                    actor=actor,
                    kind=options["kind"],
                    upload=File(handle, name=path.name),
                    mapping=override,
                )
        except InvalidInput as exc:
            raise refused(exc.message) from None
        for index, target in sorted(job.mapping.items(), key=lambda item: int(item[0])):
            self.stdout.write(
                _("column %(number)s -> %(field)s") % {"number": int(index) + 1, "field": target}
            )

        def progress(current: ImportJob) -> None:
            done, total = current.processed_rows, current.total_rows
            line = ngettext("%(done)s/%(total)s row", "%(done)s/%(total)s rows", total)
            self.say(line % {"done": done, "total": total})

        dry_run = options["dry_run"]
        job = services.import_run(actor=actor, job=job, dry_run=dry_run, progress=progress)
        if job.status == ImportStatus.FAILED:
            raise refused(str(job.report[0][2]))
        for number, field, message in job.report:
            self.stdout.write(
                _("row %(number)s: %(field)s: %(message)s")
                % {"number": number, "field": field, "message": message}
            )
        if dry_run:
            summary = _(
                "%(rows)s rows: %(created)s would be created, %(updated)s would be updated, "
                "%(rejected)s rejected (import %(id)s)"
            )
        else:
            summary = _(
                "%(rows)s rows: %(created)s were created, %(updated)s were updated, "
                "%(rejected)s rejected (import %(id)s)"
            )
        counts = {
            "rows": job.processed_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "rejected": job.error_count,
            "id": job.pk,
        }
        self.stdout.write(summary % counts)
