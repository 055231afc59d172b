from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation

from config.cli import main
from tandem.tracking.models import Source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The command speaks the active language (`tandem` chooses it): English here."""
    with translation.override("en"):
        yield


def source_main(argv: list[str]) -> int:
    return main(["--language", "en", "source", *argv])


def test_source_create_prints_a_working_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert source_main(["create", "Blog", "--kind", "blog"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("tdw_")
    source = Source.objects.get(name="Blog")
    assert source.kind == "blog"
    assert key not in source.key_hash
    body = {"writeKey": key, "batch": [{"type": "page", "anonymousId": "a"}]}
    assert (
        Client().post("/v1/batch", json.dumps(body), content_type="application/json").status_code
        == 200
    )
    assert source_main(["create", "Blog"]) == 2
    assert "exists" in capsys.readouterr().err
    assert source_main(["revoke", "Blog"]) == 0
    assert (
        Client().post("/v1/batch", json.dumps(body), content_type="application/json").status_code
        == 401
    )
    assert source_main(["create"]) == 2
