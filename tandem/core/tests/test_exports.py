"""The shared export writers: formula injection neutralised in CSV and XLSX, numbers kept,
formats checked, XLSX sheet limit, CSV streamed in chunks, and the audit entry of a download."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from typing import Any

import openpyxl
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import FileResponse, StreamingHttpResponse

from tandem.core import exports
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, User

HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "\tplain after a tab",
    "   =1+1",
    " \u00a0+1",
    "\n@SUM(1)",
]
HARMLESS = ["plain", "", "1=1", "a-b", "Рассылка", "e@mail.test", "'=already"]


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_text_quotes_formulas_also_after_whitespace(text: str) -> None:
    assert exports.safe_text(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_safe_text_leaves_other_text(text: str) -> None:
    assert exports.safe_text(text) == text


def _table() -> list[list[Any]]:
    return [
        ["text", "number"],
        *[[t, n] for n, t in enumerate(HOSTILE)],
        ["negative", -2],
        ["decimal", decimal.Decimal("12.50")],
        ["float", 0.25],
        ["list", ["=a", "b"]],
        ["none", None],
    ]


def test_csv_neutralises_every_formula_and_keeps_numbers() -> None:
    data = exports.to_csv(_table())
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")[1:], newline="")))
    assert rows[0] == ["text", "number"]
    assert [r[0] for r in rows[1 : 1 + len(HOSTILE)]] == ["'" + t for t in HOSTILE]
    assert rows[1 + len(HOSTILE) :] == [
        ["negative", "-2"],
        ["decimal", "12.50"],
        ["float", "0.25"],
        ["list", "'=a; b"],
        ["none", ""],
    ]
    assert all(not cell.startswith(exports.FORMULA_START) for row in rows for cell in row[:1])


def test_xlsx_neutralises_every_formula_and_keeps_numbers() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(_table(), sheet="Test: [x]")))
    ws = wb.active
    assert ws is not None
    assert ws.title == "Test   x"
    cells = [list(row) for row in ws.iter_rows()]
    assert all(c.data_type != "f" for row in cells for c in row)
    texts = [row[0].value for row in cells[1 : 1 + len(HOSTILE)]]
    # openpyxl reads a lone CR back as a newline; the quote in front is what matters
    assert texts == ["'" + t.replace("\r", "\n") for t in HOSTILE]
    numbers = [row[1] for row in cells[1 : 1 + len(HOSTILE)]]
    assert [c.value for c in numbers] == list(range(len(HOSTILE)))
    assert all(c.data_type == "n" for c in numbers)
    tail = {row[0].value: row[1].value for row in cells[1 + len(HOSTILE) :]}
    assert tail["negative"] == -2
    assert tail["decimal"] == 12.5
    assert tail["list"] == "'=a; b"


def test_times_are_local_and_without_offset(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Moscow"
    moment = dt.datetime(2026, 3, 1, 9, 30, 15, 123, tzinfo=dt.UTC)
    data = exports.to_csv([["at", "day", "yes"], [moment, dt.date(2026, 3, 2), True]])
    assert data.decode().splitlines()[1] == "2026-03-01 12:30:15,2026-03-02,true"
    ws = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx([["at"], [moment]]))).active
    assert ws is not None
    assert ws["A2"].value == dt.datetime(2026, 3, 1, 12, 30, 15)  # noqa: DTZ001


@pytest.mark.parametrize("value", [None, "", "csv", "CSV", " xlsx "])
def test_formats(value: Any) -> None:
    assert exports.parse_format(value) in ("csv", "xlsx")


@pytest.mark.parametrize("value", ["pdf", "xls", "csv;", "=1+1"])
def test_bad_format_is_invalid_input_with_a_reason(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        exports.parse_format(value)
    assert exc.value.code == "bad_format"
    assert "use csv or xlsx" in exc.value.errors["format"][0]


def test_xlsx_over_the_sheet_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    assert exports.to_xlsx([["h"], [1], [2], [3]])
    with pytest.raises(InvalidInput) as exc:
        exports.to_xlsx([["h"], [1], [2], [3], [4]])
    assert exc.value.code == "too_many_rows"
    assert "CSV" in exc.value.message


def test_csv_comes_in_chunks_without_reading_everything_first() -> None:
    produced = 0

    def rows() -> Any:
        nonlocal produced
        yield ["n"]
        for n in range(3 * exports.CSV_FLUSH_ROWS):
            produced += 1
            yield [n]

    chunks = exports.csv_chunks(rows())
    assert next(chunks) == "\ufeff".encode()
    first = next(chunks)
    assert first.startswith(b"n\r\n0\r\n")
    assert produced < 2 * exports.CSV_FLUSH_ROWS  # the rest is not read yet
    rest = b"".join(chunks)
    assert rest.endswith(f"{3 * exports.CSV_FLUSH_ROWS - 1}\r\n".encode())


COLUMNS = [
    exports.Column[User]("User", lambda u: u.username),
    exports.Column[User]("Id", lambda u: u.pk),
]


def test_respond_streams_csv_and_audits_after_the_last_row(db: None) -> None:
    users = [User.objects.create_user(username=f"u{i}") for i in range(3)]
    response = exports.respond(
        actor=Actor(user=users[0]),
        fmt="csv",
        filename="users",
        columns=COLUMNS,
        records=iter(users),
        model=User,
        filters={"q": "u", "owner": None},
    )
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="users-')
    assert not AuditEntry.objects.exists()  # nothing is sent yet
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    assert body.decode("utf-8-sig").splitlines() == [
        "User,Id",
        *[f"{u.username},{u.pk}" for u in users],
    ]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.model, entry.actor, entry.object_id) == (
        "export",
        "core.User",
        users[0],
        "",
    )
    assert entry.changes == {"format": "csv", "rows": 3, "filters": {"q": "u"}}


def test_a_broken_off_download_is_audited_as_incomplete(db: None) -> None:
    user = User.objects.create_user(username="u")
    response = exports.respond(
        actor=Actor(user=user),
        fmt="csv",
        filename="users",
        columns=COLUMNS,
        records=iter([user] * (3 * exports.CSV_FLUSH_ROWS)),
        model=User,
        source=user,
    )
    stream = iter(response.streaming_content)  # type: ignore[attr-defined]
    next(stream)
    next(stream)
    # what the server does when the client goes away (the test keeps its database connection)
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    entry = AuditEntry.objects.get()
    assert entry.changes["complete"] is False
    assert 0 < entry.changes["rows"] < 3 * exports.CSV_FLUSH_ROWS
    assert (entry.object_id, entry.object_repr) == (str(user.pk), "u")


def test_respond_xlsx_is_a_file_and_audited(db: None) -> None:
    user = User.objects.create_user(username="=evil")
    response = exports.respond(
        actor=Actor(user=user),
        fmt="xlsx",
        filename="users",
        columns=COLUMNS,
        records=[user],
        model=User,
    )
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active  # type: ignore[arg-type]
    assert ws is not None
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["User", "Id"],
        ["'=evil", user.pk],
    ]
    assert AuditEntry.objects.get().changes == {"format": "xlsx", "rows": 1, "filters": {}}
