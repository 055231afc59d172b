"""CSV and XLSX exports: exact rows, formula injection neutralised, access and bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client

from conftest import World
from tandem.attribution.exports import safe_text
from tandem.attribution.models import AttributionRun
from tandem.attribution.tests.test_journeys import build_timeline, days
from tandem.crm import services as crm

PERIOD = {
    "start": "2026-02-01",
    "end": "2026-03-01",
    "unit": "account",
    "model": "last",
    "n_boot": "0",
}
EVIL = '=HYPERLINK("http://x","y")'


@pytest.fixture
def client(finished_client: Client) -> Client:
    """Runs are computed by a worker: these tests read the results once it has finished
    (tandem/attribution/tests/test_runs_in_background.py is about the waiting)."""
    return finished_client


@pytest.fixture
def timeline(world: World) -> dict[str, Any]:
    t = build_timeline(world)
    # A hostile campaign name on a touch of Bob, just before the deal is won.
    crm.touchpoint_record(
        channel="email",
        kind="email_click",
        department="marketing",
        contact=t["bob"],
        occurred_at=days(1),
        campaign=EVIL,
        content="@SUM(A1)",
    )
    return t


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@x", "\tx", "\rx"])
def test_safe_text_quotes_formula_starts(text: str) -> None:
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("text", ["plain", "", "1=1", "Рассылка"])
def test_safe_text_leaves_other_text(text: str) -> None:
    assert safe_text(text) == text


def test_csv(client: Client, world: World, timeline: dict[str, Any]) -> None:
    client.force_login(world.user("head"))
    r = client.get("/attribution/export.csv", PERIOD)
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        r["Content-Disposition"] == 'attachment; filename="attribution-last-20260201-20260302.csv"'
    )
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["dimension", "name", "conversions", "value", "share", "lower", "upper"]
    channel = [row for row in rows if row[0] == "channel"]
    # Last touch of Acme's journey is the email click; Cid's page view did not convert.
    assert channel == [
        ["channel", "email", "1.0", "1000.0", "1.0", "", ""],
        ["channel", "organic_search", "0.0", "0.0", "0.0", "", ""],
        ["channel", "paid_search", "0.0", "0.0", "0.0", "", ""],
        ["channel", "sales_call", "0.0", "0.0", "0.0", "", ""],
    ]
    campaign = {row[1]: row[2] for row in rows if row[0] == "campaign"}
    assert campaign == {"'" + EVIL: "1.0", "(none)": "0.0", "spring": "0.0"}
    content = {row[1] for row in rows if row[0] == "content"}
    assert "'@SUM(A1)" in content
    assert "@SUM(A1)" not in content
    assert ["path", "paid_search > email > sales_call > email", "1.0", "1000.0", "", "", ""] in rows


def test_xlsx(client: Client, world: World, timeline: dict[str, Any]) -> None:
    client.force_login(world.user("marketer"))
    r = client.get("/attribution/export.xlsx", PERIOD)
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws is not None
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["dimension", "name", "conversions", "value", "share", "lower", "upper"]
    evil = [row for row in ws.iter_rows() if row[1].value == "'" + EVIL]
    assert len(evil) == 1
    assert evil[0][1].data_type == "s"  # text, not a formula
    assert evil[0][2].value == 1.0
    assert evil[0][3].value == 1000.0
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_bad_input_is_a_400_with_reason(client: Client, world: World) -> None:
    client.force_login(world.user("head"))
    r = client.get("/attribution/export.csv", {"start": "2026-03-01", "end": "2026-01-01"})
    assert r.status_code == 400
    assert "end: must be after the start" in r.content.decode()
    r = client.get("/attribution/export.xlsx", {"model": "nope"})
    assert r.status_code == 400
    assert "model" in r.content.decode()
    assert AttributionRun.objects.count() == 0


def test_export_is_scoped(client: Client, world: World, timeline: dict[str, Any]) -> None:
    client.force_login(world.user("sales_rep", "south"))
    r = client.get("/attribution/export.csv", PERIOD)
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8")[1:])))
    assert rows == [["dimension", "name", "conversions", "value", "share", "lower", "upper"]]


def test_anonymous_cannot_export(client: Client, db: None) -> None:
    r = client.get("/attribution/export.csv")
    assert r.status_code == 302


def test_export_writes_one_audit_entry(
    client: Client, world: World, timeline: dict[str, Any]
) -> None:
    from tandem.core.models import AuditEntry

    head = world.user("head")
    client.force_login(head)
    before = AuditEntry.objects.filter(action="export").count()
    r = client.get("/attribution/export.xlsx", PERIOD)
    assert r.status_code == 200
    entries = AuditEntry.objects.filter(action="export").order_by("-pk")
    assert entries.count() == before + 1
    entry = entries[0]
    assert entry.actor_id == head.pk
    assert entry.changes["format"] == "xlsx"
    assert entry.changes["rows"] > 0
    assert entry.changes["filters"]["model"] == "last"
    # A refused export leaves no entry.
    assert client.get("/attribution/export.csv", {"model": "nope"}).status_code == 400
    assert AuditEntry.objects.filter(action="export").count() == before + 1
