"""The `tandem` command: demo, serve, worker, createuser, manage, attribution-file, ...

Invariants:
- bad arguments or configuration give one line on stderr and exit code 2, never a traceback;
  a database that cannot be reached gives a clear message and exit code 1;
- the database is the one DATABASE_URL names, as everywhere in Tandem (settings: config.settings);
- each subcommand is one function registered with `@subcommand(...)`, with its own `--help`;
  subcommands are thin: they parse arguments, call services or Django commands, and print.

To add a subcommand elsewhere, register it the same way from a module this one imports, or here::

    @subcommand("forecast", help="...", arguments=_forecast_arguments)
    def forecast(args: argparse.Namespace) -> int: ...
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from tandem.core.errors import InvalidInput

Runner = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]
DEFAULT_ADDR = "127.0.0.1:8000"


class CliError(Exception):
    """A failure to report as one message on stderr, with an exit code (2: the caller's fault)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    run: Runner
    arguments: Arguments | None = None
    passthrough: bool = False  # gets the raw remaining arguments as `args.rest`
    needs_django: bool = True


REGISTRY: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    *,
    help: str,
    arguments: Arguments | None = None,
    passthrough: bool = False,
    needs_django: bool = True,
) -> Callable[[Runner], Runner]:
    """Register `run` as `tandem <name>`."""

    def register(run: Runner) -> Runner:
        REGISTRY[name] = Subcommand(name, help, run, arguments, passthrough, needs_django)
        return run

    return register


# --- shared helpers ----------------------------------------------------------------------------


def setup_django() -> None:
    """Load settings (DATABASE_URL and friends) and apps; bad configuration is a CliError."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except (ImproperlyConfigured, ValueError) as exc:
        raise CliError(f"configuration error: {exc}") from None


def _database_label() -> str:
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"SQLite file {params['NAME']}"
    host = params.get("HOST") or "localhost"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"{params['ENGINE'].rsplit('.', 1)[-1]} database {params['NAME']!r} on {host}{port}"


def addr_port(value: str) -> tuple[str, int]:
    """Parse ADDR:PORT (or PORT; IPv6 in brackets) for argparse; refuse anything else."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            message = f"{value!r}: {host!r} is not an IPv6 address"
            raise argparse.ArgumentTypeError(message) from None
    if not host or any(ch.isspace() or ch in "/[]" for ch in host):
        raise argparse.ArgumentTypeError(f"{value!r} is not ADDR:PORT, e.g. 127.0.0.1:8000")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return int(value)


def _print_invalid(exc: InvalidInput) -> None:
    for field, messages in exc.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        for message in messages:
            print(f"tandem: {label}{message}", file=sys.stderr)


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def gunicorn_options(
    bind: str, *, workers: int, threads: int, app: str = "config.wsgi:application"
) -> list[str]:
    """How `tandem serve` runs gunicorn (the benchmarks serve their baselines the same way)."""
    return [
        app,
        "--bind", bind,
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "gthread",
        "--timeout", "60",
        "--graceful-timeout", "10",
        "--access-logfile", "-",
        "--log-level", "warning",
    ]  # fmt: skip


def _serve(host: str, port: int, *, workers: int, threads: int) -> int:
    """Collect static files, then replace this process with gunicorn serving Tandem."""
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise CliError("gunicorn is not installed in this environment", code=1)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    shown = "localhost" if host in {"127.0.0.1", "::1"} else host
    print(f"Tandem is serving at http://{shown}:{port}/ (Ctrl+C stops it)", flush=True)
    if host not in settings.ALLOWED_HOSTS and host not in {"0.0.0.0", "::"}:  # noqa: S104
        print(f"note: add {host} to ALLOWED_HOSTS to reach Tandem by that name", flush=True)
    argv = [gunicorn, *gunicorn_options(bind, workers=workers, threads=threads)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(gunicorn, argv)  # noqa: S606 - a fixed program with validated arguments
    return 0  # not reached


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="gunicorn worker processes (default: 2, one per core)",
    )
    parser.add_argument(
        "--threads", type=positive_int, default=4, help="threads per worker (default: 4)"
    )


