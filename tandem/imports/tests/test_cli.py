"""`tandem import` (the `import_file` management command) run in-process against the test
database, through the `tandem` entry point and through `call_command`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from config.cli import COMMANDS, main
from conftest import World
from tandem.crm.models import Contact

BODY = "\ufeffFirstName,LastName,Email,Title\nIda,Ng,ida@cli.io,CFO\nNo,Mail,nope,\n".encode()


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The command speaks the active language (`tandem` chooses it): English here."""
    with translation.override("en"):
        yield


def import_main(argv: list[str]) -> int:
    return main(["--language", "en", "import", *argv])


def test_tandem_import_runs_the_import_file_command() -> None:
    assert COMMANDS["import"].command == "import_file"


def test_call_command_refuses_bad_input_with_exit_code_2(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file") as refused:
        call_command("import_file", "contacts", str(tmp_path / "gone.csv"))
    assert refused.value.returncode == 2


def test_dry_run_then_real_run(world: World, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "sf.csv"
    path.write_bytes(BODY)
    assert import_main(["contacts", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "column 1 -> first_name",
        "column 2 -> last_name",
        "column 3 -> email",
        "column 4 -> title",
        "2/2 rows",
        "row 3: email: 'nope' is not a valid email address",
        f"2 rows: 1 would be created, 0 would be updated, 1 rejected (import {_last_job()})",
    ]
    assert not Contact.objects.filter(email="ida@cli.io").exists()
    assert import_main(["contacts", str(path), "--user", "marketer_north"]) == 0
    assert "1 were created" in capsys.readouterr().out
    assert Contact.objects.get(email="ida@cli.io").title == "CFO"


def _last_job() -> int:
    from tandem.imports.models import ImportJob

    return ImportJob.objects.order_by("-pk").values_list("pk", flat=True)[0]


@pytest.mark.parametrize(
    ("argv", "body", "message"),
    [
        (["contacts", "{path}"], b"Email\n\xff\n", "Line 2 is not UTF-8 text (byte 1)."),
        (["contacts", "{path}", "--mapping", "{oops"], b"Email\n", "--mapping is not JSON"),
        (["contacts", "{path}", "--mapping", '{"Email": "shoe"}'], b"Email\n", "'shoe' is not"),
        (["contacts", "{path}", "--user", "ghost"], b"Email\n", "no active user 'ghost'"),
        (["contacts", "{path}x"], b"Email\n", "no such file"),
    ],
)
def test_bad_input_exits_2(
    world: World, tmp_path: Path, capsys: Any, argv: list[str], body: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(body)
    before = Contact.objects.count()
    assert import_main([a.replace("{path}", str(path)) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert Contact.objects.count() == before
