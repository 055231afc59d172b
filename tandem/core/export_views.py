"""The page of a large export and its download (thin: find the requester's job, render).

    /exports/<id>/            the job: progress (rows written of all), then the download link
                              and until when the file is kept; htmx polls it every 2 s
    /exports/<id>/download/   the file

Invariant: both answer 404 to anyone but the person who asked for the export
(`export_jobs.owned_job`), whatever their role; a file not ready, failed or expired is a 404 too.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tandem.core.access import request_user
from tandem.core.export_jobs import job_path, owned_job
from tandem.core.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE


@login_required
@require_GET
def export_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = owned_job(request_user(request), pk)
    if job is None:
        raise Http404
    template = (
        "core/_export_job.html" if getattr(request, "htmx", False) else "core/export_job.html"
    )
    return render(request, template, {"job": job})


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = owned_job(request_user(request), pk)
    path = job_path(job) if job is not None else None
    if job is None or path is None:
        raise Http404
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=job.download_name,
        content_type=XLSX_CONTENT_TYPE if job.format == "xlsx" else CSV_CONTENT_TYPE,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
