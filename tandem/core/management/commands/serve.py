"""`serve [ADDR:PORT] [--workers N] [--threads N] [--no-worker] [--no-scheduler] [--web-only]`:
migrate, collect static files, then run gunicorn serving Tandem (`tandem.core.cli.gunicorn_options`)
with the task worker and the scheduler beside it, as child processes of this one
(`tandem.core.supervisor`): one command runs a working system. The flags turn the worker and the
scheduler off for deployments that run them as processes of their own; with no child left to
watch, this process becomes gunicorn (exec)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connections
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.cli import gunicorn_options
from tandem.core.commands import DEFAULT_ADDR, TandemCommand, addr_port, positive_int
from tandem.core.supervisor import Child, supervise, tandem_argv
from tandem.core.task_health import backend_kind


def add_server_arguments(parser: CommandParser) -> None:
    """--workers, --threads and the background processes' switches (`demo` serves too)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help=_("gunicorn worker processes (default: 2, one per core)"),
    )
    parser.add_argument(
        "--threads", type=positive_int, default=4, help=_("threads per worker (default: 4)")
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help=_("do not run the background task worker beside the web server (run `tandem worker`)"),
    )
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help=_("do not run the scheduler beside the web server (run `tandem scheduler`)"),
    )
    parser.add_argument(
        "--web-only",
        action="store_true",
        help=_("only the web server: the same as --no-worker --no-scheduler"),
    )


def background_of(options: dict[str, Any]) -> dict[str, bool]:
    """`serve`'s keyword arguments for the worker and the scheduler, from the parsed options."""
    return {
        "run_worker": not (options["no_worker"] or options["web_only"]),
        "run_scheduler": not (options["no_scheduler"] or options["web_only"]),
    }


def serve(
    host: str,
    port: int,
    *,
    workers: int,
    threads: int,
    run_worker: bool = True,
    run_scheduler: bool = True,
) -> None:
    """Collect static files, then run gunicorn serving Tandem, with the task worker and the
    scheduler beside it unless they are switched off; returns when stopped (Ctrl+C, SIGTERM)."""
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
    language = translation.get_language()
    children = [Child("web server", argv, restart=False)]
    if backend_kind() == "immediate":
        if run_worker:
            print(
                _("Tasks run inside each request (TASKS_BACKEND=immediate): no worker is needed.")
            )
        run_worker = False
    elif run_worker:
        print(_("The background worker runs beside it (--no-worker turns it off)."))
        children.append(Child("worker", tandem_argv("worker", language=language), restart=True))
    else:
        print(_("No background worker runs here (--no-worker): run `tandem worker` separately."))
    if run_scheduler:
        print(_("The scheduler runs beside it (--no-scheduler turns it off)."))
        argv_scheduler = tandem_argv("scheduler", language=language)
        children.append(Child("scheduler", argv_scheduler, restart=True))
    else:
        print(_("No scheduler runs here (--no-scheduler): run `tandem scheduler` separately."))
    sys.stdout.flush()
    sys.stderr.flush()
    if len(children) == 1:
        os.execv(gunicorn, argv)  # noqa: S606 - a fixed program with validated arguments
    connections.close_all()  # the children open their own
    code = supervise(children, say=_say, restarting=_restarting)
    if code:
        message = _("the web server stopped with exit code %(code)s")
        raise CommandError(message % {"code": code}, returncode=code)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _restarting(name: str, code: int, delay: float) -> str:
    labels = {"worker": _("the background worker"), "scheduler": _("the scheduler")}
    message = _("%(name)s stopped (exit code %(code)s); starting it again in %(delay)s s")
    return message % {"name": labels.get(name, name), "code": code, "delay": f"{delay:g}"}


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
        serve(
            host,
            port,
            workers=options["workers"],
            threads=options["threads"],
            **background_of(options),
        )
