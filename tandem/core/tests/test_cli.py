"""The installed `tandem` console script (`config.cli`, over the management commands), run in
subprocesses against a SQLite file in tmp_path."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.cli import NAMES

TANDEM = str(Path(sys.executable).with_name("tandem"))
STRONG = "plum-orchard-velvet-1987"
LOGIN_LINE = re.compile(r"^  (.+?)\s+username: (\S+)\s+password: (\S+)$", re.MULTILINE)

# the console script on a SQLite file of its own, whatever the suite's database
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tandem(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANDEM, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shell(code: str, env: dict[str, str]) -> str:
    done = tandem("manage", "shell", "--no-imports", "-c", code, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# What the CLI's language is chosen from (`tandem.core.cli.choose_language`): pinned to English
# below, whatever the environment running the tests says.
LANGUAGE_VARIABLES = {"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE_CODE"}


def _env(var: Path) -> dict[str, str]:
    dropped = {"DJANGO_SETTINGS_MODULE", "DEBUG", *LANGUAGE_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DATABASE_URL=f"sqlite:///{var / 'tandem.sqlite3'}",
        TANDEM_VAR_DIR=str(var),
        TASKS_BACKEND="database",
        PYTHONUNBUFFERED="1",
        LANG="C.UTF-8",  # no language: LANGUAGE_CODE decides
        LANGUAGE_CODE="en",
    )
    return env


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database file, made once and copied for each test (migrating takes seconds)."""
    var = tmp_path_factory.mktemp("template")
    done = tandem("manage", "migrate", "--skip-checks", "-v0", env=_env(var))
    assert done.returncode == 0, done.stderr
    return var / "tandem.sqlite3"


@pytest.fixture
def env(tmp_path: Path, migrated_db: Path) -> dict[str, str]:
    shutil.copy(migrated_db, tmp_path / "tandem.sqlite3")
    shutil.copy(migrated_db.with_name("secret_key"), tmp_path / "secret_key")
    return _env(tmp_path)


