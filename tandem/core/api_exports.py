"""API operations on large exports (tandem.core.export_jobs), for the person who asked.

    GET /exports/{id}            the job: status, rows written of all, error, and once done the
                                 download URL and until when the file is kept
    GET /exports/{id}/download   the file

A list's export endpoint (e.g. ``GET /contacts/export``) answers a large list with 202 and
this job (`export_job_out`) instead of the file. Invariant: anyone but the requester gets 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from tandem.core.api_auth import caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.export_jobs import job_path, owned_job
from tandem.core.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE
from tandem.core.models import ExportJob

router = Router(tags=["exports"])
ERRORS: dict[int, Any] = {401: Error, 404: Error, 429: Error}


class ExportJobOut(Schema):
    id: int
    list: str = Field(description="which list, e.g. crm.contacts")
    format: str = Field(description="csv or xlsx")
    status: str = Field(description="queued, running, done, failed or expired")
    progress: int = Field(description="per cent of the rows written (100 once done)")
    rows_done: int
    rows_total: int = Field(description="rows counted when it was asked for (exact once done)")
    error: str
    url: str = Field(description="GET this to follow the export")
    download_url: str | None = Field(description="the file, once done (until expires_at)")
    created_at: dt.datetime
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None


def export_job_out(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "list": job.kind,
        "format": job.format,
        "status": job.status,
        "progress": job.percent,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "error": job.error,
        "url": reverse("api:export_job", args=[job.pk]),
        "download_url": reverse("api:export_download", args=[job.pk])
        if job.status == ExportJob.Status.DONE
        else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
    }


def _job(request: HttpRequest, job_id: int) -> ExportJob:
    job = owned_job(caller(request).user, job_id)
    if job is None:
        raise ApiError(404, "not_found", _("No such export."))
    return job


@router.get("/exports/{job_id}", response={200: ExportJobOut, **ERRORS}, url_name="export_job")
def export_state(request: HttpRequest, job_id: int) -> dict[str, Any]:
    """A large export's state; ``download_url`` once the file is ready."""
    return export_job_out(_job(request, job_id))


@router.get(
    "/exports/{job_id}/download",
    response={200: None, **ERRORS},
    url_name="export_download",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def export_download(request: HttpRequest, job_id: int) -> FileResponse:
    """The file of a finished export (404 before it is done and after it expired)."""
    job = _job(request, job_id)
    path = job_path(job)
    if path is None:
        raise ApiError(404, "not_ready", _("The file is not ready, or was deleted."))
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=job.download_name,
        content_type=XLSX_CONTENT_TYPE if job.format == "xlsx" else CSV_CONTENT_TYPE,
    )
    response["Cache-Control"] = "private, no-store"
    return response
