"""Helpers for tests that run Tandem's real processes (`tandem worker`, `tandem manage shell`) on a
SQLite file and kill them: the environment, a migrated database copied per test, running code in
a separate process, reading rows straight from the file, waiting for a condition.

Not a test module: test files import it (tests of sends, imports and reclassification whose
worker is killed with SIGKILL)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TANDEM = str(Path(sys.executable).with_name("tandem"))


def env_for(var: Path, **extra: str) -> dict[str, str]:
    """The environment of a Tandem process on the SQLite file `var/tandem.sqlite3`."""
    dropped = {"DJANGO_SETTINGS_MODULE", "DEBUG", "LC_ALL", "LC_MESSAGES", "LANG", "DATABASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DATABASE_URL=f"sqlite:///{var / 'tandem.sqlite3'}",
        TANDEM_VAR_DIR=str(var),
        TASKS_BACKEND="database",
        PYTHONUNBUFFERED="1",
        LANG="C.UTF-8",
        LANGUAGE_CODE="en",
        **extra,
    )
    return env


def migrate(var: Path) -> Path:
    """A freshly migrated database in `var`; returns its file."""
    done = subprocess.run(
        [TANDEM, "manage", "migrate", "--skip-checks", "-v0"],
        env=env_for(var),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return var / "tandem.sqlite3"


def copy_database(migrated: Path, var: Path) -> Path:
    shutil.copy(migrated, var / "tandem.sqlite3")
    return var


def rows(var: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(var / "tandem.sqlite3", timeout=30) as db:
        return list(db.execute(sql, params))


def python(env: dict[str, str], code: str, timeout: float = 180) -> str:
    """Run `code` in `tandem manage shell` (another process, the same database); its output."""
    done = subprocess.run(
        [TANDEM, "manage", "shell", "--no-imports", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait(what: str, check: Callable[[], bool], timeout: float = 60, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every)


@contextmanager
def worker(env: dict[str, str], log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A `tandem worker` for the block; killed (SIGKILL) at the end if it still runs."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [TANDEM, "worker", "--interval", "0.2"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if log is not None:
            out.close()  # type: ignore[union-attr]


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """kill -9: the process gets no chance to report anything."""
    proc.kill()
    proc.wait()
