"""`serve [ADDR:PORT] [--workers N] [--threads N]`: migrate, collect static files, then replace
this process with gunicorn serving Tandem (`tandem.core.cli.gunicorn_options`)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.cli import gunicorn_options
from tandem.core.commands import DEFAULT_ADDR, TandemCommand, addr_port, positive_int


def add_server_arguments(parser: CommandParser) -> None:
    """--workers and --threads (`demo` serves too)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help=_("gunicorn worker processes (default: 2, one per core)"),
    )
    parser.add_argument(
        "--threads", type=positive_int, default=4, help=_("threads per worker (default: 4)")
    )


def serve(host: str, port: int, *, workers: int, threads: int) -> None:
    """Collect static files, then replace this process with gunicorn serving Tandem."""
    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise CommandError(_("gunicorn is not installed in this environment"), returncode=1)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    shown = "localhost" if host in {"127.0.0.1", "::1"} else host
    url = f"http://{shown}:{port}/"
    print(_("Tandem is serving at %(url)s (Ctrl+C stops it)") % {"url": url}, flush=True)
    if host not in settings.ALLOWED_HOSTS and host not in {"0.0.0.0", "::"}:  # noqa: S104
        message = _("note: add %(host)s to ALLOWED_HOSTS to reach Tandem by that name")
        print(message % {"host": host}, flush=True)
    argv = [gunicorn, *gunicorn_options(bind, workers=workers, threads=threads)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(gunicorn, argv)  # noqa: S606 - a fixed program with validated arguments


class Command(TandemCommand):
    help = gettext_lazy("apply migrations, collect static files and serve with gunicorn")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addr",
            nargs="?",
            type=addr_port,
            default=addr_port(DEFAULT_ADDR),
            metavar="ADDR:PORT",
            help=_("where to listen (default: %(addr)s)") % {"addr": DEFAULT_ADDR},
        )
        add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        host, port = options["addr"]
        serve(host, port, workers=options["workers"], threads=options["threads"])
