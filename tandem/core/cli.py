"""The `tandem` command: demo, serve, worker, createuser, manage, attribution-file, ...

Invariants:
- bad arguments or configuration give one line on stderr and exit code 2, never a traceback;
  a database that cannot be reached gives a clear message and exit code 1;
- the database is the one DATABASE_URL names, as everywhere in Tandem (settings: config.settings);
- each subcommand is one function registered with `@subcommand(...)`, with its own `--help`;
  subcommands are thin: they parse arguments, call services or Django commands, and print;
- it speaks English or Russian: `--language en|ru` before the subcommand, else the locale
  variables (LC_ALL, LC_MESSAGES, LANG: the first one set decides, `ru...` is Russian, `en...`
  English), else the setting LANGUAGE_CODE (`choose_language`). Everything runs inside
  `translation.override(language)`, argparse's own words included (`argparse_translated`), so
  subcommands use Django's `gettext` as pages do: `gettext_lazy` for text fixed at import time
  (a subcommand's `help=`), `gettext` in parsers built when they run. Data stays data in every
  language: ids, numbers, dates, codes (statuses, kinds) and tab-separated columns.

To add a subcommand elsewhere, register it the same way from a module this one imports, or here::

    @subcommand("forecast", help=gettext_lazy("..."), arguments=_forecast_arguments)
    def forecast(args: argparse.Namespace) -> int: ...
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import ipaddress
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from tandem.core.errors import InvalidInput

Runner = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]
DEFAULT_ADDR = "127.0.0.1:8000"
LANGUAGES = ("en", "ru")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence for messages


class CliError(Exception):
    """A failure to report as one message on stderr, with an exit code (2: the caller's fault)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: StrOrPromise  # gettext_lazy: registered at import time, shown in the chosen language
    run: Runner
    arguments: Arguments | None = None
    passthrough: bool = False  # gets the raw remaining arguments as `args.rest`
    needs_django: bool = True


REGISTRY: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    *,
    help: StrOrPromise,
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
    """Load settings (DATABASE_URL and friends) and apps; bad configuration is a CliError.

    Its message stays English: without settings there are no catalogues to translate it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if apps.ready:  # set up already (a second call, or a process that imported us: tests)
        return
    try:
        django.setup()
    except (ImproperlyConfigured, ValueError) as exc:
        raise CliError(f"configuration error: {exc}") from None


# --- language ------------------------------------------------------------------------------------


def language_from_environment(environ: Mapping[str, str]) -> str | None:
    """The language the locale variables ask for, read as a Unix tool reads them.

    The first of LC_ALL, LC_MESSAGES and LANG that is set (not empty) decides: `ru_RU.UTF-8`
    is Russian, `en_GB.UTF-8` English. C, POSIX or a language Tandem does not speak is no
    preference (None), and LANGUAGE_CODE decides."""
    for name in LOCALE_VARIABLES:
        value = environ.get(name, "")
        if value:
            code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
            return code if code in LANGUAGES else None
    return None


def choose_language(explicit: str | None, environ: Mapping[str, str], default: str) -> str:
    """`--language`, else the locale variables, else the setting LANGUAGE_CODE, else English."""
    if explicit is not None and explicit in LANGUAGES:
        return explicit
    from_environment = language_from_environment(environ)
    if from_environment is not None:
        return from_environment
    code = default.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def _take_language(argv: list[str]) -> tuple[str | None, list[str]]:
    """`--language CODE` or `--language=CODE` before the subcommand, taken off the arguments.

    A value that is not a language is left in place for argparse to refuse (exit code 2)."""
    explicit = None
    while argv:
        head = argv[0]
        if head == "--language" and len(argv) > 1 and argv[1] in LANGUAGES:
            explicit, argv = argv[1], argv[2:]
        elif head.startswith("--language=") and head.partition("=")[2] in LANGUAGES:
            explicit, argv = head.partition("=")[2], argv[1:]
        else:
            break
    return explicit, argv


def _prepare_language(explicit: str | None, argv: list[str]) -> str:
    """Choose the language, and make Django's translation machinery ready to speak it.

    A subcommand sets Django up (that loads every app's catalogue) and reports bad configuration
    as a CliError. Without one (`tandem --help`, `--version`, a usage error: argparse exits) the
    catalogues are loaded only for Russian; in English, or when the settings cannot load,
    translation is switched off instead, so `tandem --help` stays instant and works anywhere."""
    from django.apps import apps
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    parse_only = not any(arg in REGISTRY for arg in argv)  # then argparse cannot run one
    try:
        default = str(settings.LANGUAGE_CODE)
    except (ImproperlyConfigured, ValueError) as exc:
        if not parse_only:
            raise CliError(f"configuration error: {exc}") from None
        settings.configure(USE_I18N=False)
        return "en"
    language = choose_language(explicit, os.environ, default)
    if parse_only and (language == "en" or not _set_up_quietly()):
        if not apps.ready:
            settings.USE_I18N = False  # English as written; nothing has translated anything yet
        return "en"
    setup_django()
    return language


def _set_up_quietly() -> bool:
    try:
        setup_django()
    except CliError:
        return False
    return True


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages. (Django's own gettext_noop reads the settings, and
    these marks are made at import time, before any settings are loaded.)"""
    return message


# argparse's own words, extracted into the catalogue (argparse looks them up with its `_`).
ARGPARSE_WORDS = (
    gettext_noop("usage: "),
    gettext_noop("positional arguments"),
    gettext_noop("options"),
    gettext_noop("show this help message and exit"),
    gettext_noop("%(prog)s: error: %(message)s\n"),
    gettext_noop("argument %(argument_name)s: %(message)s"),
    gettext_noop("unrecognized arguments: %s"),
    gettext_noop("the following arguments are required: %s"),
    gettext_noop("one of the arguments %s is required"),
    gettext_noop("not allowed with argument %s"),
    gettext_noop("ignored explicit argument %r"),
    gettext_noop("invalid choice: %(value)r (choose from %(choices)s)"),
    gettext_noop("invalid %(type)s value: %(value)r"),
    gettext_noop("expected one argument"),
    gettext_noop("expected at most one argument"),
    gettext_noop("expected at least one argument"),
    gettext_noop("ambiguous option: %(option)s could match %(matches)s"),
    gettext_noop("can't open '%(filename)s': %(error)s"),
)


@contextlib.contextmanager
def argparse_translated() -> Iterator[None]:
    """argparse's words ("usage:", "options", its errors) through Django's gettext while the CLI
    runs: argparse calls the `_` and `ngettext` of its module when it formats them."""
    from django.utils.translation import ngettext

    module = vars(argparse)
    saved = module["_"], module["ngettext"]
    module["_"], module["ngettext"] = _, ngettext
    try:
        yield
    finally:
        module["_"], module["ngettext"] = saved


def _database_label() -> str:
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return _("SQLite file %(path)s") % {"path": params["NAME"]}
    host = params.get("HOST") or "localhost"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return _("%(engine)s database %(name)s on %(host)s") % {
        "engine": params["ENGINE"].rsplit(".", 1)[-1],
        "name": repr(params["NAME"]),
        "host": f"{host}{port}",
    }


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
            message = _("%(value)s: %(host)s is not an IPv6 address") % {
                "value": repr(value),
                "host": repr(host),
            }
            raise argparse.ArgumentTypeError(message) from None
    if not host or any(ch.isspace() or ch in "/[]" for ch in host):
        message = _("%(value)s is not ADDR:PORT, e.g. 127.0.0.1:8000") % {"value": repr(value)}
        raise argparse.ArgumentTypeError(message)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        message = _("%(value)s: the port must be a number from 1 to 65535") % {"value": repr(value)}
        raise argparse.ArgumentTypeError(message)
    return host, int(port_text)


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        message = _("%(value)s is not a whole number of 1 or more") % {"value": repr(value)}
        raise argparse.ArgumentTypeError(message)
    return int(value)


def _print_invalid(exc: InvalidInput) -> None:
    for field, messages in exc.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        for message in messages:
            print(f"tandem: {label}{message}", file=sys.stderr)


def _server_language() -> translation.override:
    """The server's language (LANGUAGE_CODE), for work that is not the CLI talking: the tasks a
    worker runs and Django's management commands speak it under `tandem` as under gunicorn and
    manage.py, whatever the operator's locale."""
    from django.conf import settings

    return translation.override(settings.LANGUAGE_CODE)


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
        raise CliError(_("gunicorn is not installed in this environment"), code=1)
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
    return 0  # not reached


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help=_("gunicorn worker processes (default: 2, one per core)"),
    )
    parser.add_argument(
        "--threads", type=positive_int, default=4, help=_("threads per worker (default: 4)")
    )


# --- subcommands ---------------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help=_("load the demo and print the logins, but do not serve"),
    )
    parser.add_argument(
        "--addr",
        type=addr_port,
        default=addr_port(DEFAULT_ADDR),
        metavar="ADDR:PORT",
        help=_("where to serve (default: %(addr)s)") % {"addr": DEFAULT_ADDR},
    )
    parser.add_argument(
        "--reset", action="store_true", help=_("delete the demo records and load them afresh")
    )
    _serve_arguments(parser)