# --- subcommands ---------------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help="load the demo and print the logins, but do not serve",
    )
    parser.add_argument(
        "--addr",
        type=addr_port,
        default=addr_port(DEFAULT_ADDR),
        metavar="ADDR:PORT",
        help=f"where to serve (default: {DEFAULT_ADDR})",
    )
    parser.add_argument(
        "--reset", action="store_true", help="delete the demo records and load them afresh"
    )
    _serve_arguments(parser)


@subcommand(
    "demo",
    help="load demo data, print a login per role, and serve Tandem",
    arguments=_demo_arguments,
)
def demo(args: argparse.Namespace) -> int:
    from tandem.core.demo import load_demo
    from tandem.core.models import Role

    _migrate()
    summary = load_demo(reset=args.reset)
    host, port = args.addr
    verb = "loaded" if summary.created else "already there"
    print(
        f"Demo data {verb}: {summary.accounts} accounts, {summary.contacts} contacts, "
        f"{summary.touchpoints} touchpoints."
    )
    print(f"Sign in at http://{host}:{port}/login/ as (passwords are new on every run):")
    for login in summary.logins:
        print(
            f"  {Role(login.role).label:<28} username: {login.username:<10} "
            f"password: {login.password}"
        )
    sys.stdout.flush()
    if args.no_serve:
        return 0
    return _serve(host, port, workers=args.workers, threads=args.threads)


def _serve_command_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "addr",
        nargs="?",
        type=addr_port,
        default=addr_port(DEFAULT_ADDR),
        metavar="ADDR:PORT",
        help=f"where to listen (default: {DEFAULT_ADDR})",
    )
    _serve_arguments(parser)


@subcommand(
    "serve",
    help="apply migrations, collect static files and serve with gunicorn",
    arguments=_serve_command_arguments,
)
def serve(args: argparse.Namespace) -> int:
    _migrate()
    host, port = args.addr
    return _serve(host, port, workers=args.workers, threads=args.threads)


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-tasks",
        type=positive_int,
        default=None,
        metavar="N",
        help="exit after running N tasks",
    )
    parser.add_argument(
        "--queue",
        action="append",
        default=None,
        metavar="NAME",
        help="a queue to work on (repeatable; default: default)",
    )
    parser.add_argument("--burst", action="store_true", help="run what is queued now, then exit")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between polls when idle (database backend; default: 1)",
    )


@subcommand(
    "worker",
    help="run background tasks (database worker, or RQ with TASKS_BACKEND=redis)",
    arguments=_worker_arguments,
)
def worker(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command

    config = cast(dict[str, Any], settings.TASKS["default"])
    backend = config["BACKEND"]
    known = list(config.get("QUEUES", ["default"]))
    queues = [q.strip() for item in (args.queue or ["default"]) for q in item.split(",")]
    unknown = [q for q in queues if q not in known]
    if unknown:
        raise CliError(f"unknown queue {', '.join(unknown)}; queues: {', '.join(known)}")
    if not 0 <= args.interval <= 3600:
        raise CliError("--interval must be between 0 and 3600 seconds")
    if backend == "django_tasks_db.DatabaseBackend":
        call_command(
            "db_worker",
            queue_name=",".join(queues),
            max_tasks=args.max_tasks,
            batch=args.burst,
            reload=False,
            interval=args.interval,
            startup_delay=not args.burst,
        )
        return 0
    if backend == "django_tasks_rq.RQBackend":
        call_command(
            "rqworker",
            *queues,
            job_class="django_tasks_rq.Job",
            burst=args.burst,
            max_jobs=args.max_tasks,
            with_scheduler=True,
        )
        return 0
    raise CliError(f"TASKS_BACKEND runs tasks with {backend}, which needs no worker")


def _scheduler_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="enqueue what is due now, then exit")
    parser.add_argument(
        "--interval", type=positive_int, default=30, help="seconds between ticks (default: 30)"
    )


