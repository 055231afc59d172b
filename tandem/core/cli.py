"""What the `tandem` entry point (`config/cli.py`) needs from core: the language it speaks, and
how `serve` runs gunicorn (the benchmarks serve their baselines the same way).

Invariants:
- the language is `--language en|ru` before the command, else the locale variables (LC_ALL,
  LC_MESSAGES, LANG: the first one set decides, `ru...` is Russian, `en...` English), else
  the setting LANGUAGE_CODE, else English (`choose_language`);
- pure: no Django import, so `tandem attribution-file` and `tandem --help` start instantly.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "ru")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence for messages


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages; it is translated with `gettext` where it is shown."""
    return message


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


def take_language(argv: list[str]) -> tuple[str | None, list[str]]:
    """`--language CODE` or `--language=CODE` before the command, taken off the arguments.

    A value that is not a language is left in place for the parser to refuse (exit code 2)."""
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
