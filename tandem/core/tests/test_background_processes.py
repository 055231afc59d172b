"""Real processes: `tandem serve` runs the worker and the scheduler beside gunicorn and leaves no
child behind when stopped; a worker killed with SIGKILL has its task released and run again.

Everything runs as the user would run it (the `tandem` console script, a SQLite file in
tmp_path); the test reads the task rows straight from that file."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tandem.core.tests.real_processes import env_for

TANDEM = str(Path(sys.executable).with_name("tandem"))

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("migrated")
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


@pytest.fixture
def var(migrated: Path, tmp_path: Path) -> Path:
    shutil.copy(migrated, tmp_path / "tandem.sqlite3")
    return tmp_path


def _rows(var: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(var / "tandem.sqlite3", timeout=30) as db:
        return list(db.execute(sql, params))


def _status(var: Path, task_id: str) -> tuple[str, str]:
    rows = _rows(
        var,
        "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult WHERE id = ?",
        task_id.replace("-", ""),
    )
    assert rows, f"no task {task_id}"
    return str(rows[0][0]), str(rows[0][1])


def _enqueue(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [TANDEM, "manage", "shell", "--no-imports", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def _descendants(pid: int) -> dict[int, str]:
    found = {}
    todo = [pid]
    while todo:
        for child, cmdline in _children(todo.pop()).items():
            found[child] = cmdline
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _role(cmdline: str) -> str:
    if "gunicorn" in cmdline:
        return "gunicorn"
    for name in ("worker", "scheduler"):
        if cmdline.endswith(f" {name}"):
            return name
    return cmdline


@pytest.fixture
def served(var: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str]]]:
    port = free_port()
    env = env_for(var, TASKS_WORKER_STALE_SECONDS="8", TASKS_RETRY_DELAY_SECONDS="1")
    proc = subprocess.Popen(
        [TANDEM, "serve", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"tandem serve ended: {proc.communicate()[0]}")
            try:
                urllib.request.urlopen(base + "/login/", timeout=10).close()  # noqa: S310
            except OSError:
                return False
            return True

        _wait("tandem serve to answer", answers, timeout=240)
        yield proc, base, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_runs_the_worker_and_the_scheduler_and_stops_them_all(
    served: tuple[subprocess.Popen[str], str, dict[str, str]], var: Path
) -> None:
    proc, _base, env = served
    roles = sorted(_role(c) for c in _children(proc.pid).values())
    assert roles == ["gunicorn", "scheduler", "worker"]
    everyone = _descendants(proc.pid)  # gunicorn's own workers too

    # A real task, enqueued by a service in another process, is run by the worker serve started.
    task_id = _enqueue(
        env,
        "from tandem.core.tasks import prune_login_attempts; "
        "print(prune_login_attempts.enqueue(older_than_minutes=30).id)",
    )
    _wait("the task to run", lambda: _status(var, task_id)[0] == "SUCCESSFUL")
    beats = _rows(var, "SELECT pid FROM core_workerheartbeat")
    worker_pid = next(pid for pid, c in _children(proc.pid).items() if _role(c) == "worker")
    assert beats == [(worker_pid,)]
    # The scheduler ticked once at start: the periodic tasks are queued.
    _wait(
        "the scheduler's first tick",
        lambda: bool(_rows(var, "SELECT 1 FROM core_scheduledrun")),
    )

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    out = proc.stdout.read() if proc.stdout else ""
    assert out.startswith("Tandem is serving at http://localhost:")
    assert "The background worker runs beside it (--no-worker turns it off)." in out
    assert "The scheduler runs beside it (--no-scheduler turns it off)." in out
    left = [pid for pid in everyone if _alive(pid)]
    assert left == [], f"left behind: {[everyone[pid] for pid in left]}"
    assert _rows(var, "SELECT pid FROM core_workerheartbeat") == []  # a clean stop


def test_a_killed_worker_is_started_again_and_a_killed_parent_leaves_no_child(
    served: tuple[subprocess.Popen[str], str, dict[str, str]],
) -> None:
    proc = served[0]
    worker = next(pid for pid, c in _children(proc.pid).items() if _role(c) == "worker")
    os.kill(worker, signal.SIGKILL)

    def restarted() -> bool:
        workers = [p for p, c in _children(proc.pid).items() if _role(c) == "worker"]
        return bool(workers) and workers != [worker]

    _wait("a new worker", restarted, timeout=30)
    everyone = _descendants(proc.pid)
    assert sorted(_role(c) for c in _children(proc.pid).values()) == [
        "gunicorn",
        "scheduler",
        "worker",
    ]
    proc.kill()  # SIGKILL: the parent cannot stop its children; the kernel tells them
    proc.wait()
    _wait("every child to end", lambda: not any(_alive(pid) for pid in everyone), timeout=40)


def test_serve_web_only_runs_gunicorn_alone(var: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [TANDEM, "serve", f"127.0.0.1:{port}", "--web-only", "--workers", "1"],
        env=env_for(var),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10).close()
            except OSError:
                return proc.poll() is not None
            return True

        _wait("tandem serve --web-only", answers, timeout=240)
        assert proc.poll() is None
        # The process became gunicorn (exec): its children are gunicorn's own workers.
        assert Path(f"/proc/{proc.pid}/cmdline").read_bytes().find(b"gunicorn") >= 0
        assert {_role(c) for c in _children(proc.pid).values()} == {"gunicorn"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        out = proc.stdout.read() if proc.stdout else ""
        assert "No background worker runs here (--no-worker)" in out
        assert "No scheduler runs here (--no-scheduler)" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_task_of_a_worker_killed_with_sigkill_is_released_and_run_again(
    var: Path, tmp_path: Path
) -> None:
    env = env_for(var, TASKS_WORKER_STALE_SECONDS="4", TASKS_RETRY_DELAY_SECONDS="1")
    marker = tmp_path / "started"
    task_id = _enqueue(
        env,
        "from tandem.core.tests.slow_tasks import sleep_once; "
        f"print(sleep_once.enqueue(600, {str(marker)!r}).id)",
    )
    worker = subprocess.Popen(
        [TANDEM, "worker", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait("the task to start", marker.exists)
        assert _status(var, task_id)[0] == "RUNNING"
        time.sleep(2)  # the heartbeat thread beats while the task sleeps
        assert _rows(var, "SELECT pid FROM core_workerheartbeat") == [(worker.pid,)]
    finally:
        worker.kill()  # kill -9: no chance to report anything
        worker.wait()
    assert _status(var, task_id)[0] == "RUNNING"  # the row still says so

    def scheduler_once() -> str:
        done = subprocess.run(
            [TANDEM, "scheduler", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    time.sleep(4.5)  # TASKS_WORKER_STALE_SECONDS: the worker is silent long enough to be dead
    assert f"released task {task_id}: its worker stopped" in scheduler_once()
    assert _status(var, task_id)[0] == "READY"
    traceback = _rows(
        var,
        "SELECT traceback FROM django_tasks_database_dbtaskresult WHERE id = ?",
        task_id.replace("-", ""),
    )[0][0]
    assert "stopped beating while running this task" in str(traceback)

    time.sleep(1.2)  # its retry delay
    again = subprocess.run(
        [TANDEM, "worker", "--burst", "--interval", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    status, workers = _status(var, task_id)
    assert status == "SUCCESSFUL"
    assert workers.count(",") == 1  # two runs


def _tandem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANDEM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_tandem_tasks_lists_a_failed_task_and_retries_it_by_hand(var: Path) -> None:
    env = env_for(var, TASKS_MAX_ATTEMPTS="1")
    task_id = _enqueue(
        env,
        "from tandem.core.tasks import prune_login_attempts; "
        "print(prune_login_attempts.enqueue(older_than_minutes=-1).id)",
    )
    ran = _tandem(env, "worker", "--burst", "--interval", "0")
    assert ran.returncode == 0, ran.stderr
    assert _status(var, task_id)[0] == "FAILED"  # one attempt allowed: it stays failed

    listed = _tandem(env, "tasks")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "Worker: none running (start one with `tandem worker`)"
    assert lines[1] == ("Queued: 0, running: 0, waiting to retry: 0, failed: 1, succeeded: 0")
    assert lines[3].startswith(f"  {task_id}  prune_login_attempts  runs: 1  ")
    assert lines[3].endswith(
        "ValueError: older_than_minutes must be a whole number of minutes, 0 or more"
    )

    retried = _tandem(env, "tasks", "retry", task_id)
    assert (retried.returncode, retried.stdout) == (0, f"Task {task_id} is queued to run again.\n")
    assert _status(var, task_id)[0] == "READY"
    twice = _tandem(env, "tasks", "retry", task_id)
    assert twice.returncode == 2
    refusal = "tandem tasks: Only a failed task can be retried; this one is queued.\n"
    assert twice.stderr == refusal
    unknown = _tandem(env, "tasks", "retry", "0d0886e4-2829-45c9-b956-cd10e08899dd")
    assert unknown.returncode == 2
    assert unknown.stderr == "tandem tasks: no task with id 0d0886e4-2829-45c9-b956-cd10e08899dd\n"
    assert "Traceback" not in _tandem(env, "tasks", "retry", "nonsense").stderr
    audit = _rows(var, "SELECT action, object_id FROM core_auditentry")
    assert audit == [("update", task_id)]
