"""What every Tandem management command shares: `TandemCommand` and argument types.

Tandem's commands are Django management commands (`manage.py NAME`, or `tandem NAME` through
the entry point `config/cli.py`, which chooses the language). A command subclasses
`TandemCommand`, states its arguments in `add_arguments` and does its work in `handle`,
calling services; it stays thin.

Invariants:
- bad input is a `CommandError` with ``returncode=2`` (the caller's fault); the message is
  one line per problem, never a traceback; `InvalidInput` from a service becomes one line
  per field (``field: message``), exit code 2; a database that cannot be used becomes
  ``cannot use <database>: <first line of the error>``, exit code 1;
- the parser speaks the active language: argparse's own words ("usage:", "options", its
  error messages) are looked up in Tandem's catalogue with Django's `gettext` when the
  parser is built and when it reports an error (`localise`); nothing of argparse's module
  is replaced. Django's base options (``--verbosity``, ``--settings`` ...) are accepted
  but not shown in ``--help``;
- no system checks run before a command (`requires_system_checks = []`), as before.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DEFAULT_ADDR = "127.0.0.1:8000"
BASE_ARGUMENTS = {
    "--version",
    "--verbosity",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
}


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages (Django's own reads the settings at import time)."""
    return message


# argparse's own words, in the catalogue; `localise` and `_argparse_message` look them up.
USAGE = gettext_noop("usage: ")
POSITIONALS = gettext_noop("positional arguments")
OPTIONALS = gettext_noop("options")
HELP = gettext_noop("show this help message and exit")
ERROR = gettext_noop("%(prog)s: error: %(message)s\n")
ARGPARSE_MESSAGES = (
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
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[sr]")


def _pattern(template: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex that matches what argparse made of ``template``, and its placeholders' names
    (``_0``, ``_1`` ... for unnamed ones)."""
    parts, names, last = [], [], 0
    for k, match in enumerate(_PLACEHOLDER.finditer(template)):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(1) or f"_{k}"
        names.append(name)
        parts.append(f"(?P<{name}>.*?)")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL), names


_PATTERNS = [(template, *_pattern(template)) for template in ARGPARSE_MESSAGES]


def _argparse_message(message: str) -> str:
    """An error message argparse wrote in English, in the active language (nested messages,
    e.g. "argument X: invalid choice: ...", translated part by part). A message that is
    not one of argparse's is returned as it is: it came from our own argument types, already
    translated."""
    for template, pattern, names in _PATTERNS:
        match = pattern.fullmatch(message)
        if match is None:
            continue
        values = match.groupdict()
        if "message" in values:
            values["message"] = _argparse_message(values["message"])
        translated = _named(_(template), [name for name in names if name.startswith("_")])
        try:
            return translated % values
        except (KeyError, ValueError, TypeError):
            return message
    return message


def _named(text: str, unnamed: list[str]) -> str:
    """``text`` with every placeholder named (``%s`` in turn as ``unnamed``) and as ``%s``."""
    names = iter(unnamed)
    return _PLACEHOLDER.sub(lambda m: f"%({m.group(1) or next(names, '_')})s", text)


class LocalisedFormatter(DjangoHelpFormatter):
    """Django's formatter (the command's own options first) with "usage: " translated."""

    def add_usage(
        self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None
    ) -> None:
        super().add_usage(usage, actions, groups, _(USAGE) if prefix is None else prefix)


def _error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    if getattr(parser, "called_from_command_line", True) is False:
        raise CommandError(f"Error: {message}")  # call_command(): Django's behaviour
    parser.print_usage(sys.stderr)
    parser.exit(2, _(ERROR) % {"prog": parser.prog, "message": _argparse_message(message)})


def localise(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` and its subparsers speak the active language (see the module)."""
    parser.formatter_class = LocalisedFormatter
    parser._positionals.title = _(POSITIONALS)
    parser._optionals.title = _(OPTIONALS)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = _(HELP)
        elif isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                localise(sub)
    parser.error = partial(_error, parser)  # type: ignore[method-assign]
    return parser


def refused(message: str) -> CommandError:
    """The error for bad input: printed as one message, exit code 2."""
    return CommandError(message, returncode=2)


def database_label() -> str:
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


class TandemCommand(BaseCommand):
    """A Tandem management command (see the module docstring)."""

    help: StrOrPromise = ""  # type: ignore[assignment]  # gettext_lazy: shown in the language
    requires_system_checks: list[str] = []
    suppressed_base_arguments = BASE_ARGUMENTS

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.help and parser.description is self.help:  # not replaced by add_arguments
            parser.description = str(self.help)
        return localise(parser)

    def execute(self, *args: Any, **options: Any) -> str | None:
        from django.db import DatabaseError

        from tandem.core.errors import InvalidInput

        try:
            return super().execute(*args, **options)
        except InvalidInput as exc:
            lines = [
                message if field == "__all__" else f"{field}: {message}"
                for field, messages in exc.errors.items()
                for message in messages
            ]
            raise refused("\n".join(lines)) from None
        except DatabaseError as exc:
            text = str(exc).strip()
            first_line = text.splitlines()[0] if text else type(exc).__name__
            message = _("cannot use %(database)s: %(error)s")
            raise CommandError(
                message % {"database": database_label(), "error": first_line}, returncode=1
            ) from None

    def say(self, line: str) -> None:
        """One line on stdout, flushed (progress is read as it happens)."""
        self.stdout.write(line)
        self.stdout.flush()


# --- argument types --------------------------------------------------------------------------


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
