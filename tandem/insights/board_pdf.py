"""The monthly board report: one PDF with the month's numbers and their charts.

    board_report(user, month=date(2026, 11, 1), zone=...) -> bytes

The numbers are `tandem.insights.selectors.summary` for the month (whole local days in the
viewer's time zone, linear attribution), so they are the ones `GET /api/v1/insights/summary`
gives for the same month: money is written exactly as the API writes it ("1500.00 EUR").
The charts are drawn as vector shapes with fpdf2 (rectangles and lines, no image): revenue won
against goal over the last six months, the funnel, and the credit split by department with its
bootstrap interval as whiskers.

The font is DejaVu Sans from `tandem/sales/fonts/` (read as a file: insights imports no module
of sales' for it), so Russian text renders; fpdf2 embeds a subset and a ToUnicode map, so the
text can be searched and copied.

Invariants: user text (names of departments, steps) is drawn with fpdf2's text operations,
which escape it; the document depends only on the data, the month and the viewer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from pathlib import Path

from django.utils import formats
from django.utils.translation import gettext as _
from fpdf import FPDF

from tandem.core.models import Organisation, User
from tandem.insights import selectors
from tandem.insights.models import GoalKind
from tandem.insights.periods import Window, add_months, period_end

FONT_PATH = Path(__file__).resolve().parent.parent / "sales" / "fonts" / "DejaVuSans.ttf"
FONT = "DejaVuSans"
MONTHS_SHOWN = 6
INK = (40, 40, 40)
MUTED = (120, 120, 120)
BAR = (79, 129, 189)
BAR_LIGHT = (190, 208, 232)
GOAL = (200, 60, 60)
LEFT = 50.0
DASH, TIMES = "\u2013", "\u00d7"
WIDTH = 495.0  # A4 width 595 pt less the margins


def month_window(month: dt.date, zone: zoneinfo.ZoneInfo) -> Window:
    first = month.replace(day=1)
    return Window(first, period_end(first, "month"), zone)


def _money(value: Decimal | None, currency: str) -> str:
    return "—" if value is None else f"{value} {currency}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _document(title: str) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="pt", format="A4")
    pdf.set_title(title)
    pdf.set_creator("Tandem")
    pdf.set_producer("Tandem")
    pdf.set_margins(left=LEFT, top=50, right=50)
    pdf.set_auto_page_break(auto=True, margin=60)
    pdf.add_font(FONT, "", str(FONT_PATH))
    pdf.set_font(FONT, size=10)
    return pdf


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(8)
    pdf.set_font(FONT, size=13)
    pdf.set_text_color(*INK)
    pdf.cell(0, 18, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)


def _room(pdf: FPDF, height: float) -> None:
    """A new page unless `height` points still fit above the bottom margin."""
    if pdf.get_y() + height > pdf.h - 60:
        pdf.add_page()


def _facts(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    pdf.set_font(FONT, size=10)
    for label, value in rows:
        pdf.set_text_color(*MUTED)
        pdf.cell(230, 15, label)
        pdf.set_text_color(*INK)
        pdf.cell(0, 15, value, new_x="LMARGIN", new_y="NEXT")


def _revenue_chart(
    pdf: FPDF, months: list[tuple[dt.date, Decimal, Decimal | None]], currency: str
) -> None:
    """Bars of revenue won per month, a red tick at each month's goal."""
    height, label_h = 130.0, 14.0
    _room(pdf, height + 2 * label_h + 10)
    top = pdf.get_y() + label_h
    peak = max([float(r) for _m, r, _g in months] + [float(g) for _m, _r, g in months if g] + [1.0])
    slot = WIDTH / len(months)
    bar_w = slot * 0.5
    pdf.set_draw_color(*MUTED)
    pdf.line(LEFT, top + height, LEFT + WIDTH, top + height)
    pdf.set_font(FONT, size=8)
    for n, (month, won, goal) in enumerate(months):
        x = LEFT + n * slot + (slot - bar_w) / 2
        h = height * float(won) / peak
        pdf.set_fill_color(*BAR)
        pdf.rect(x, top + height - h, bar_w, h, style="F")
        pdf.set_text_color(*INK)
        pdf.text(x, top + height - h - 3, f"{won}")
        if goal is not None:
            y = top + height - height * float(goal) / peak
            pdf.set_draw_color(*GOAL)
            pdf.set_line_width(1.5)
            pdf.line(x - 6, y, x + bar_w + 6, y)
            pdf.set_line_width(0.2)
        pdf.set_text_color(*MUTED)
        pdf.text(x, top + height + 11, formats.date_format(month, "M Y"))
    pdf.set_y(top + height + label_h + 4)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        12,
        _("Bars: revenue won (%(currency)s); red line: the month's revenue goal.")
        % {"currency": currency},
        new_x="LMARGIN",
        new_y="NEXT",
    )


def _funnel_chart(pdf: FPDF, steps: list[selectors.FunnelStep]) -> None:
    """A horizontal bar per step: entered (light), converted to the next step (dark)."""
    row_h, label_w = 18.0, 90.0
    _room(pdf, row_h * len(steps) + 20)
    peak = max([s.entered for s in steps] + [1])
    span = WIDTH - label_w - 110
    pdf.set_font(FONT, size=9)
    for step in steps:
        y = pdf.get_y()
        pdf.set_text_color(*INK)
        pdf.text(LEFT, y + 12, step.label)
        w = span * step.entered / peak
        pdf.set_fill_color(*BAR_LIGHT)
        pdf.rect(LEFT + label_w, y + 3, max(w, 0.5), row_h - 6, style="F")
        if step.converted_to_next is not None:
            pdf.set_fill_color(*BAR)
            pdf.rect(LEFT + label_w, y + 3, span * step.converted_to_next / peak, row_h - 6, "F")
        text = f"{step.entered}"
        if step.conversion is not None:
            text += f" → {step.converted_to_next} ({_percent(step.conversion)})"
        pdf.text(LEFT + label_w + max(w, 0.5) + 5, y + 12, text)
        pdf.set_y(y + row_h)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        12,
        _("Light: entered the step in the month; dark: of those, converted to a later step."),
        new_x="LMARGIN",
        new_y="NEXT",
    )


