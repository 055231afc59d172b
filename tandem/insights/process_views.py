"""Insights pages for analysis: the process page, the cockpit's funnel by channel, the exports of
every table of both, and the monthly board report (PDF).

    /insights/process/                      the process page (ProcessForm)
    /insights/process/export/<table>/       one of its tables, ?format=csv|xlsx
    /insights/channels/                     the cockpit's funnel by channel (loaded by the page)
    /insights/export/<table>/               one of the cockpit's tables, ?format=csv|xlsx
    /insights/board.pdf?month=YYYY-MM       the board report (capability `board_report`)

Views are thin: a form parses the filters, `selectors` / `process` compute, `exports` shapes the
rows and `tandem.core.exports.respond` sends and audits them. Bad input is a page with the
form's errors or a 400 with the reason as text, never a 500.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tandem.core import exports as core_exports
from tandem.core.access import can, request_user
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Industry
from tandem.insights import channels, process, selectors
from tandem.insights.board_pdf import board_report as build_board_report
from tandem.insights.exports import (
    COCKPIT_TABLES,
    PROCESS_TABLES,
    Table,
    cockpit_table,
    process_table,
)
from tandem.insights.forms import BoardReportForm, CockpitForm, ProcessForm
from tandem.insights.periods import zone_of


def _text_400(form_errors: dict[str, Any]) -> HttpResponse:
    reasons = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form_errors.items())
    return HttpResponse(reasons, status=400, content_type="text/plain; charset=utf-8")


def _cockpit_form(request: HttpRequest, user: User) -> CockpitForm:
    zone = zone_of(user)
    form = CockpitForm(request.GET or None, zone=zone)
    if not form.is_bound:
        form = CockpitForm({"period": "this_quarter", "model": selectors.DEFAULT_MODEL}, zone=zone)
    return form


def _process_form(request: HttpRequest, user: User) -> ProcessForm:
    zone = zone_of(user)
    form = ProcessForm(request.GET or None, zone=zone)
    if not form.is_bound:
        form = ProcessForm({"period": "this_quarter", "by": "rep"}, zone=zone)
    return form


def _send(request: HttpRequest, table: Table, fmt: str) -> HttpResponseBase:
    columns = [core_exports.Column(header, itemgetter(n)) for n, header in enumerate(table.header)]
    filters = {k: v for k, v in request.GET.items() if k != "format"}
    filters["table"] = table.name
    return core_exports.respond(
        actor=Actor.of(request),
        fmt=fmt,
        filename=f"insights-{table.name}".replace("_", "-"),
        columns=columns,
        records=table.rows,
        model=table.model,
        filters=filters,
        sheet=table.title,
    )


def _export_format(request: HttpRequest, user: User) -> str:
    return core_exports.page_format(user, request.GET.get("format"))


# --- the cockpit's funnel by channel and exports --------------------------------------------


@login_required
@require_GET
def cockpit_channels(request: HttpRequest) -> HttpResponse:
    """The funnel per first-touch channel for the cockpit's filters (a fragment)."""
    user = request_user(request)
    form = _cockpit_form(request, user)
    if not form.is_valid() or form.window is None:
        return _text_400(form.errors)
    team = form.cleaned_data.get("team")
    rows = selectors.funnel_by_channel(
        user,
        form.window,
        team.pk if team else None,
        form.cleaned_data.get("industry") or "",
    )
    query = request.GET.copy()
    query.pop("channel", None)
    return render(
        request,
        "insights/_funnel_channels.html",
        {
            "rows": rows,
            "stages": selectors.FUNNEL,
            "labels": [str(selectors.STEP_LABELS[s]) for s in selectors.FUNNEL],
            "cockpit_query": query.urlencode(),
            "export_query": request.GET.urlencode(),
            "can_export": can(user, "export"),
        },
    )


@login_required
@require_GET
def cockpit_export(request: HttpRequest, table: str) -> HttpResponseBase:
    if table not in COCKPIT_TABLES:
        raise Http404
    user = request_user(request)
    try:
        fmt = _export_format(request, user)
    except InvalidInput as exc:
        return core_exports.refused(exc)
    form = _cockpit_form(request, user)
    if not form.is_valid() or form.window is None:
        return _text_400(form.errors)
    data = form.cleaned_data
    team = data.get("team")
    team_id = team.pk if team else None
    industry = data.get("industry") or ""
    summary, by_channel = None, None
    if table == "channels":
        by_channel = selectors.funnel_by_channel(user, form.window, team_id, industry)
    else:
        summary = selectors.summary(
            user,
            window=form.window,
            team_id=team_id,
            industry=industry,
            model=data["model"],
            channel=data.get("channel") or "",
            with_credit=table in ("credit", "campaigns", "content"),
        )
    try:
        return _send(request, cockpit_table(table, summary, by_channel), fmt)
    except InvalidInput as exc:
        return core_exports.refused(exc)


# --- the process page -----------------------------------------------------------------------


def _filters(form: ProcessForm) -> process.Filters:
    data = form.cleaned_data
    team, rep = data.get("team"), data.get("rep")
    return process.Filters(
        team_id=team.pk if team else None,
        industry=data.get("industry") or "",
        channel=data.get("channel") or "",
        rep_id=rep.pk if rep else None,
    )


@login_required
@require_GET
def process_page(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = _process_form(request, user)
    context: dict[str, Any] = {
        "form": form,
        "zone": zone_of(user).key,
        "channel_choices": channels.known(),
    }
    if not form.is_valid() or form.window is None:
        return render(request, "insights/process.html", context, status=400)
    result = process.process(
        user, window=form.window, filters=_filters(form), by=form.cleaned_data["by"]
    )
    rep = form.cleaned_data.get("rep")
    team = form.cleaned_data.get("team")
    context.update(
        result=result,
        team=team,
        rep=rep,
        industry_label=dict(Industry.choices).get(result.filters.industry, ""),
        by_label=process.BREAKDOWNS[result.by],
        milestones=[(m, process.MILESTONE_LABELS[m]) for m in process.MILESTONES],
        horizons=process.HORIZONS,
        query=request.GET.urlencode(),
        can_export=can(user, "export"),
        cockpit_url=reverse("insights:cockpit"),
    )
    return render(request, "insights/process.html", context)


@login_required
@require_GET
def process_export(request: HttpRequest, table: str) -> HttpResponseBase:
    if table not in PROCESS_TABLES:
        raise Http404
    user = request_user(request)
    try:
        fmt = _export_format(request, user)
    except InvalidInput as exc:
        return core_exports.refused(exc)
    form = _process_form(request, user)
    if not form.is_valid() or form.window is None:
        return _text_400(form.errors)
    result = process.process(
        user, window=form.window, filters=_filters(form), by=form.cleaned_data["by"]
    )
    try:
        return _send(request, process_table(table, result), fmt)
    except InvalidInput as exc:
        return core_exports.refused(exc)


# --- the board report -----------------------------------------------------------------------


@login_required
@require_GET
def board_report(request: HttpRequest) -> HttpResponse:
    """The month's board report as a PDF download (head and admin)."""
    user = request_user(request)
    if not can(user, "board_report"):
        raise PermissionDenied
    form = BoardReportForm(request.GET)
    if not form.is_valid():
        return _text_400(form.errors)
    month = form.cleaned_data["month"]
    pdf = build_board_report(user, month=month, zone=zone_of(user))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="board-report-{month:%Y-%m}.pdf"'
    return response