@subcommand(
    "scheduler",
    help="enqueue periodic tasks when due (safe to run several; see PERIODIC_TASKS)",
    arguments=_scheduler_arguments,
)
def scheduler(args: argparse.Namespace) -> int:
    import time

    from tandem.core.schedule import tick

    while True:
        for name in tick():
            print(f"enqueued {name}", flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


ROLES_HELP = "head, marketer, sales_rep, field_rep or admin"


def _createuser_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument("--role", required=True, help=f"what the person does: {ROLES_HELP}")
    parser.add_argument("--team", help="the team's name (see `tandem manage shell`)")
    parser.add_argument("--email", default="")
    parser.add_argument(
        "--password", help="the password (default: asked for, or read from standard input)"
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CliError("the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@subcommand(
    "createuser", help="create a user with a role (and team)", arguments=_createuser_arguments
)
def createuser(args: argparse.Namespace) -> int:
    from tandem.core.audit import Actor
    from tandem.core.demo import user_create
    from tandem.core.models import Role

    role = args.role.strip().lower().replace("-", "_")
    if role not in Role.values:
        raise CliError(f"--role: {args.role!r} is not a role; choose {ROLES_HELP}")
    password = args.password if args.password is not None else _read_password()
    if not password:
        raise CliError("a password is required (--password, or type it when asked)")
    user = user_create(
        actor=Actor.system(),
        username=args.username,
        role=role,
        password=password,
        email=args.email,
        team_name=args.team,
    )
    team = f" in team {user.team.name}" if user.team else ""
    print(f"Created user {user.username} ({user.get_role_display()}){team}.")
    return 0


def _delegate(module_name: str, function: str, argv: list[str], what: str) -> int:
    """Hand the arguments to `module_name.function(argv)`, a CLI another app provides."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        message = f"{what} is not available in this installation ({module_name} is missing)"
        raise CliError(message) from None
    try:
        result: Any = getattr(module, function)(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        result = exc.code
    return result if isinstance(result, int) else (0 if result is None else 1)


@subcommand(
    "source",
    help="create, list and revoke event sources (tracking write keys)",
    passthrough=True,
)
def source(args: argparse.Namespace) -> int:
    return _delegate("tandem.tracking.cli", "source_main", list(args.rest), "source")


@subcommand(
    "attribution-file",
    help="attribution over a file of journeys (no database)",
    passthrough=True,
    needs_django=False,
)
def attribution_file(args: argparse.Namespace) -> int:
    return _delegate("tandem.attribution.cli_file", "main", list(args.rest), "attribution-file")


@subcommand(
    "import",
    help="import contacts or accounts from CSV or XLSX (tandem import contacts PATH --dry-run)",
    passthrough=True,
)
def import_file(args: argparse.Namespace) -> int:
    return _delegate("tandem.imports.cli", "import_main", list(args.rest), "import")


@subcommand(
    "reclassify",
    help="progress of the channel reclassification; --follow, --cancel, or --start one",
    passthrough=True,
)
def reclassify(args: argparse.Namespace) -> int:
    return _delegate("tandem.tracking.cli", "reclassify_main", list(args.rest), "reclassify")


@subcommand(
    "send",
    help="email sends: list, show ID [--follow] (progress), cancel ID",
    passthrough=True,
)
def send(args: argparse.Namespace) -> int:
    return _delegate("tandem.marketing.cli", "send_main", list(args.rest), "send")


@subcommand("manage", help="run a Django management command (tandem manage help)", passthrough=True)
def manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["tandem manage", *args.rest])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


# --- entry point -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem",
        description="Tandem: marketing and sales as one revenue team. "
        "DATABASE_URL chooses the database (default: SQLite in ./var).",
    )
    parser.add_argument("--version", action="version", version=f"tandem {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in REGISTRY.values():
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            add_help=not command.passthrough,
        )
        if command.passthrough:
            sub.add_argument("rest", nargs=argparse.REMAINDER)
        elif command.arguments is not None:
            command.arguments(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tandem")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = REGISTRY.get(args_list[0]) if args_list else None
    try:
        if command is not None and command.passthrough:
            # Passed on untouched, `--help` included.
            args = argparse.Namespace(command=command.name, rest=args_list[1:])
        else:
            args = build_parser().parse_args(args_list)
            command = REGISTRY[args.command]
        if command.needs_django:
            setup_django()
        return _run(command, args)
    except CliError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _run(command: Subcommand, args: argparse.Namespace) -> int:
    from django.db import DatabaseError

    from tandem.core.errors import InvalidInput

    try:
        return command.run(args)
    except InvalidInput as exc:
        _print_invalid(exc)
        return 2
    except DatabaseError as exc:
        where = _database_label() if command.needs_django else "the database"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot use {where}: {first_line}", code=1) from None


if __name__ == "__main__":
    sys.exit(main())