def _credit_chart(pdf: FPDF, split: dict[str, selectors.Credit]) -> None:
    """A bar per department with its share, whiskers from the interval's low to high."""
    row_h, label_w = 20.0, 90.0
    _room(pdf, row_h * len(split) + 30)
    span = WIDTH - label_w - 120
    axis_y = pdf.get_y()
    pdf.set_font(FONT, size=9)
    for name, credit in split.items():
        y = pdf.get_y()
        mid = y + row_h / 2
        pdf.set_text_color(*INK)
        pdf.text(LEFT, mid + 3, name)
        pdf.set_fill_color(*BAR)
        pdf.rect(LEFT + label_w, y + 4, span * credit.share, row_h - 8, style="F")
        if credit.low is not None and credit.high is not None:
            x1, x2 = LEFT + label_w + span * credit.low, LEFT + label_w + span * credit.high
            pdf.set_draw_color(*INK)
            pdf.set_line_width(1)
            pdf.line(x1, mid, x2, mid)
            pdf.line(x1, mid - 5, x1, mid + 5)
            pdf.line(x2, mid - 5, x2, mid + 5)
            pdf.set_line_width(0.2)
        text = _percent(credit.share)
        if credit.low is not None and credit.high is not None:
            text += f" ({_percent(credit.low)} {DASH} {_percent(credit.high)})"
        pdf.text(LEFT + label_w + span + 8, mid + 3, text)
        pdf.set_y(y + row_h)
    pdf.set_draw_color(*MUTED)
    pdf.line(LEFT + label_w, axis_y, LEFT + label_w, pdf.get_y())
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        12,
        _("Share of the credit for revenue won (linear model); whiskers: 95 % interval."),
        new_x="LMARGIN",
        new_y="NEXT",
    )


def board_report(user: User, *, month: dt.date, zone: zoneinfo.ZoneInfo) -> bytes:
    """The board report of `month` (its first day) as `user` may see it, as PDF bytes."""
    span = month_window(month, zone)
    summary = selectors.summary(user, window=span, model=selectors.DEFAULT_MODEL)
    currency = summary.currency
    history = []
    for back in range(MONTHS_SHOWN - 1, -1, -1):
        first = add_months(span.first, -back)
        past = month_window(first, zone)
        won = summary.revenue_won if back == 0 else selectors.revenue(user, past, None, currency)[0]
        goal = (
            summary.revenue_goal
            if back == 0
            else selectors.goal_totals(past, None)[GoalKind.REVENUE]
        )
        history.append((first, won, goal))
    month_name = formats.date_format(span.first, "F Y")
    title = _("Board report, %(month)s") % {"month": month_name}
    pdf = _document(title)
    pdf.add_page()
    pdf.set_font(FONT, size=18)
    pdf.set_text_color(*INK)
    pdf.cell(0, 26, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    pdf.set_text_color(*MUTED)
    dates = f"{span.first.isoformat()} {DASH} {span.last.isoformat()}"
    subtitle = f"{Organisation.current().name} · {dates} · {zone.key}"
    if not summary.complete:
        subtitle += " · " + _("counted over the records you can see")
    pdf.cell(0, 14, subtitle, new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, _("The month in numbers"))
    sla = summary.sla
    _facts(
        pdf,
        [
            (_("Revenue won"), f"{_money(summary.revenue_won, currency)} ({summary.deals_won})"),
            (_("Revenue goal"), _money(summary.revenue_goal, currency)),
            (_("Goal reached"), _percent(summary.revenue_attainment)),
            (
                _("Open pipeline closing in the month"),
                f"{_money(summary.pipeline_open, currency)} ({summary.deals_open})",
            ),
            (_("Weighted pipeline"), _money(summary.pipeline_weighted, currency)),
            (
                _("Coverage"),
                "—" if summary.coverage is None else f"{summary.coverage:.1f}{TIMES}",
            ),
            (
                _("MQLs delivered"),
                f"{sla.mqls_delivered}"
                + ("" if sla.mql_goal is None else f" / {int(sla.mql_goal)}"),
            ),
            (_("Accepted by sales"), f"{sla.accepted} ({_percent(sla.acceptance_rate)})"),
            (_("Answered in time"), f"{sla.answered_in_time} / {sla.answered}"),
            (_("Disputes waiting for a decision"), f"{summary.disputes_open}"),
        ],
    )
    _heading(pdf, _("Revenue won against goal"))
    _revenue_chart(pdf, history, currency)
    _heading(pdf, _("Funnel"))
    _funnel_chart(pdf, summary.funnel)
    _heading(pdf, _("Credit for revenue won, by department"))
    if summary.credit_split:
        _credit_chart(pdf, summary.credit_split)
    else:
        pdf.set_text_color(*MUTED)
        pdf.cell(
            0, 14, _("No won deal with touches in this period."), new_x="LMARGIN", new_y="NEXT"
        )
    if summary.alerts:
        _heading(pdf, _("Alerts"))
        pdf.set_text_color(*INK)
        for alert in summary.alerts:
            pdf.multi_cell(0, 13, f"• {alert.text}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