# --- help and bad arguments ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_subcommand_has_help(name: str, tmp_path: Path) -> None:
    done = tandem(name, "--help", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if name == "manage":
        assert "Type 'tandem manage help <subcommand>' for help" in done.stdout
        assert "migrate" in done.stdout
    else:
        assert done.stdout.startswith(f"usage: tandem {name}")


def test_top_level_help_lists_every_subcommand(tmp_path: Path) -> None:
    done = tandem("--help", env=_env(tmp_path))
    assert done.returncode == 0
    listed = re.findall(r"^    (\S+)", done.stdout, re.MULTILINE)
    assert listed == NAMES


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["serve", "nonsense"], "'nonsense': the port must be a number from 1 to 65535"),
        (["serve", "127.0.0.1:70000"], "the port must be a number from 1 to 65535"),
        (["serve", "[not-ipv6]:80"], "'not-ipv6' is not an IPv6 address"),
        (["serve", "--workers", "0"], "'0' is not a whole number of 1 or more"),
        (["demo", "--addr", "a b:80"], "'a b:80' is not ADDR:PORT"),
        (["demo", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["worker", "--max-tasks", "0"], "'0' is not a whole number of 1 or more"),
        (["worker", "--queue", "nope"], "tandem: unknown queue nope; queues: default"),
        (["createuser"], "the following arguments are required: username, --role"),
        (
            ["createuser", "bob", "--role", "chief", "--password", STRONG],
            "tandem: --role: 'chief' is not a role; choose head, marketer, sales_rep, "
            "field_rep or admin",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_no_traceback(
    argv: list[str], message: str, env: dict[str, str]
) -> None:
    done = tandem(*argv, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_database_url_is_a_clear_message(env: dict[str, str]) -> None:
    done = tandem("demo", "--no-serve", env={**env, "DATABASE_URL": "mysqlx://nowhere/db"})
    assert done.returncode == 2
    assert done.stderr.startswith(
        "tandem: configuration error: DATABASE_URL is not a database URL Tandem understands"
    )
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_a_clear_message(env: dict[str, str]) -> None:
    port = free_port()  # nothing listens there
    url = f"postgres://postgres:s3cret@127.0.0.1:{port}/tandem"
    done = tandem("serve", env={**env, "DATABASE_URL": url})
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"tandem: cannot use postgresql database 'tandem' on 127.0.0.1:{port}: connection failed"
    )
    assert "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_tasks_backend_is_a_clear_message(env: dict[str, str]) -> None:
    done = tandem("worker", env={**env, "TASKS_BACKEND": "celery"})
    assert done.returncode == 2
    assert done.stderr == (
        "tandem: configuration error: TASKS_BACKEND must be one of database, immediate, redis, "
        "not 'celery'\n"
    )


# --- language ------------------------------------------------------------------------------------


BAD_ROLE = ["createuser", "bob", "--role", "chief", "--password", STRONG]


def test_the_locale_variables_choose_russian_english_by_default(
    env: dict[str, str],
) -> None:
    english = tandem(*BAD_ROLE, env=env)
    assert (english.returncode, english.stderr) == (
        2,
        "tandem: --role: 'chief' is not a role; choose head, marketer, sales_rep, field_rep or "
        "admin\n",
    )
    russian_env = {**env, "LANG": "ru_RU.UTF-8"}
    russian = tandem(*BAD_ROLE, env=russian_env)
    assert (russian.returncode, russian.stderr) == (
        2,
        "tandem: --role: 'chief' — не роль; выберите head, marketer, sales_rep, field_rep или "
        "admin\n",
    )
    shown = tandem("reclassify", "--help", env=russian_env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("использование: tandem reclassify [-h]")
    assert "Переклассификация прошлых касаний" in shown.stdout
    created = tandem("createuser", "ana", "--role", "admin", "--password", STRONG, env=russian_env)
    assert (created.returncode, created.stdout) == (0, "Создан пользователь ana (Администратор).\n")
    # --language beats the locale variables; LC_ALL beats LANG ("C" names no language, so
    # LANGUAGE_CODE decides); LANGUAGE_CODE decides when the locale says nothing.
    for argv, extra, out in [
        (["--language", "en", "send", "list"], {"LANG": "ru_RU.UTF-8"}, "no sends yet\n"),
        (["send", "list"], {"LC_ALL": "C.UTF-8", "LANG": "ru_RU.UTF-8"}, "no sends yet\n"),
        (["send", "list"], {"LANGUAGE_CODE": "ru"}, "рассылок пока нет\n"),
        (["send", "list"], {"LANGUAGE_CODE": "ru", "LANG": "en_GB.UTF-8"}, "no sends yet\n"),
    ]:
        done = tandem(*argv, env={**env, **extra})
        assert (done.returncode, done.stdout, done.stderr) == (0, out, ""), (argv, extra)


def test_configuration_errors_before_the_settings_load_stay_english(env: dict[str, str]) -> None:
    bad = {**env, "DATABASE_URL": "mysqlx://nowhere/db", "LANG": "ru_RU.UTF-8"}
    done = tandem("send", "list", env=bad)
    assert done.returncode == 2
    assert done.stderr.startswith("tandem: configuration error: DATABASE_URL is not a database")
    shown = tandem("--help", env=bad)  # help needs no database: English, no catalogue
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: tandem")


# --- demo ----------------------------------------------------------------------------------------


def _demo_counts(env: dict[str, str]) -> dict[str, int]:
    code = (
        "import json; from tandem.core.models import *; from tandem.crm.models import *; "
        "print(json.dumps({'users': User.objects.count(), 'teams': Team.objects.count(), "
        "'holidays': Holiday.objects.count(), 'accounts': Account.objects.count(), "
        "'contacts': Contact.objects.count(), "
        "'touchpoints': Touchpoint.objects.filter(source='demo').count()}))"
    )
    return dict(json.loads(shell(code, env)))


LOADED = re.compile(
    r"Demo data (loaded|already there): (\d+) accounts, (\d+) contacts, (\d+) touchpoints\."
)


def _printed_counts(stdout: str) -> tuple[str, dict[str, int]]:
    match = LOADED.search(stdout)
    assert match is not None, stdout
    state, accounts, contacts, touchpoints = match.groups()
    return state, {
        "accounts": int(accounts),
        "contacts": int(contacts),
        "touchpoints": int(touchpoints),
    }


@pytest.mark.sqlite_leg_only  # the demo itself is tested on both engines in tandem/demo
def test_demo_twice_loads_once_and_prints_a_working_login_per_role(env: dict[str, str]) -> None:
    first = tandem("demo", "--no-serve", env=env)
    assert first.returncode == 0, first.stderr
    state, printed = _printed_counts(first.stdout)
    counts = _demo_counts(env)
    assert state == "loaded"
    assert printed == {k: counts[k] for k in ("accounts", "contacts", "touchpoints")}
    assert counts["accounts"] >= 100
    assert counts["contacts"] >= 500
    assert counts["touchpoints"] > 0
    assert counts["users"] >= 15
    assert counts["teams"] >= 4

    second = tandem("demo", "--no-serve", env=env)
    assert second.returncode == 0, second.stderr
    assert _printed_counts(second.stdout) == ("already there", printed)
    assert _demo_counts(env) == counts

    logins = LOGIN_LINE.findall(second.stdout)
    assert [(role, user) for role, user, _pw in logins] == [
        ("Head of sales & marketing", "head"),
        ("Marketer", "marketer"),
        ("Sales rep", "sales"),
        ("Field rep", "field"),
        ("Admin", "admin"),
    ]
    checks = "; ".join(
        f"print(authenticate(username={user!r}, password={pw!r}) is not None)"
        for _role, user, pw in logins
    )
    out = shell(f"from django.contrib.auth import authenticate; {checks}", env)
    assert out.split() == ["True"] * 5
    # The first run's passwords were replaced by the second's.
    _role, user, old_password = LOGIN_LINE.findall(first.stdout)[0]
    code = f"from django.contrib.auth import authenticate; print(authenticate(username={user!r}, password={old_password!r}))"  # noqa: E501
    assert shell(code, env) == "None"


@pytest.mark.sqlite_leg_only  # the demo itself is tested on both engines in tandem/demo
def test_demo_reset_writes_the_same_records_again(env: dict[str, str]) -> None:
    assert tandem("demo", "--no-serve", env=env).returncode == 0
    names = "from tandem.crm.models import Account; print(sorted(Account.objects.values_list('name', flat=True))[:3])"  # noqa: E501
    before = shell(names, env)
    counts = _demo_counts(env)
    reset = tandem("demo", "--no-serve", "--reset", env=env)
    assert reset.returncode == 0, reset.stderr
    state, printed = _printed_counts(reset.stdout)
    assert state == "loaded"
    assert printed["accounts"] == counts["accounts"] == _demo_counts(env)["accounts"]
    assert shell(names, env) == before


# --- serve ---------------------------------------------------------------------------------------


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [TANDEM, "serve", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login/", timeout=10).close()  # noqa: S310
                break
            except OSError:  # refused while starting, or timed out while workers boot
                if proc.poll() is not None or time.monotonic() > deadline:
                    out, err = proc.communicate(timeout=5)
                    pytest.fail(f"tandem serve did not come up:\n{out}\n{err}")
                time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_answers_http_with_gunicorn_and_collected_static_files(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, proc = served
    with urllib.request.urlopen(base + "/login/", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert response.headers["Server"].startswith("gunicorn")
        body = response.read().decode()
    assert 'name="password"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    # collectstatic ran into STATIC_ROOT (under TANDEM_VAR_DIR), and the files are served.
    assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
    with urllib.request.urlopen(base + "/static/admin/css/base.css", timeout=10) as response:  # noqa: S310
        assert response.status == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    out = proc.stdout.read() if proc.stdout else ""
    assert out.startswith(f"Tandem is serving at http://localhost:{base.rsplit(':', 1)[1]}/")


# --- createuser ----------------------------------------------------------------------------------


def test_createuser_creates_a_user_who_can_sign_in(env: dict[str, str]) -> None:
    shell(
        "from tandem.core.audit import Actor; from tandem.core.services import team_ensure; "
        "team_ensure(actor=Actor.system(), name='Marketing', department='marketing')",
        env,
    )
    done = tandem(
        "createuser", "ana", "--role", "marketer", "--team", "marketing", "--email",
        "Ana@Example.com", "--password", STRONG, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Created user ana (Marketer) in team Marketing.\n"
    from_stdin = tandem("createuser", "carl", "--role", "sales-rep", env=env, stdin=STRONG + "\n")
    assert from_stdin.stdout == "Created user carl (Sales rep).\n"
    code = (
        "from django.contrib.auth import authenticate; from tandem.core.models import AuditEntry; "
        f"u = authenticate(username='ana', password='{STRONG}'); "
        "print(u.role, u.team.name, u.email, u.is_staff); "
        f"print(authenticate(username='carl', password='{STRONG}').role); "
        "print(AuditEntry.objects.filter(model='core.User', action='create').count())"
    )
    assert shell(code, env).splitlines() == [
        "marketer Marketing ana@example.com False",
        "sales_rep",
        "2",
    ]


BAD_CREATEUSER = [
    (["ana", "--role", "head", "--password", STRONG], "", "a user named 'ana' already exists"),
    (["zoe", "--role", "head", "--team", "Nowhere", "--password", STRONG], "",
     "tandem: team: no team named 'Nowhere' (teams: none yet)"),
    (["zoe", "--role", "head", "--password", "short"], "",
     "tandem: password: This password is too short."),
    (["zoe", "--role", "head", "--email", "not-an-email", "--password", STRONG], "",
     "tandem: email: 'not-an-email' is not a valid email address"),
    (["zoe", "--role", "head"], "\n", "tandem: a password is required"),
]  # fmt: skip


def test_createuser_refuses_bad_input_and_creates_nothing(env: dict[str, str]) -> None:
    created = tandem("createuser", "ana", "--role", "admin", "--password", STRONG, env=env)
    assert created.returncode == 0, created.stderr
    for argv, stdin, message in BAD_CREATEUSER:
        done = tandem("createuser", *argv, env=env, stdin=stdin)
        assert done.returncode == 2, argv
        assert message in done.stderr, argv
        assert "Traceback" not in done.stderr
    assert shell("from tandem.core.models import User; print(User.objects.count())", env) == "1"


# --- worker --------------------------------------------------------------------------------------


def test_worker_runs_queued_tasks_from_the_database(env: dict[str, str]) -> None:
    shell(
        "import datetime as dt; from django.utils import timezone; "
        "from tandem.core.models import LoginAttempt; "
        "from tandem.core.tasks import enqueue_on_commit, prune_login_attempts; "
        "LoginAttempt.objects.create(username='old', at=timezone.now() - dt.timedelta(days=1)); "
        "LoginAttempt.objects.create(username='new'); "
        "enqueue_on_commit(prune_login_attempts, older_than_minutes=60)",
        env,
    )
    done = tandem("worker", "--max-tasks", "1", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    code = (
        "from django_tasks_db.models import DBTaskResult; from tandem.core.models import LoginAttempt; "  # noqa: E501
        "r = DBTaskResult.objects.get(); print(r.status, r.task_result.return_value); "
        "print(list(LoginAttempt.objects.values_list('username', flat=True)))"
    )
    assert shell(code, env).splitlines() == ["SUCCESSFUL 1", "['new']"]


def test_worker_runs_queued_tasks_from_redis_when_told_to(env: dict[str, str]) -> None:
    import redis

    url = "redis://127.0.0.1:6379/13"  # a database of its own: the queue is named "default"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable on 127.0.0.1:6379 ({exc})")
    env = {**env, "TASKS_BACKEND": "redis", "REDIS_URL": url}
    job_id = shell(
        "import datetime as dt; from django.utils import timezone; "
        "from tandem.core.models import LoginAttempt; "
        "from tandem.core.tasks import prune_login_attempts; "
        "LoginAttempt.objects.create(username='old', at=timezone.now() - dt.timedelta(days=1)); "
        "print(prune_login_attempts.enqueue(older_than_minutes=60).id)",
        env,
    )
    done = tandem("worker", "--burst", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    code = (
        "from tandem.core.models import LoginAttempt; "
        "from tandem.core.tasks import prune_login_attempts; "
        f"r = prune_login_attempts.get_result({job_id!r}); "
        "print(r.status, r.return_value, LoginAttempt.objects.count())"
    )
    assert shell(code, env) == "SUCCESSFUL 1 0"
