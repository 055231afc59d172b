"""The cockpit's channel filter and funnel by channel; CSV and XLSX exports of the cockpit's and
the process page's tables (the page's numbers, formula-safe); the monthly board report (PDF)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from typing import Any

import pytest
from openpyxl import load_workbook

from tandem.insights import selectors
from tandem.insights.periods import Window
from tandem.insights.tests.analytics_data import History, history

__all__ = ["history"]


def _cockpit(h: History) -> dict[str, str]:
    return {"period": "custom", "start": h.month["from"], "end": h.month["to"]}


def _summary(h: History, **params: Any) -> dict[str, Any]:
    got = h.client("head").get("/api/v1/insights/summary", {**h.month, **params})
    assert got.status_code == 200, got.content
    return got.json()


def _entered(funnel: list[dict[str, Any]], stage: str) -> int:
    return next(int(s["entered"]) for s in funnel if s["stage"] == stage)


def test_the_channel_filter_narrows_the_funnel_and_revenue(history: History) -> None:
    everything = _summary(history)
    email = _summary(history, channel="email")
    paid = _summary(history, channel="paid_search")
    assert _entered(everything["funnel"], "lead") == 3  # L1, L2, L4 (L3 never moved)
    assert _entered(email["funnel"], "lead") == 1  # L1
    assert _entered(paid["funnel"], "lead") == 1  # L4
    assert (everything["revenue_won"], email["revenue_won"], paid["revenue_won"]) == (
        "1500.00",
        "1000.00",
        "500.00",
    )
    assert _entered(email["funnel"], "opportunity") == 3  # D1, D2, D3 of the north account
    assert email["channel"] == "email"
    assert email["revenue_goal"] is None  # goals are not per channel


def test_the_funnel_by_channel_agrees_with_the_filtered_funnel(history: History) -> None:
    head = history.user("head")
    first = history.t0.date().replace(day=1)
    last = dt.date.fromisoformat(history.month["to"])
    window = Window(first, last, history.t0.tzinfo)  # type: ignore[arg-type]
    rows = dict(selectors.funnel_by_channel(head, window))
    assert set(rows) >= {"email", "organic_search", "paid_search"}
    for channel, steps in rows.items():
        assert steps == selectors.funnel(head, window, channel=channel)
    fragment = history.client("head").get("/insights/channels/", _cockpit(history))
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert 'data-channel="email"' in html
    assert "channel=email" in html  # each channel opens the cockpit narrowed to it


def test_a_bad_channel_is_a_form_error_or_a_400(history: History) -> None:
    page = history.client("head").get("/insights/", {**_cockpit(history), "channel": "<x>"})
    assert page.status_code == 400
    api = history.client("head").get("/api/v1/insights/summary", {**history.month, "channel": "="})
    assert api.status_code == 400
    assert "channel" in api.json()["details"]


def _xlsx(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_process_exports_hold_the_page_numbers(history: History) -> None:
    client = history.client("head")
    params = {"period": "custom", "start": history.month["from"], "end": history.month["to"]}
    api = client.get("/api/v1/insights/process", {**history.month, "by": "rep"}).json()
    xlsx = client.get("/insights/process/export/cohorts/", {**params, "format": "xlsx"})
    assert xlsx.status_code == 200
    header, row = _xlsx(_body(xlsx))
    cohort = api["cohorts"][0]
    assert row[:5] == [cohort["month"], cohort["leads"], 4, 4, 4]
    cells = {(c["milestone"], c["days"]): c for c in cohort["cells"]}
    mql60 = header.index("MQL within 60 days")
    assert row[mql60] == cells[("mql", 60)]["reached"] == 3
    assert row[mql60 + 1] == cells[("mql", 60)]["rate"] == 0.75
    flow = _csv(_body(client.get("/insights/process/export/deal_flow/", params)))
    by_stage = {r[1]: r for r in flow[1:]}
    qualify = next(r for r in api["deal_flow"] if r["label"] == "Qualify")
    assert by_stage["Qualify"][2:5] == [str(qualify["entered"]), str(qualify["advanced"]), "0.75"]


def test_cockpit_exports_hold_the_page_numbers(history: History) -> None:
    client = history.client("head")
    summary = _summary(history)
    funnel = _xlsx(
        _body(client.get("/insights/export/funnel/", {**_cockpit(history), "format": "xlsx"}))
    )
    assert [r[1] for r in funnel[1:]] == [s["entered"] for s in summary["funnel"]]
    assert [r[2] for r in funnel[1:]] == [s["converted_to_next"] for s in summary["funnel"]]
    channels = _csv(_body(client.get("/insights/export/channels/", _cockpit(history))))
    email = next(r for r in channels if r[0] == "email")
    lead_column = channels[0].index("Lead: entered")
    assert email[lead_column] == "1"


def test_exported_text_never_runs_as_a_formula(history: History) -> None:
    client = history.client("head")
    params = {"period": "custom", "start": history.month["from"], "end": history.month["to"]}
    xlsx = _xlsx(
        _body(client.get("/insights/process/export/outliers/", {**params, "format": "xlsx"}))
    )
    assert xlsx[1][1] == "'=cmd|' /C calc'!A0"
    text = _csv(_body(client.get("/insights/process/export/outliers/", params)))
    assert text[1][1] == "'=cmd|' /C calc'!A0"


def test_bad_export_requests_are_refused_with_a_reason(history: History) -> None:
    client = history.client("head")
    assert client.get("/insights/export/funnel/", {"format": "pdf"}).status_code == 400
    assert client.get("/insights/export/nothing/").status_code == 404
    assert client.get("/insights/process/export/cohorts/", {"by": "x"}).status_code == 400


def _pdf_text(content: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return done.stdout.decode()


def test_the_board_report_opens_and_shows_the_months_revenue(history: History) -> None:
    month = history.month["from"][:7]
    got = history.client("head").get("/insights/board.pdf", {"month": month})
    assert got.status_code == 200
    assert got["Content-Type"] == "application/pdf"
    assert got.content.startswith(b"%PDF")
    text = _pdf_text(got.content)
    revenue = _summary(history)["revenue_won"]
    assert revenue == "1500.00"
    assert f"{revenue} " in text
    assert "Board report" in text
    assert "Funnel" in text


def test_the_board_report_in_russian(history: History) -> None:
    client = history.client("head")
    client.cookies["django_language"] = "ru"
    got = client.get("/insights/board.pdf", {"month": history.month["from"][:7]})
    assert got.status_code == 200
    assert "Выручка" in _pdf_text(got.content)


@pytest.mark.parametrize("month", ["9999-99", "2026-13", "2026-00", "26-01", "", "0000-01"])
def test_a_bad_month_is_a_400(history: History, month: str) -> None:
    got = history.client("head").get("/insights/board.pdf", {"month": month})
    assert got.status_code == 400


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("marketer", 403), ("sales_rep", 403)]
)
def test_only_head_and_admin_get_the_board_report(history: History, role: str, status: int) -> None:
    got = history.client(role).get("/insights/board.pdf", {"month": history.month["from"][:7]})
    assert got.status_code == status


@pytest.mark.django_db
def test_a_page_view_traced_to_no_source_gives_way_to_the_first_sourced_touch() -> None:
    import datetime as dt

    from django.utils import timezone

    from tandem.core.audit import Actor
    from tandem.crm import services as crm
    from tandem.crm.models import Contact
    from tandem.insights.channels import contact_channel

    now = timezone.now()
    reader = crm.contact_create(actor=Actor.system(), email="reader@example.com")
    buyer = crm.contact_create(actor=Actor.system(), email="buyer@example.com")
    silent = crm.contact_create(actor=Actor.system(), email="silent@example.com")
    for contact, channel, days in (
        (reader, "website", 9),
        (buyer, "website", 9),
        (buyer, "paid_search", 5),
        (buyer, "email", 2),
    ):
        crm.touchpoint_record(
            channel=channel,
            kind="page_view" if channel == "website" else "ad_click",
            department="marketing",
            contact=contact,
            occurred_at=now - dt.timedelta(days=days),
        )
    channels = dict(
        Contact.objects.filter(pk__in=[reader.pk, buyer.pk, silent.pk])
        .annotate(first=contact_channel("pk"))
        .values_list("email", "first")
    )
    assert channels == {
        "reader@example.com": "website",  # read the site and nothing else
        "buyer@example.com": "paid_search",  # the search ad brought them, not the page view
        "silent@example.com": "none",
    }
