"""The `tandem` command in English and Russian, in-process: how the language is chosen, and
help, errors and results in each (the console script itself: test_cli.py)."""

from __future__ import annotations

import argparse
import gettext
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from config.cli import main
from conftest import World
from tandem.core.cli import choose_language


@pytest.fixture(autouse=True)
def _no_locale(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The tests choose the language themselves, whatever the machine's locale says."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    settings.LANGUAGE_CODE = "en"


@pytest.mark.parametrize(
    ("explicit", "environ", "default", "chosen"),
    [
        (None, {}, "en", "en"),
        (None, {}, "ru", "ru"),
        (None, {}, "ru-RU", "ru"),
        (None, {}, "de", "en"),  # a language Tandem does not speak
        (None, {"LANG": "ru_RU.UTF-8"}, "en", "ru"),
        (None, {"LANG": "ru"}, "en", "ru"),
        (None, {"LANG": "en_GB.UTF-8"}, "ru", "en"),
        (None, {"LANG": "C.UTF-8"}, "ru", "ru"),  # C names no language: LANGUAGE_CODE
        (None, {"LANG": "POSIX"}, "en", "en"),
        (None, {"LANG": "de_DE.UTF-8"}, "ru", "ru"),
        (None, {"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "en", "ru"),
        (None, {"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "ru_RU.UTF-8"}, "ru", "en"),
        (None, {"LC_ALL": "C", "LANG": "ru_RU.UTF-8"}, "en", "en"),  # LC_ALL decides alone
        (None, {"LC_ALL": "", "LANG": "ru_RU.UTF-8"}, "en", "ru"),  # empty is unset
        ("en", {"LANG": "ru_RU.UTF-8"}, "ru", "en"),
        ("ru", {"LC_ALL": "en_US.UTF-8"}, "en", "ru"),
    ],
)
def test_language_is_the_option_else_the_locale_variables_else_language_code(
    explicit: str | None, environ: dict[str, str], default: str, chosen: str
) -> None:
    assert choose_language(explicit, environ, default) == chosen


def test_help_of_a_subcommand_in_russian_and_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language", "ru", "serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("использование: tandem serve [-h]")
    out = " ".join(out.split())  # argparse wraps to the terminal's width
    assert "применить миграции, собрать статические файлы и запустить сервер gunicorn" in out
    assert "адрес, на котором принимать запросы (по умолчанию 127.0.0.1:8000)" in out
    assert "показать эту справку и выйти" in out
    assert "usage" not in out

    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tandem serve [-h]")
    out = " ".join(out.split())
    assert "where to listen (default: 127.0.0.1:8000)" in out
    assert "show this help message and exit" in out


@pytest.mark.django_db
def test_help_of_a_delegated_subcommand_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language=ru", "send", "show", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("использование: tandem send show [-h] [--follow]")
    out = " ".join(out.split())  # argparse wraps to the terminal's width
    assert "номер рассылки (tandem send list)" in out
    assert "выводить ход при каждом изменении, пока в отправке не останется писем" in out


def test_a_usage_error_in_russian_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language", "ru", "serve", "127.0.0.1:70000"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "tandem serve: ошибка: аргумент ADDR:PORT: '127.0.0.1:70000': "
        "порт должен быть числом от 1 до 65535\n"
    )
    assert err.startswith("использование: tandem serve")


def test_argparse_words_in_russian_come_from_the_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """argparse writes its messages in English; the parser looks each one up in Tandem's
    catalogue (nested ones part by part) without touching argparse's module."""
    assert main(["--language", "ru", "send", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("использование: tandem send [-h] ACTION ...\n")
    assert err.endswith(
        "tandem send: ошибка: аргумент ACTION: недопустимое значение: 'bogus' "
        "(выберите из 'list', 'show', 'cancel')\n"
    )
    assert main(["--language", "ru", "createuser"]) == 2
    assert capsys.readouterr().err.endswith(
        "tandem createuser: ошибка: обязательны аргументы: username, --role\n"
    )
    assert main(["--language", "ru", "demo", "--frobnicate"]) == 2
    assert capsys.readouterr().err.endswith(
        "tandem demo: ошибка: нераспознанные аргументы: --frobnicate\n"
    )
    assert main(["--language", "ru"]) == 2
    assert "tandem: ошибка: обязательны аргументы: COMMAND" in capsys.readouterr().err
    assert main(["createuser"]) == 2
    assert capsys.readouterr().err.endswith(
        "tandem createuser: error: the following arguments are required: username, --role\n"
    )


@pytest.mark.django_db
def test_errors_in_russian_exit_2_and_english_is_the_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--language", "ru", "send", "show", "999"]) == 2
    assert capsys.readouterr().err == "tandem send: нет рассылки с номером 999\n"  # noqa: RUF001
    assert main(["--language", "ru", "worker", "--queue", "nope"]) == 2
    assert capsys.readouterr().err == "tandem: неизвестная очередь nope; очереди: default\n"

    assert main(["send", "show", "999"]) == 2
    assert capsys.readouterr().err == "tandem send: no send with id 999\n"
    assert main(["worker", "--queue", "nope"]) == 2
    assert capsys.readouterr().err == "tandem: unknown queue nope; queues: default\n"

    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert main(["reclassify", "--cancel"]) == 2
    assert capsys.readouterr().err == (
        "tandem reclassify: отменять нечего: переклассификаций ещё не было\n"
    )
    assert main(["--language", "en", "reclassify", "--cancel"]) == 2
    assert capsys.readouterr().err == "tandem reclassify: there is no reclassification to cancel\n"


@pytest.mark.django_db
def test_results_in_russian_and_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language", "ru", "reclassify"]) == 0
    assert capsys.readouterr().out == (
        "переклассификация ещё не запускалась; действующие правила: v0 "
        "(запустить: tandem reclassify --start)\n"
    )
    assert main(["reclassify"]) == 0
    assert capsys.readouterr().out == (
        "no reclassification has run yet; rules in force: v0 (tandem reclassify --start runs one)\n"
    )
    new_user = ["--role", "marketer", "--password", "plum-orchard-velvet-1987"]
    assert main(["--language", "ru", "createuser", "ana", *new_user]) == 0
    assert capsys.readouterr().out == "Создан пользователь ana (Маркетолог).\n"
    assert main(["createuser", "carl", *new_user]) == 0
    assert capsys.readouterr().out == "Created user carl (Marketer).\n"


@pytest.mark.django_db
def test_tables_keep_their_columns_and_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language", "ru", "source", "create", "Blog", "--kind", "blog"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["--language", "ru", "source", "list"]) == 0
    ru = capsys.readouterr().out
    assert main(["source", "list"]) == 0
    en = capsys.readouterr().out
    assert ru == f"Blog\tblog\t{key[:10]}…\tактивен\n"  # noqa: RUF001
    assert en == f"Blog\tblog\t{key[:10]}…\tactive\n"


@pytest.mark.slow
@pytest.mark.sqlite_leg_only
@pytest.mark.django_db
def test_the_demo_login_table_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    from tandem.crm.models import Account, Contact, Touchpoint

    assert main(["--language", "ru", "demo", "--no-serve"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"Демонстрационные данные загружены: компаний — {Account.objects.count()}, "
        f"контактов — {Contact.objects.count()}, "
        f"касаний — {Touchpoint.objects.filter(source='demo').count()}."
    )
    assert lines[1] == (
        "Вход: http://127.0.0.1:8000/login/, под любым из логинов "
        "(пароли новые при каждом запуске):"
    )
    rows = [line.split() for line in lines[2:]]
    assert [(row[-4], row[-3], row[-2]) for row in rows] == [
        ("логин:", "head", "пароль:"),
        ("логин:", "marketer", "пароль:"),
        ("логин:", "sales", "пароль:"),
        ("логин:", "field", "пароль:"),
        ("логин:", "admin", "пароль:"),
    ]
    assert lines[2].startswith("  Руководитель продаж и маркетинга  логин: head ")
    assert len({line.index("логин:") for line in lines[2:]}) == 1  # one column


@pytest.mark.django_db
def test_an_import_in_russian(world: World, tmp_path: Path, settings: Any, capsys: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "in.csv"
    path.write_bytes(b"Email,FirstName\nida@cli.io,Ida\nnope,No\n")
    assert main(["--language", "ru", "import", "contacts", str(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["столбец 1 -> email", "столбец 2 -> first_name", "2/2 строки"]
    assert lines[3].startswith("строка 3: email: ")
    assert lines[4].startswith(
        "строк: 2; будет создано: 1, будет обновлено: 0, отклонено: 1 (импорт "
    )
    assert main(["--language", "ru", "import", "contacts", str(tmp_path / "gone.csv")]) == 2
    assert capsys.readouterr().err == f"tandem import: {tmp_path / 'gone.csv'}: нет такого файла\n"


@pytest.mark.django_db
def test_the_language_is_restored_and_argparse_left_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = translation.get_language()
    assert main(["--language", "ru", "send", "list"]) == 0
    assert capsys.readouterr().out == "рассылок пока нет\n"
    assert translation.get_language() == before
    assert vars(argparse)["_"] is gettext.gettext
    assert vars(argparse)["ngettext"] is gettext.ngettext


def test_django_commands_keep_the_servers_language(capsys: pytest.CaptureFixture[str]) -> None:
    """`tandem manage` is Django talking, in LANGUAGE_CODE as under manage.py (so is a worker)."""
    assert main(["--language", "ru", "manage", "check", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: tandem manage check")


@pytest.mark.django_db
def test_createuser_refusals_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    strong = ["--password", "plum-orchard-velvet-1987"]
    assert main(["createuser", "ana", "--role", "head", *strong]) == 0
    capsys.readouterr()
    refusals = [
        (["ana", "--role", "head", *strong], "tandem: username: пользователь 'ana' уже есть\n"),
        (
            ["zoe", "--role", "head", "--team", "Nowhere", *strong],
            "tandem: team: команды 'Nowhere' нет (команды: пока нет)\n",
        ),
        (
            ["zoe", "--role", "head", "--email", "not-an-email", *strong],
            "tandem: email: 'not-an-email' — недопустимый адрес электронной почты\n",
        ),
        (["zoe", "--role", "head", "--password", "short"], "tandem: password: "),
    ]
    for argv, said in refusals:
        assert main(["--language", "ru", "createuser", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(said), err
    # Django's own password checks speak the same language.
    assert "Введённый пароль слишком короткий" in err
    assert main(["createuser", "ana", "--role", "head", *strong]) == 2
    assert capsys.readouterr().err == "tandem: username: a user named 'ana' already exists\n"
