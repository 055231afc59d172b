"""PostgreSQL stopped in the middle of a load (bench/ingest_fault.py), as a slow test."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
    reason="PostgreSQL server binaries are not installed",
)
def test_acknowledged_events_survive_a_database_restart_exactly_once() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "bench/ingest_fault.py", "--seconds", "12"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    summary = done.stdout.strip().splitlines()
    assert summary[-1] == "passed", done.stdout + done.stderr[-2000:]
    figures = dict(re.findall(r"(\w+)=(\d+)", summary[-2]))
    assert int(figures["acknowledged"]) > 0
    assert (figures["missing"], figures["duplicated"]) == ("0", "0")
    assert int(figures["status_503"]) > 0  # the clients did see the outage
