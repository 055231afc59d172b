"""One command runs a working system: `tandem serve` runs the web server (gunicorn), the task
worker and the scheduler as child processes of one parent, which watches them.

Invariants:
- the children are in a process group of their own, so Ctrl+C in a terminal reaches only the
  parent; the parent stops them all (SIGTERM, then SIGKILL after `grace` seconds) on SIGINT,
  SIGTERM or SIGHUP, and waits for each: no child outlives a stop;
- on Linux every child is also told to die with the parent (PR_SET_PDEATHSIG), so even a parent
  killed with SIGKILL leaves no worker or scheduler behind;
- a worker or scheduler that exits is started again after a delay that doubles with each quick
  failure (1 s, 2 s, 4 s ... at most 60 s; back to 1 s once it has run for a minute); the web
  server is not restarted: when it exits, everything stops and its exit code is the parent's.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 60.0
STEADY_AFTER = 60.0  # seconds of running after which a child's failures are forgotten


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to this (child) process when its parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    name: str  # what the messages call it: "web server", "worker", "scheduler"
    argv: list[str]
    restart: bool  # start it again when it exits (the web server's exit ends everything)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    start_at: float = 0.0  # when to (re)start it, while proc is None
    history: list[int] = field(default_factory=list)  # pids, oldest first

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed programs with validated arguments
            self.argv, process_group=0, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        self.history.append(self.proc.pid)


def backoff(failures: int) -> float:
    """Seconds to wait before starting a child again after `failures` quick exits in a row."""
    return min(MAX_BACKOFF, 2.0 ** max(0, failures - 1))


def supervise(
    children: list[Child],
    *,
    say: Callable[[str], None],
    restarting: Callable[[str, int, float], str],
    grace: float = 15.0,
    poll: float = 0.2,
) -> int:
    """Start `children`, keep the restartable ones running, and stop them all on a signal or
    when a child that is not restarted (the web server) exits. Returns the exit code: 0 after a
    stop by signal, else the code of the child that ended it."""
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    code = 0
    try:
        for child in children:
            child.start()
        while not stop:
            now = time.monotonic()
            for child in children:
                if child.proc is None:
                    if now >= child.start_at:
                        child.start()
                    continue
                status = child.proc.poll()
                if status is None:
                    continue
                if not child.restart:
                    code = status if status > 0 else (0 if status == 0 else 128 - status)
                    stop.append(0)
                    break
                ran = now - child.started_at
                child.failures = 1 if ran >= STEADY_AFTER else child.failures + 1
                delay = backoff(child.failures)
                say(restarting(child.name, status, delay))
                child.proc = None
                child.start_at = now + delay
            time.sleep(poll)
    finally:
        _stop_all(children, grace)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _stop_all(children: list[Child], grace: float) -> None:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for child in children:
        if child.proc is not None and child.proc.poll() is None:  # pragma: no cover
            child.proc.kill()
            child.proc.wait()


def tandem_argv(*args: str, language: str | None = None) -> list[str]:
    """How to run another `tandem` command with this Python (the same environment)."""
    head = [sys.executable, "-m", "config.cli"]
    if language:
        head += ["--language", language]
    return [*head, *args]
