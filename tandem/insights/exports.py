"""Every table of the cockpit and of the process page as rows for a CSV or XLSX download.

    cockpit_table("funnel", summary, by_channel)  -> Table(title, header, rows, model)
    process_table("cohorts", process)             -> Table(...)

The rows hold the very numbers the page shows (from the same `Summary` or `Process`): counts
as integers, shares as fractions (0.25 for 25 %, rounded to four places), days as decimals,
money as Decimal. The download itself is `tandem.core.exports.respond`, so every text cell a
spreadsheet would run as a formula is neutralised and every export is audited.

Invariants: a table name is one of `COCKPIT_TABLES` or `PROCESS_TABLES` (anything else is a
404 in the views); the header row has as many cells as every data row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from tandem.crm.models import Contact
from tandem.insights import process as proc
from tandem.insights.selectors import FUNNEL, STEP_LABELS, FunnelStep, Summary
from tandem.leads.models import Handoff
from tandem.sales.models import Deal


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    model: type[models.Model]


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _channel_label(key: str) -> str:
    return _("No touch") if key == "none" else key


# --- the cockpit ----------------------------------------------------------------------------

COCKPIT_TABLES = ("funnel", "channels", "sla_reps", "credit", "campaigns", "content")


def _channels_table(by_channel: list[tuple[str, list[FunnelStep]]]) -> Table:
    header = [_("Channel")]
    for stage in FUNNEL:
        label = str(STEP_LABELS[stage])
        header += [_("%(step)s: entered") % {"step": label}]
        if stage != "won":
            header += [_("%(step)s: conversion") % {"step": label}]
    rows = []
    for key, steps in by_channel:
        row: list[Any] = [_channel_label(key)]
        for s in steps:
            row.append(s.entered)
            if s.stage != "won":
                row.append(_share(s.conversion))
        rows.append(row)
    return Table("channels", _("Funnel by channel"), header, rows, Contact)


def cockpit_table(
    name: str,
    summary: Summary | None,
    by_channel: list[tuple[str, list[FunnelStep]]] | None = None,
) -> Table:
    """The cockpit's table `name`; the funnel by channel needs only `by_channel`, every other
    table the summary."""
    if name == "channels":
        return _channels_table(by_channel or [])
    if summary is None:
        raise KeyError(name)
    if name == "funnel":
        return Table(
            name,
            _("Funnel"),
            [
                _("Step"),
                _("Entered"),
                _("Converted to the next step"),
                _("Conversion"),
                _("Median days to the next step"),
            ],
            [
                [s.label, s.entered, s.converted_to_next, _share(s.conversion), s.median_days]
                for s in summary.funnel
            ],
            Contact,
        )
    if name == "sla_reps":
        return Table(
            name,
            _("Service level by rep"),
            [
                _("Rep"),
                _("Hand-offs"),
                _("Answered"),
                _("Answered in time"),
                _("First contact due"),
                _("First contact in time"),
                _("Past their deadline now"),
            ],
            [
                [
                    r.name,
                    r.handoffs,
                    r.answered,
                    r.answered_in_time,
                    r.contact_due,
                    r.contacted_in_time,
                    r.breaching_now,
                ]
                for r in summary.sla.by_rep
            ],
            Handoff,
        )
    if name == "credit":
        return Table(
            name,
            _("Credit for revenue won, by department"),
            [_("Department"), _("Share"), _("Interval from"), _("Interval to")],
            [
                [k, _share(c.share), _share(c.low), _share(c.high)]
                for k, c in summary.credit_split.items()
            ],
            Deal,
        )
    if name == "campaigns":
        return Table(
            name,
            _("Campaign return"),
            [_("Campaign"), _("Cost in the period"), _("Revenue credited"), _("Return")],
            [
                [r.name, r.cost, round(r.revenue, 2), _share(r.roi)]
                for r in summary.campaign_returns
            ],
            Deal,
        )
    if name == "content":
        return Table(
            name,
            _("Content that influenced the most revenue"),
            [_("Content"), _("Revenue credited"), _("Share")],
            [[r.name, round(r.value, 2), _share(r.share)] for r in summary.top_content],
            Deal,
        )
    raise KeyError(name)


# --- the process page -----------------------------------------------------------------------

PROCESS_TABLES = ("deal_flow", "lead_flow", "waiting", "outliers", "breakdown", "cohorts")


def _flow_row(f: proc.StageFlow) -> list[Any]:
    return [
        f.entered,
        f.advanced,
        _share(f.conversion),
        f.median_days_to_next,
        f.median_days_in_stage,
    ]


def _flow_header() -> list[str]:
    return [
        _("Entered"),
        _("Reached a later stage"),
        _("Conversion"),
        _("Median days to the next stage"),
        _("Median days in the stage"),
    ]


def process_table(name: str, p: proc.Process) -> Table:
    if name == "deal_flow":
        return Table(
            name,
            _("Deals through the pipeline"),
            [_("Pipeline"), _("Stage"), *_flow_header()],
            [[f.group, f.label, *_flow_row(f)] for f in p.deal_flow],
            Deal,
        )
    if name == "lead_flow":
        return Table(
            name,
            _("Leads through the lifecycle"),
            [_("Stage"), *_flow_header()],
            [[f.label, *_flow_row(f)] for f in p.lead_flow],
            Contact,
        )
    if name == "waiting":
        return Table(
            name,
            _("Where deals wait now"),
            [
                _("Pipeline"),
                _("Stage"),
                _("Open deals now"),
                _("Median days waiting now"),
                _("Ended stays"),
                _("Median days (history)"),
                _("75th percentile, days (history)"),
                _("Waiting longer than the 75th percentile"),
                _("Now against the median"),
            ],
            [
                [
                    w.pipeline,
                    w.label,
                    w.open_now,
                    w.median_days_now,
                    w.history,
                    w.median_days,
                    w.p75_days,
                    w.over_p75,
                    w.ratio,
                ]
                for w in p.waiting
            ],
            Deal,
        )
    if name == "outliers":
        return Table(
            name,
            _("Deals waiting longest against their stage"),
            [
                _("Deal id"),
                _("Deal"),
                _("Owner"),
                _("Stage"),
                _("Days waiting"),
                _("75th percentile, days"),
            ],
            [[o.deal_id, o.name, o.owner, o.stage, o.days, o.p75_days] for o in p.outliers],
            Deal,
        )
    if name == "breakdown":
        return Table(
            name,
            _("Breakdown by %(by)s") % {"by": str(proc.BREAKDOWNS[p.by]).lower()},
            [
                str(proc.BREAKDOWNS[p.by]),
                _("Leads"),
                _("Reached MQL"),
                _("Lead to MQL"),
                _("Reached SQL"),
                _("Lead to SQL"),
                _("Deals created"),
                _("Won"),
                _("Win rate"),
                _("Median days to win"),
            ],
            [
                [
                    b.label,
                    b.leads,
                    b.mql,
                    _share(b.mql_rate),
                    b.sql,
                    _share(b.sql_rate),
                    b.deals,
                    b.won,
                    _share(b.win_rate),
                    b.median_days_to_win,
                ]
                for b in p.breakdown
            ],
            Contact,
        )
    if name == "cohorts":
        header = [_("Month"), _("Leads")]
        header += [_("Past %(n)d days") % {"n": h} for h in proc.HORIZONS]
        for m in proc.MILESTONES:
            for h in proc.HORIZONS:
                label = {"m": str(proc.MILESTONE_LABELS[m]), "n": h}
                header += [
                    _("%(m)s within %(n)d days") % label,
                    _("%(m)s within %(n)d days, share") % label,
                ]
        rows = []
        for c in p.cohorts:
            row: list[Any] = [f"{c.month:%Y-%m}", c.leads, *(c.eligible[h] for h in proc.HORIZONS)]
            for _m, _h, reached, _eligible, rate in c.cells:
                row += [reached, _share(rate)]
            rows.append(row)
        return Table(name, _("Lead cohorts"), header, rows, Contact)
    raise KeyError(name)
