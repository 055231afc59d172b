"""API of imports: upload a file (multipart), read a job with what becomes of each column, change
the mapping and its options, start a dry or real run. Thin: the same `imports.services` as the
pages; who may import is `can(user, "import_records")` (else 403), jobs are read through
`scoped` (another's job: 404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict, Field

from tandem.core.access import can, get_scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.imports import services
from tandem.imports.models import ImportJob
from tandem.imports.readers import UnreadableFile

router = Router(tags=["imports"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}
REPORTED = 100


class ColumnOut(Schema):
    header: str
    target: str  # a field, "custom.<key>" (kept as a custom attribute), or "" (not imported)


class ImportOut(Schema):
    id: int
    kind: str
    file_name: str
    status: str
    dry_run: bool
    keep_unmapped: bool
    columns: list[ColumnOut]
    custom_columns: list[str]  # headers kept as custom attributes
    unmapped_columns: list[str]  # headers not imported
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    errors: int
    report: list[list[Any]]  # the first rejected rows: [row, field, message]
    created_at: dt.datetime
    finished_at: dt.datetime | None


class MappingIn(Schema):
    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict, max_length=1000)
    keep_unmapped: bool | None = None


class StartIn(Schema):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False


def _importer(request: HttpRequest, *, write: bool = False) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "import_records") or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("You may not import records."))
    return who


def _out(job: ImportJob) -> dict[str, Any]:
    try:
        columns = services.import_columns(job)
    except UnreadableFile:
        columns = []
    return {
        "id": job.pk,
        "kind": job.kind,
        "file_name": job.original_name,
        "status": job.status,
        "dry_run": job.dry_run,
        "keep_unmapped": job.keep_unmapped,
        "columns": [{"header": c.header, "target": c.target} for c in columns],
        "custom_columns": [c.header for c in columns if c.custom_key],
        "unmapped_columns": [c.header for c in columns if not c.target],
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "errors": job.error_count,
        "report": list(job.report[:REPORTED]),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@router.post("/imports", response={201: ImportOut, **ERRORS}, operation_id="imports_create")
def create_import(
    request: HttpRequest,
    kind: Form[str],
    file: File[UploadedFile],
    keep_unmapped: Form[bool] = False,
) -> Any:
    """Upload a CSV or XLSX file (multipart: `kind` contacts|accounts, `file`, optional
    `keep_unmapped`); the answer shows the recognised mapping."""
    who = _importer(request, write=True)
    job = services.import_job_create(
        actor=who.user, kind=kind, upload=file, keep_unmapped=keep_unmapped
    )
    return Status(201, _out(job))


@router.get("/imports/{job_id}", response={200: ImportOut, **ERRORS}, operation_id="imports_get")
def get_import(request: HttpRequest, job_id: int) -> Any:
    who = _importer(request)
    return _out(get_scoped(who.user, ImportJob, job_id))


@router.put(
    "/imports/{job_id}/mapping",
    response={200: ImportOut, **ERRORS},
    operation_id="imports_set_mapping",
)
def set_mapping(request: HttpRequest, job_id: int, payload: MappingIn) -> Any:
    """`columns`: header -> field, "" to ignore, "custom" to keep as a custom attribute;
    `keep_unmapped` keeps every column that maps to nothing (omitted: unchanged)."""
    who = _importer(request, write=True)
    job = get_scoped(who.user, ImportJob, job_id, "change")
    job = services.import_job_set_mapping(
        actor=who.user, job=job, override=payload.columns, keep_unmapped=payload.keep_unmapped
    )
    return _out(job)


@router.post(
    "/imports/{job_id}/start", response={202: ImportOut, **ERRORS}, operation_id="imports_start"
)
def start_import(request: HttpRequest, job_id: int, payload: StartIn) -> Any:
    """Queue a dry run (`dry_run`: checks every row, stores nothing) or the import."""
    who = _importer(request, write=True)
    job = get_scoped(who.user, ImportJob, job_id, "change")
    services.import_start(actor=who.user, job=job, dry_run=payload.dry_run)
    job.refresh_from_db()
    return Status(202, _out(job))
