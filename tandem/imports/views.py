"""Import pages: upload, mapping preview, dry run report (also as CSV/XLSX), run with progress,
cancel, undo, and resume (an interrupted import continues after its last committed rows).

Thin: parse the request, call `tandem.imports.services`, render. Jobs are read through
`scoped`; people who may not import (sales and field reps) get a 404 everywhere.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core import exports
from tandem.core.access import can, get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.imports import services
from tandem.imports.forms import MappingForm, StartForm, UploadForm
from tandem.imports.mapping import CUSTOM, KEEP, targets_for
from tandem.imports.models import ImportJob, ImportStatus
from tandem.imports.readers import read_rows

PREVIEW_ROWS = 5


def _importer(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not can(user, "import_records"):
        raise Http404
    return user


def _job(request: HttpRequest, pk: int, action: Any = "view") -> tuple[User, ImportJob]:
    user = _importer(request)
    return user, get_scoped(user, ImportJob, pk, action)


@login_required
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest) -> HttpResponse:
    user = _importer(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(
                actor=user,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                keep_unmapped=form.cleaned_data["keep_unmapped"],
            )
        except InvalidInput as exc:
            for messages_ in exc.errors.values():
                for message in messages_:
                    form.add_error("file", message)
        else:
            return redirect("imports:detail", pk=job.pk)
    jobs = scoped(user, ImportJob).select_related("created_by")[:50]
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/job_list.html", {"form": form, "jobs": jobs}, status=status)


def _preview(job: ImportJob) -> dict[str, Any]:
    try:
        rows = list(islice(read_rows(Path(job.file.path)), PREVIEW_ROWS + 1))
    except InvalidInput as exc:
        return {"preview_error": exc.message, "columns": [], "rows": []}
    header = rows[0][1] if rows else []
    columns = []
    for i, h in enumerate(header):
        target = job.mapping.get(str(i), "")
        choice = KEEP if target.startswith(CUSTOM) else target
        columns.append(
            {"index": i, "header": h.replace("\ufeff", ""), "target": target, "choice": choice}
        )
    kept = [c["header"] for c in columns if c["choice"] == KEEP]
    unmapped = [c["header"] for c in columns if not c["target"]]
    return {
        "columns": columns,
        "rows": [cells for _n, cells in rows[1:]],
        "kept_columns": kept,
        "unmapped_columns": unmapped,
    }


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _user, job = _job(request, pk)
    context = {"job": job, "targets": targets_for(services.kind_of(job)), **_preview(job)}
    return render(request, "imports/job_detail.html", context)


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    _user, job = _job(request, pk)
    return render(request, "imports/_progress.html", {"job": job})


@login_required
@require_POST
def job_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    user, job = _job(request, pk, "change")
    header = [c["header"] for c in _preview(job)["columns"]]
    kind = services.kind_of(job)
    form = MappingForm(
        request.POST, header=header, targets=targets_for(kind), keep=kind == "contacts"
    )
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            text = " ".join(str(error) for error in errors)
            messages.error(request, f"{label}: {text}" if label else text)
        return redirect("imports:detail", pk=job.pk)
    try:
        services.import_job_set_mapping(
            actor=user,
            job=job,
            override=form.override(),
            keep_unmapped=form.cleaned_data["keep_unmapped"],
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def job_start(request: HttpRequest, pk: int) -> HttpResponse:
    user, job = _job(request, pk, "change")
    form = StartForm(request.POST)
    form.is_valid()  # one optional checkbox: always valid
    try:
        services.import_start(actor=user, job=job, dry_run=form.cleaned_data["dry_run"])
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user, job = _job(request, pk, "change")
    interrupted = job.status == ImportStatus.INTERRUPTED
    services.import_cancel(actor=user, job=job)
    if interrupted:
        messages.info(request, _("The import is cancelled; the rows it stored are kept."))
    else:
        messages.info(request, _("The import stops after the rows it is working on."))
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def job_resume(request: HttpRequest, pk: int) -> HttpResponse:
    user, job = _job(request, pk, "change")
    try:
        services.import_resume(actor=user, job=job)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import goes on after its last committed rows."))
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def job_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user, job = _job(request, pk, "change")
    try:
        services.import_undo(actor=user, job=job)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import was undone."))
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_GET
def job_report_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The rejected rows of a run (`row, field, message`) as CSV or XLSX."""
    user, job = _job(request, pk)
    try:
        return exports.respond(
            actor=Actor(user=user),
            fmt=exports.page_format(user, request.GET.get("format")),
            filename=f"import-{job.pk}-rejected-rows",
            sheet=_("Rejected rows"),
            columns=[
                exports.Column(_("Row"), lambda r: r[0]),
                exports.Column(pgettext("import report", "Field"), lambda r: r[1]),
                exports.Column(_("Message"), lambda r: r[2]),
            ],
            records=[_report_row(entry) for entry in job.report or []],
            model=ImportJob,
            source=job,
        )
    except InvalidInput as exc:
        return exports.refused(exc)


def _report_row(entry: Any) -> tuple[Any, Any, Any]:
    """One report entry as (row, field, message), whatever its stored shape."""
    cells = list(entry) if isinstance(entry, list | tuple) else [None, None, entry]
    cells += [None] * (3 - len(cells))
    return cells[0], cells[1], cells[2]
