"""Workbooks built to attack the reader: an XLSX whose XML carries a DTD (entity expansion, an
external entity) is refused with a reason on the page, never parsed and never a 500."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from conftest import World
from tandem.imports.readers import UnreadableFile, read_header, read_rows

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
)
EXTERNAL = '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'


def _workbook_with_dtd(prologue: str, member: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "First Name"])
    sheet.append(["a@b.io", "A"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == member:
                text = data.decode()
                body = text[text.index("?>") + 2 :] if text.startswith("<?xml") else text
                data = (prologue + body.replace("A</t>", "&lol3;</t>")).encode()
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("prologue", "member"),
    [
        (LAUGHS, "xl/worksheets/sheet1.xml"),
        (LAUGHS, "xl/styles.xml"),
        (EXTERNAL, "xl/workbook.xml"),
        (LAUGHS.replace("DOCTYPE", "doctype"), "[Content_Types].xml"),
    ],
)
def test_an_xlsx_carrying_a_dtd_is_refused(tmp_path: Path, prologue: str, member: str) -> None:
    path = tmp_path / "attack.xlsx"
    path.write_bytes(_workbook_with_dtd(prologue, member))
    with pytest.raises(UnreadableFile, match="DTD"):
        read_header(path)
    with pytest.raises(UnreadableFile, match="DTD"):
        list(read_rows(path))


def test_the_upload_page_answers_an_xlsx_with_a_dtd_with_a_form_error(
    world: World, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client = Client()
    client.force_login(world.user("marketer"))
    data = _workbook_with_dtd(LAUGHS, "xl/worksheets/sheet1.xml")
    response = client.post(
        "/imports/", {"kind": "contacts", "file": SimpleUploadedFile("people.xlsx", data)}
    )
    if response.status_code == 302:  # stored; the file is read for the preview
        response = client.get(response["Location"])
    assert response.status_code in (200, 400)
    assert "holds a DTD" in response.content.decode()
