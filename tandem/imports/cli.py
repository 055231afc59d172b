"""`tandem import contacts|accounts PATH [--dry-run] [--mapping JSON] [--user USERNAME]`.

Prints the recognised mapping, progress after each chunk, then the per-row report
(`row N: field: message`) and a summary. Exit codes: 0 when the file was read (rejected rows
are reported, not fatal), 2 for bad arguments or a file that cannot be read (nothing stored).
Django must be set up by the caller; it speaks the active language (`tandem.core.cli` chooses it),
the strings are in the shared catalogue (tandem/locale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from django.core.files import File
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tandem.core.errors import InvalidInput
from tandem.core.models import Role, User


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem import", description=_("Import contacts or accounts from CSV or XLSX.")
    )
    parser.add_argument("kind", choices=["contacts", "accounts"], help=_("what the file holds"))
    parser.add_argument("path", type=Path, help=_("the CSV or XLSX file"))
    parser.add_argument("--dry-run", action="store_true", help=_("check every row, store nothing"))
    parser.add_argument(
        "--mapping", default="", help=_('JSON {"file header": "field" or "" to ignore}')
    )
    parser.add_argument("--user", default="", help=_("act as this user (default: the first admin)"))
    return parser


def _fail(message: str) -> int:
    print(f"tandem import: {message}", file=sys.stderr)
    return 2


def _user(username: str) -> User | None:
    users = User.objects.filter(is_active=True)
    if username:
        return users.filter(username=username).first()
    return users.filter(role=Role.ADMIN).order_by("pk").first()


def import_main(argv: list[str]) -> int:
    from tandem.imports import services
    from tandem.imports.models import ImportJob, ImportStatus

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        override = json.loads(args.mapping) if args.mapping else None
    except json.JSONDecodeError as exc:
        return _fail(_("--mapping is not JSON: %(error)s") % {"error": exc})
    if override is not None and not (
        isinstance(override, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in override.items())
    ):
        return _fail(_('--mapping must be an object of strings, e.g. {"Mail": "email"}'))
    actor = _user(args.user)
    if actor is None:
        if args.user:
            return _fail(_("no active user %(username)s") % {"username": repr(args.user)})
        return _fail(_("no active admin user"))
    if not args.path.is_file():
        return _fail(_("%(path)s: no such file") % {"path": args.path})
    try:
        with args.path.open("rb") as handle:
            job = services.import_job_create(
                actor=actor,
                kind=args.kind,
                upload=File(handle, name=args.path.name),
                mapping=override,
            )
    except InvalidInput as exc:
        return _fail(exc.message)
    for index, target in sorted(job.mapping.items(), key=lambda item: int(item[0])):
        print(_("column %(number)s -> %(field)s") % {"number": int(index) + 1, "field": target})

    def progress(current: ImportJob) -> None:
        done, total = current.processed_rows, current.total_rows
        line = ngettext("%(done)s/%(total)s row", "%(done)s/%(total)s rows", total)
        print(line % {"done": done, "total": total}, flush=True)

    job = services.import_run(actor=actor, job=job, dry_run=args.dry_run, progress=progress)
    if job.status == ImportStatus.FAILED:
        return _fail(str(job.report[0][2]))
    for number, field, message in job.report:
        print(
            _("row %(number)s: %(field)s: %(message)s")
            % {"number": number, "field": field, "message": message}
        )
    if args.dry_run:
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
    print(summary % counts)
    return 0