@subcommand(
    "demo",
    help=gettext_lazy("load demo data, print a login per role, and serve Tandem"),
    arguments=_demo_arguments,
)
def demo(args: argparse.Namespace) -> int:
    from tandem.demo.services import demo_load
    from tandem.core.models import Role

    _migrate()
    summary = demo_load(reset=args.reset)
    host, port = args.addr
    counts = {
        "accounts": summary.accounts,
        "contacts": summary.contacts,
        "touchpoints": summary.touchpoints,
    }
    if summary.created:
        loaded = _(
            "Demo data loaded: %(accounts)s accounts, %(contacts)s contacts, "
            "%(touchpoints)s touchpoints."
        )
    else:
        loaded = _(
            "Demo data already there: %(accounts)s accounts, %(contacts)s contacts, "
            "%(touchpoints)s touchpoints."
        )
    print(loaded % counts)
    login_url = f"http://{host}:{port}/login/"
    print(_("Sign in at %(url)s as (passwords are new on every run):") % {"url": login_url})
    roles = [str(Role(login.role).label) for login in summary.logins]
    width = max([27, *map(len, roles)]) + 1  # 28 in English; Russian role names are longer
    username, password = pgettext("demo logins", "username:"), pgettext("demo logins", "password:")
    for role, login in zip(roles, summary.logins, strict=True):
        print(f"  {role:<{width}} {username} {login.username:<10} {password} {login.password}")
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
        help=_("where to listen (default: %(addr)s)") % {"addr": DEFAULT_ADDR},
    )
    _serve_arguments(parser)


