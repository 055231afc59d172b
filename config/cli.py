"""The `tandem` command: a thin entry point over Tandem's Django management commands.

    tandem [--language en|ru] COMMAND [ARGS]

`COMMANDS` names the management command each `tandem` command runs (`tandem import` runs
`import_file`, `tandem send show 3` runs `send show 3`; `manage.py` runs the same commands).
Two are not management commands: `tandem manage ...` is Django's own `manage.py`, and
`tandem attribution-file` is pure Python (no settings, no database: it runs anywhere, and
starts in a fraction of Django's set-up time).

Invariants:
- it speaks English or Russian: `--language` before the command, else the locale variables,
  else LANGUAGE_CODE (`tandem.core.cli.choose_language`); the command is parsed and run
  inside `translation.override(language)`. `tandem manage` speaks LANGUAGE_CODE, as
  manage.py does; `attribution-file` speaks English;
- bad arguments give the usage and one line on stderr, exit code 2; a `CommandError` is
  printed as ``tandem[ NAME]: message`` (one line per line of it) with its exit code (2 for
  bad input, 1 for a failure such as an unreachable database), never a traceback; settings
  that cannot load give ``tandem: configuration error: ...`` (English: without settings
  there are no catalogues), exit code 2; Ctrl-C exits 130;
- `tandem --help` and `--version` need no database and no valid settings.

This module is the top layer (beside wsgi.py): it is the only place that names the apps'
commands; `tandem.core` does not know them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from tandem.core.cli import LANGUAGES, choose_language, gettext_noop, take_language


@dataclass(frozen=True)
class Entry:
    command: str  # the management command's name
    help: str  # marked for the catalogue; translated when shown
    prefix: str = ""  # what its errors start with; default "tandem NAME"


COMMANDS: dict[str, Entry] = {
    "demo": Entry(
        "demo", gettext_noop("load demo data, print a login per role, and serve Tandem"), "tandem"
    ),
    "serve": Entry(
        "serve",
        gettext_noop("apply migrations, collect static files and serve with gunicorn"),
        "tandem",
    ),
    "worker": Entry(
        "worker",
        gettext_noop("run background tasks (database worker, or RQ with TASKS_BACKEND=redis)"),
        "tandem",
    ),
    "scheduler": Entry(
        "scheduler",
        gettext_noop("enqueue periodic tasks when due (safe to run several; see PERIODIC_TASKS)"),
        "tandem",
    ),
    "tasks": Entry(
        "tasks",
        gettext_noop("background work: the worker, the queue and failed tasks; retry ID"),
        "tandem tasks",
    ),
    "dkim-key": Entry(
        "dkim_key",
        gettext_noop("make the DKIM key every message is signed with; print the DNS records"),
    ),
    "backup": Entry(
        "backup",
        gettext_noop("back up the database and uploaded files into a new directory PATH"),
    ),
    "restore": Entry(
        "restore", gettext_noop("restore a backup made by `tandem backup` (stop Tandem first)")
    ),
    "createuser": Entry(
        "createuser", gettext_noop("create a user with a role (and team)"), "tandem"
    ),
    "source": Entry(
        "source", gettext_noop("create, list and revoke event sources (tracking write keys)")
    ),
    "import": Entry(
        "import_file",
        gettext_noop(
            "import contacts or accounts from CSV or XLSX (tandem import contacts PATH --dry-run)"
        ),
    ),
    "reclassify": Entry(
        "reclassify",
        gettext_noop(
            "progress of the channel reclassification; --follow, --cancel, or --start one"
        ),
    ),
    "send": Entry(
        "send", gettext_noop("email sends: list, show ID [--follow] (progress), cancel ID")
    ),
    "route-file": Entry(
        "route_file",
        gettext_noop("order the visits in a CSV file (id,lat,lon[,open,close,minutes])"),
    ),
}
ATTRIBUTION_FILE = "attribution-file"
MANAGE = "manage"
OTHERS = {
    ATTRIBUTION_FILE: gettext_noop("attribution over a file of journeys (no database)"),
    MANAGE: gettext_noop("run a Django management command (tandem manage help)"),
}
NAMES = [*COMMANDS, ATTRIBUTION_FILE, MANAGE]  # as `tandem --help` lists them


class ConfigurationError(Exception):
    """Settings that cannot load (bad DATABASE_URL, TASKS_BACKEND, ...)."""


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if apps.ready:  # set up already (a second call, or a process that imported us: tests)
        return
    try:
        django.setup()
    except (ImproperlyConfigured, ValueError) as exc:
        raise ConfigurationError(f"configuration error: {exc}") from None


def _language(explicit: str | None, needs_django: bool) -> str:
    """Choose the language and make Django's translation ready to speak it.

    A command sets Django up (that loads every catalogue). Without one (`tandem --help`,
    `--version`, a usage error) the catalogues are loaded only for Russian; in English, or
    when the settings cannot load, translation is switched off instead, so `tandem --help`
    stays instant and works anywhere."""
    from django.apps import apps
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        default = str(settings.LANGUAGE_CODE)
    except (ImproperlyConfigured, ValueError) as exc:
        if needs_django:
            raise ConfigurationError(f"configuration error: {exc}") from None
        settings.configure(USE_I18N=False)
        return "en"
    language = choose_language(explicit, os.environ, default)
    if needs_django:
        setup_django()
        return language
    if language == "en" or not _set_up_quietly():
        if not apps.ready:
            settings.USE_I18N = False  # English as written; nothing has translated anything yet
        return "en"
    return language


def _set_up_quietly() -> bool:
    try:
        setup_django()
    except ConfigurationError:
        return False
    return True


def _exit_code(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tandem ARGV``; returns the exit code. Django is imported only once the command is
    known not to be `attribution-file` (its import alone costs more than that command's work)."""
    explicit, args = take_language(list(sys.argv[1:] if argv is None else argv))
    name = args[0] if args else None
    try:
        if name == ATTRIBUTION_FILE:
            from tandem.attribution.cli_file import main as attribution_file

            return attribution_file(args[1:])
        from django.utils import translation

        language = _language(explicit, needs_django=name in COMMANDS or name == MANAGE)
        if name == MANAGE:
            return _manage(args[1:])
        with translation.override(language):
            if name in COMMANDS:
                return _run(name, COMMANDS[name], args[1:])
            _top_parser().parse_args(args)  # help, version or a usage error: it exits
            return 2
    except SystemExit as exc:
        return _exit_code(exc)
    except ConfigurationError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _run(name: str, entry: Entry, argv: list[str]) -> int:
    """Parse ``argv`` with the command's own parser (prog "tandem NAME") and execute it."""
    from django.core.management import get_commands, load_command_class
    from django.core.management.base import CommandError

    command = load_command_class(get_commands()[entry.command], entry.command)
    command._called_from_command_line = True  # type: ignore[attr-defined]  # usage, exit 2
    options = vars(command.create_parser("tandem", name).parse_args(argv))
    positional = options.pop("args", ())
    try:
        command.execute(*positional, **options)
    except CommandError as exc:
        prefix = entry.prefix or f"tandem {name}"
        for line in str(exc).splitlines() or [""]:
            print(f"{prefix}: {line}", file=sys.stderr)
        return exc.returncode
    return 0


def _manage(argv: list[str]) -> int:
    """Django's manage.py, in the server's language (LANGUAGE_CODE) as under manage.py."""
    from django.conf import settings
    from django.core.management import execute_from_command_line
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        execute_from_command_line(["tandem manage", *argv])
    return 0


def _top_parser() -> argparse.ArgumentParser:
    """`tandem --help`: the commands and their one-line help, in the active language."""
    from django.utils.translation import gettext as _

    from tandem.core.commands import localise

    parser = argparse.ArgumentParser(
        prog="tandem",
        description=_(
            "Tandem: marketing and sales as one revenue team. "
            "DATABASE_URL chooses the database (default: SQLite in ./var)."
        ),
        allow_abbrev=False,  # `--language` is read before parsing, so no `--lang`
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"tandem {_version()}",
        help=_("show the version and exit"),
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        help=_(
            "the language to speak (default: LC_ALL, LC_MESSAGES or LANG when they name "
            "one, else LANGUAGE_CODE)"
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in NAMES:
        text = _(COMMANDS[name].help if name in COMMANDS else OTHERS[name])
        commands.add_parser(name, help=text, description=text, add_help=False)
    return localise(parser)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tandem")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
