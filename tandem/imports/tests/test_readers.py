"""Reading real CSV and XLSX files written to a temporary directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from tandem.imports.readers import UnreadableFile, read_header, read_rows


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_csv_with_bom_and_quoted_newline(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "hubspot.csv",
        '\ufeffFirst Name,Email\r\nAnna,"a@x.io"\r\n\r\n"Bo\nb",b@x.io\r\n'.encode(),
    )
    assert list(read_rows(path)) == [
        (1, ["First Name", "Email"]),
        (2, ["Anna", "a@x.io"]),
        (4, ["Bo\nb", "b@x.io"]),
    ]
    assert read_header(path) == ["First Name", "Email"]


def test_csv_without_bom_in_utf8_cyrillic(tmp_path: Path) -> None:
    path = _write(tmp_path, "sf.csv", "FirstName,LastName\nИван,Петров\n".encode())  # noqa: RUF001
    assert list(read_rows(path)) == [(1, ["FirstName", "LastName"]), (2, ["Иван", "Петров"])]


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    body = "Email,Name\na@x.io,Ann\nb@x.io,Jos\xe9\n".encode("latin-1")
    path = _write(tmp_path, "latin1.csv", body)
    with pytest.raises(UnreadableFile) as caught:
        list(read_rows(path))
    assert caught.value.errors == {
        "file": ["Line 3 is not UTF-8 text (byte 11). Save the file as UTF-8."]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"Email,Name\na@x.io,Ann,extra\n", "Line 2 has 3 columns; the header has 2."),
        (b"Email,Name\na@x.io,Ann\nb@x.io\n", "Line 3 has 1 columns; the header has 2."),
        (b'Email,Name\n"a@x.io"x,Ann\n', "Line 2 is not valid CSV: ',' expected after '\"'"),
    ],
)
def test_ragged_or_malformed_csv_names_the_line(tmp_path: Path, body: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        list(read_rows(_write(tmp_path, "bad.csv", body)))
    assert caught.value.errors == {"file": [message]}


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as caught:
        read_header(_write(tmp_path, "empty.csv", b""))
    assert caught.value.errors == {"file": ["The file is empty."]}


def test_xlsx_rows_are_text_and_padded(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Account Name", "Website", "Employees", "Since"])
    sheet.append(["Acme", "acme.io", 120, dt.date(2020, 5, 1)])
    sheet.append([None, None, None, None])
    sheet.append(["Globex", None, 3.5])
    path = tmp_path / "accounts.xlsx"
    book.save(path)
    assert list(read_rows(path)) == [
        (1, ["Account Name", "Website", "Employees", "Since"]),
        (2, ["Acme", "acme.io", "120", "2020-05-01T00:00:00"]),
        (4, ["Globex", "", "3.5", ""]),
    ]


def test_xlsx_value_beyond_the_header_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email"])
    sheet.append(["a@x.io", "stray"])
    path = tmp_path / "stray.xlsx"
    book.save(path)
    with pytest.raises(UnreadableFile) as caught:
        list(read_rows(path))
    assert caught.value.errors == {"file": ["Row 2 has a value in column 2; the header has 1."]}


def test_broken_workbook_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.xlsx", b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableFile) as caught:
        read_header(path)
    assert caught.value.errors == {"file": ["The file is not a readable XLSX workbook."]}


def test_errors_are_translated(tmp_path: Path) -> None:
    from django.utils import translation

    path = _write(tmp_path, "ragged.csv", b"Email,Name\na@x.io\n")
    with translation.override("ru"), pytest.raises(UnreadableFile) as caught:
        list(read_rows(path))
    assert caught.value.errors == {"file": ["В строке 2 столбцов: 1, а в заголовке: 2."]}  # noqa: RUF001