@subcommand(
    "serve",
    help=gettext_lazy("apply migrations, collect static files and serve with gunicorn"),
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
        help=_("exit after running N tasks"),
    )
    parser.add_argument(
        "--queue",
        action="append",
        default=None,
        metavar="NAME",
        help=_("a queue to work on (repeatable; default: default)"),
    )
    parser.add_argument("--burst", action="store_true", help=_("run what is queued now, then exit"))
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help=_("seconds between polls when idle (database backend; default: 1)"),
    )


@subcommand(
    "worker",
    help=gettext_lazy("run background tasks (database worker, or RQ with TASKS_BACKEND=redis)"),
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
        message = _("unknown queue %(unknown)s; queues: %(known)s")
        raise CliError(message % {"unknown": ", ".join(unknown), "known": ", ".join(known)})
    if not 0 <= args.interval <= 3600:
        raise CliError(_("--interval must be between 0 and 3600 seconds"))
    if backend == "django_tasks_db.DatabaseBackend":
        with _server_language():
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
        with _server_language():
            call_command(
                "rqworker",
                *queues,
                job_class="django_tasks_rq.Job",
                burst=args.burst,
                max_jobs=args.max_tasks,
                with_scheduler=True,
            )
        return 0
    message = _("TASKS_BACKEND runs tasks with %(backend)s, which needs no worker")
    raise CliError(message % {"backend": backend})


def _scheduler_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help=_("enqueue what is due now, then exit"))
    parser.add_argument(
        "--interval",
        type=positive_int,
        default=30,
        help=_("seconds between ticks (default: 30)"),
    )


