"""Schemathesis against the live programmes API (tag `programmes`): no operation answers a
server error to generated or hostile input. `slow`; the whole API is fuzzed by
tests/test_api_schemathesis.py, this is the programmes' own, quicker leg."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import get_resolver

from tests.test_api_schemathesis import ST, _seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@override_settings(API_RATE_LIMIT=1_000_000)
def test_no_programmes_operation_answers_a_server_error(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache.clear()
    assert get_resolver().url_patterns
    secret = _seed()
    run = subprocess.run(
        [
            str(ST),
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--include-tag=programmes",
            "--phases=examples,fuzzing",
            f"--max-examples={os.environ.get('TANDEM_SCHEMATHESIS_EXAMPLES', '15')}",
            "--checks=not_a_server_error",
            f"--header=Authorization: Bearer {secret}",
            "--seed=20261207",
            "--no-shrink",
            "--continue-on-failure",
            "--suppress-health-check=all",
            "--request-timeout=60",
            "--workers=1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    output = run.stdout + run.stderr
    assert "Server error" not in output, output[-20_000:]
    assert run.returncode == 0, output[-20_000:]
