"""`tandem reclassify` through the real console script, against a migrated SQLite file."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tandem.core.tests import test_cli as harness

pytestmark = pytest.mark.slow
TANDEM, shell, tandem = harness.TANDEM, harness.shell, harness.tandem
migrated_db, env = harness.migrated_db, harness.env  # the console-script fixtures

SETUP = """
from tandem.crm.models import Touchpoint
from tandem.core.audit import Actor
from tandem.tracking import services
from tandem.tracking.channels import default_rule_dicts
Touchpoint.objects.bulk_create(
    Touchpoint(anonymous_id=f"a{i}", channel="referral", department="marketing",
               kind="page_view", properties={"ci": {"utm_source": "partnerx"}})
    for i in range(5)
)
rules = default_rule_dicts()
rules.insert(0, {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"})
services.channel_rules_publish(actor=Actor.system(), rules=rules)
"""
CHANNELS = (
    "from tandem.crm.models import Touchpoint; "
    "print(sorted(set(Touchpoint.objects.values_list('channel', flat=True))))"
)


def _follow(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [TANDEM, "reclassify", "--follow", "--interval", "0.1", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the first progress line: it is polling now
    assert first.startswith("reclassification 1 (rules v1): queued"), first
    return process


def test_progress_start_and_a_finished_run_cannot_be_cancelled(env: dict[str, str]) -> None:
    done = tandem("reclassify", env=env)
    assert done.returncode == 0
    assert done.stdout.startswith("no reclassification has run yet; rules in force: v0")
    shell(SETUP, env)
    done = tandem("reclassify", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "reclassification 1 (rules v1): queued, 0 of 0 touchpoints checked (0%), 0 changed\n"
    )
    done = tandem("reclassify", "--start", env=env)  # takes the queued run and runs it here
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "reclassification 1 (rules v1): queued, 0 of 0 touchpoints checked (0%), 0 changed",
        "reclassification 1 (rules v1): running, 5 of 5 touchpoints checked (100%), 5 changed",
        "reclassification 1 (rules v1): done, 5 of 5 touchpoints checked (100%), 5 changed",
    ]
    assert shell(CHANNELS, env) == "['conference']"
    done = tandem("reclassify", "--cancel", env=env)
    assert done.returncode == 2
    assert done.stderr == (
        "tandem reclassify: reclassification 1 has already ended (done); nothing to cancel\n"
    )
    again = tandem("reclassify", "--start", env=env)  # idempotent: a second run changes nothing
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1].endswith("(100%), 0 changed")
    assert again.stdout.startswith("reclassification 2 (rules v1)")


def test_follow_stops_by_itself_when_a_worker_finishes_the_run(env: dict[str, str]) -> None:
    shell(SETUP, env)
    follower = _follow(env=env)
    worker = tandem("worker", "--burst", env=env)
    assert worker.returncode == 0, worker.stderr
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert out.splitlines()[-1] == (
        "reclassification 1 (rules v1): done, 5 of 5 touchpoints checked (100%), 5 changed"
    )
    assert shell(CHANNELS, env) == "['conference']"


def test_cancel_ends_a_followed_run_and_start_background_queues_another(
    env: dict[str, str],
) -> None:
    shell(SETUP, env)
    follower = _follow(env=env)
    cancel = tandem("reclassify", "--cancel", env=env)
    assert cancel.returncode == 0, cancel.stderr
    assert cancel.stdout == "cancelled reclassification 1\n"  # queued: cancelled at once
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert out.splitlines()[-1].startswith("reclassification 1 (rules v1): cancelled, 0 of 0")
    assert shell(CHANNELS, env) == "['referral']"
    queued = tandem("reclassify", "--start", "--background", env=env)
    assert queued.stdout == "queued reclassification 2 (rules v1) for a worker\n"
    assert tandem("worker", "--burst", env=env).returncode == 0
    assert "done, 5 of 5" in tandem("reclassify", env=env).stdout
    assert shell(CHANNELS, env) == "['conference']"


def test_ctrl_c_while_following_exits_130_without_a_traceback(env: dict[str, str]) -> None:
    shell(SETUP, env)
    follower = _follow(env=env)
    time.sleep(0.3)
    follower.send_signal(signal.SIGINT)
    _out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "--cancel"], "argument --cancel: not allowed with argument --start"),
        (["--background"], "tandem reclassify: --background goes with --start"),
        (["--follow", "--interval", "0"], "--interval must be between 0.05 and 60 seconds"),
        (["--interval", "soon"], "argument --interval: invalid float value: 'soon'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--cancel"], "tandem reclassify: there is no reclassification to cancel"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, env: dict[str, str]
) -> None:
    done = tandem("reclassify", *argv, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_help(env: dict[str, str]) -> None:
    done = tandem("reclassify", "--help", env=env)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: tandem reclassify")
    assert "--follow" in done.stdout