@subcommand(
    "scheduler",
    help=gettext_lazy("enqueue periodic tasks when due (safe to run several; see PERIODIC_TASKS)"),
    arguments=_scheduler_arguments,
)
def scheduler(args: argparse.Namespace) -> int:
    import time

    from tandem.core.schedule import tick

    while True:
        for name in tick():
            print(_("enqueued %(task)s") % {"task": name}, flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


def _roles_help() -> str:
    return _("%(roles)s or %(last)s") % {
        "roles": "head, marketer, sales_rep, field_rep",
        "last": "admin",
    }


def _createuser_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", help=_("the name the person signs in with"))
    parser.add_argument(
        "--role",
        required=True,
        help=_("what the person does: %(roles)s") % {"roles": _roles_help()},
    )
    parser.add_argument("--team", help=_("the team's name (see `tandem manage shell`)"))
    parser.add_argument("--email", default="", help=_("the person's email address"))
    parser.add_argument(
        "--password", help=_("the password (default: asked for, or read from standard input)")
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(_("Password: "))
        if first != getpass.getpass(_("Password (again): ")):
            raise CliError(_("the passwords do not match"))
        return first
    return sys.stdin.readline().rstrip("\r\n")


@subcommand(
    "createuser",
    help=gettext_lazy("create a user with a role (and team)"),
    arguments=_createuser_arguments,
)
def createuser(args: argparse.Namespace) -> int:
    from tandem.core.audit import Actor
    from tandem.core.services import user_create
    from tandem.core.models import Role

    role = args.role.strip().lower().replace("-", "_")
    if role not in Role.values:
        message = _("--role: %(role)s is not a role; choose %(roles)s")
        raise CliError(message % {"role": repr(args.role), "roles": _roles_help()})
    password = args.password if args.password is not None else _read_password()
    if not password:
        raise CliError(_("a password is required (--password, or type it when asked)"))
    user = user_create(
        actor=Actor.system(),
        username=args.username,
        role=role,
        password=password,
        email=args.email,
        team_name=args.team,
    )
    names = {"username": user.username, "role": user.get_role_display()}
    if user.team:
        names["team"] = user.team.name
        print(_("Created user %(username)s (%(role)s) in team %(team)s.") % names)
    else:
        print(_("Created user %(username)s (%(role)s).") % names)
    return 0


def _delegate(module_name: str, function: str, argv: list[str], what: str) -> int:
    """Hand the arguments to `module_name.function(argv)`, a CLI another app provides."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        message = _("%(command)s is not available in this installation (%(module)s is missing)")
        raise CliError(message % {"command": what, "module": module_name}) from None
    try:
        result: Any = getattr(module, function)(argv)
    except SystemExit as exc:  # argparse's --help and usage errors
        result = exc.code
    return result if isinstance(result, int) else (0 if result is None else 1)


@subcommand(
    "source",
    help=gettext_lazy("create, list and revoke event sources (tracking write keys)"),
    passthrough=True,
)
def source(args: argparse.Namespace) -> int:
    return _delegate("tandem.tracking.cli", "source_main", list(args.rest), "source")


@subcommand(
    "attribution-file",
    help=gettext_lazy("attribution over a file of journeys (no database)"),
    passthrough=True,
    needs_django=False,
)
def attribution_file(args: argparse.Namespace) -> int:
    return _delegate("tandem.attribution.cli_file", "main", list(args.rest), "attribution-file")


@subcommand(
    "import",
    help=gettext_lazy(
        "import contacts or accounts from CSV or XLSX (tandem import contacts PATH --dry-run)"
    ),
    passthrough=True,
)
def import_file(args: argparse.Namespace) -> int:
    return _delegate("tandem.imports.cli", "import_main", list(args.rest), "import")


@subcommand(
    "reclassify",
    help=gettext_lazy(
        "progress of the channel reclassification; --follow, --cancel, or --start one"
    ),
    passthrough=True,
)
def reclassify(args: argparse.Namespace) -> int:
    return _delegate("tandem.tracking.cli", "reclassify_main", list(args.rest), "reclassify")


@subcommand(
    "send",
    help=gettext_lazy("email sends: list, show ID [--follow] (progress), cancel ID"),
    passthrough=True,
)
def send(args: argparse.Namespace) -> int:
    return _delegate("tandem.marketing.cli", "send_main", list(args.rest), "send")


@subcommand(
    "manage",
    help=gettext_lazy("run a Django management command (tandem manage help)"),
    passthrough=True,
)
def manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    try:
        with _server_language():
            execute_from_command_line(["tandem manage", *args.rest])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


# --- entry point -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The parser in the active language (build it inside `translation.override`)."""
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
    for command in REGISTRY.values():
        sub = commands.add_parser(
            command.name,
            help=str(command.help),
            description=str(command.help),
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
    explicit, args_list = _take_language(list(sys.argv[1:] if argv is None else argv))
    command = REGISTRY.get(args_list[0]) if args_list else None
    try:
        if command is not None and not command.needs_django:
            # Pure Python, no settings: passed on untouched, in English.
            return _run(command, argparse.Namespace(command=command.name, rest=args_list[1:]))
        language = _prepare_language(explicit, args_list)
        with translation.override(language), argparse_translated():
            return _parse_and_run(command, args_list)
    except CliError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _parse_and_run(command: Subcommand | None, args_list: list[str]) -> int:
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
    except CliError as exc:  # printed here, in the language chosen
        print(f"tandem: {exc}", file=sys.stderr)
        return exc.code


def _run(command: Subcommand, args: argparse.Namespace) -> int:
    if not command.needs_django:
        return command.run(args)
    from django.db import DatabaseError

    from tandem.core.errors import InvalidInput

    try:
        return command.run(args)
    except InvalidInput as exc:
        _print_invalid(exc)
        return 2
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = _("cannot use %(database)s: %(error)s")
        raise CliError(
            message % {"database": _database_label(), "error": first_line}, code=1
        ) from None


if __name__ == "__main__":
    sys.exit(main())
