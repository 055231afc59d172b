"""Large exports written by a worker: a request answers at once, the file comes when it is ready.

An app registers each list it exports (`export_kind_register(kind, build)` in its
`AppConfig.ready`): ``build(user, filters)`` gives an `ExportSource`, the same scoped, filtered
and sorted rows its page and API export. A page or endpoint calls `export_respond`: up to
``settings.EXPORT_BACKGROUND_ROWS`` rows it answers with the download at once
(`tandem.core.exports.respond`); above that it starts an `ExportJob` (`export_start`) and
answers with the job, which the page shows at ``/exports/<id>/`` (progress, then the download
link) and the API at ``/api/v1/exports/{id}``. The worker (`tasks.export_job_run` ->
`export_job_run`) writes the file in the language and time zone the request had.

Invariants:
- a job is the requester's alone: its page, its state and its file answer 404 to anyone else
  (`owned_job`), whatever their role;
- at most one queued or running job per person, list, filters and format: asking again while it
  runs gets the same job (the model's conditional unique ``key``), also when two requests race;
- a job is claimed with a conditional UPDATE (queued, or running without a heartbeat for
  `STALE`, -> running), so a task delivered twice writes the file once; the file is written
  under a temporary name and renamed when complete, so a download never sees half a file;
- the rows are rebuilt by the worker from the registered list with the requester's current
  access (`scoped`), so a record the requester may no longer see is not exported;
- the audit entry (`record_export`) is written in the transaction that marks the job done;
- a failed job keeps its reason (in the requester's language) and leaves no file;
- a done job's file is deleted at ``expires_at`` (`exports_expire`, periodic), the job marked
  expired; its page then says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.http import HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.exports import (
    Column,
    csv_chunks,
    parse_format,
    record_export,
    respond,
    write_xlsx,
)
from tandem.core.models import ExportJob, User
from tandem.core.tasks import enqueue_on_commit

log = logging.getLogger(__name__)
STALE = dt.timedelta(minutes=15)
PROGRESS_ROWS = 500  # rows between two progress writes


@dataclass(frozen=True)
class ExportSource:
    """What a registered list exports for one user and its filters."""

    filename: str  # the download's name, without date and extension
    sheet: str
    columns: Sequence[Column[Any]]
    records: Iterable[Any]  # lazily read: scoped, filtered, sorted
    model: type[models.Model]
    count: Callable[[], int]
    filters: Mapping[str, Any]  # as the audit entry records them
    source: models.Model | None = None


ExportBuilder = Callable[[User, Mapping[str, Any]], ExportSource]
_KINDS: dict[str, ExportBuilder] = {}


def export_kind_register(kind: str, build: ExportBuilder) -> None:
    """Make the list ``kind`` (e.g. ``crm.contacts``) exportable in the background."""
    _KINDS[kind] = build


def export_source(kind: str, user: User, filters: Mapping[str, Any]) -> ExportSource:
    build = _KINDS.get(kind)
    if build is None:
        raise InvalidInput({"kind": [_("Unknown export.")]}, code="bad_export")
    return build(user, filters)


def _key(user: User, kind: str, filters: Mapping[str, Any], fmt: str) -> str:
    blob = json.dumps(
        {"user": user.pk, "kind": kind, "filters": filters, "format": fmt},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def export_respond(
    *, actor: Actor, kind: str, filters: Mapping[str, Any], fmt: str
) -> HttpResponseBase | ExportJob:
    """The download at once for a list of up to ``EXPORT_BACKGROUND_ROWS`` rows, else the
    export job written in the background (new, or the same one already under way).

    ``actor.user`` is the requester; ``filters`` must be JSON (they are stored on the job and
    given back to the list's builder by the worker). Raises InvalidInput for a bad format."""
    fmt = parse_format(fmt)
    user = actor.user
    if user is None:
        raise InvalidInput(_("Exports are made for a person."), code="forbidden")
    source = export_source(kind, user, filters)
    rows = source.count()
    if rows <= settings.EXPORT_BACKGROUND_ROWS:
        return respond(
            actor=actor,
            fmt=fmt,
            filename=source.filename,
            sheet=source.sheet,
            columns=source.columns,
            records=source.records,
            model=source.model,
            source=source.source,
            filters=source.filters,
        )
    job, _new = export_start(user=user, kind=kind, filters=filters, fmt=fmt, rows=rows)
    return job


def export_start(
    *, user: User, kind: str, filters: Mapping[str, Any], fmt: str, rows: int = 0
) -> tuple[ExportJob, bool]:
    """The person's export of ``kind`` with ``filters`` in ``fmt`` under way, or a new queued
    one (enqueued after commit), in the current language and time zone; the bool says whether
    it is new."""
    fmt = parse_format(fmt)
    if kind not in _KINDS:
        raise InvalidInput({"kind": [_("Unknown export.")]}, code="bad_export")
    key = _key(user, kind, filters, fmt)
    now = timezone.now()
    with transaction.atomic():
        ExportJob.objects.filter(
            key=key, status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE
        ).update(status=ExportJob.Status.QUEUED, updated_at=now)  # a dead worker's: again
        active = ExportJob.objects.filter(key=key, status__in=ExportJob.ACTIVE).first()
        if active is not None:
            return active, False
        try:
            with transaction.atomic():
                job = ExportJob.objects.create(
                    user=user,
                    key=key,
                    kind=kind,
                    filters=dict(filters),
                    format=fmt,
                    language=translation.get_language() or settings.LANGUAGE_CODE,
                    time_zone=timezone.get_current_timezone_name(),
                    rows_total=rows,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:  # another request started it in between
            return ExportJob.objects.get(key=key, status__in=ExportJob.ACTIVE), False
        from tandem.core.tasks import export_job_run

        enqueue_on_commit(export_job_run, job.pk)
    return job, True


def page_answer(result: HttpResponseBase | ExportJob) -> HttpResponseBase:
    """A page's answer to `export_respond`: the download, or a redirect (303) to the job's
    page, which shows its progress and then the link."""
    if isinstance(result, ExportJob):
        return HttpResponseRedirect(reverse("core:export_job", args=[result.pk]), status=303)
    return result


def owned_job(user: Any, job_id: int) -> ExportJob | None:
    """The job if ``user`` asked for it, else None (answered as a 404)."""
    if not isinstance(user, User) or not user.is_active:
        return None
    return ExportJob.objects.filter(pk=job_id, user=user).first()


def job_path(job: ExportJob) -> Path | None:
    """The finished file of a job that is done and not expired (None otherwise)."""
    if job.status != ExportJob.Status.DONE or not job.file_name:
        return None
    path = Path(settings.EXPORT_DIR) / job.file_name
    return path if path.is_file() else None


# --- the worker's side --------------------------------------------------------------------------


def _claim(job_id: int, now: dt.datetime) -> bool:
    due = Q(status=ExportJob.Status.QUEUED) | Q(
        status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE
    )
    return bool(
        ExportJob.objects.filter(due, pk=job_id).update(
            status=ExportJob.Status.RUNNING, started_at=now, updated_at=now, rows_done=0, error=""
        )
    )


def _counted(job_id: int, rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The rows (header first), writing how many data rows are done every `PROGRESS_ROWS`."""
    for n, row in enumerate(rows):
        if n and n % PROGRESS_ROWS == 0:
            ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
                rows_done=n, updated_at=timezone.now()
            )
        yield row


def _table(source: ExportSource) -> Iterator[list[Any]]:
    yield [c.header for c in source.columns]
    for record in source.records:
        yield [c.value(record) for c in source.columns]


def export_job_run(job_id: int) -> str:
    """Write a queued job's file to its end; returns its status. A job not queued any more (run
    already, or running in a live worker) is left as it is."""
    now = timezone.now()
    if not _claim(job_id, now):
        return str(ExportJob.objects.filter(pk=job_id).values_list("status", flat=True).first())
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    with translation.override(job.language), timezone.override(job.time_zone):
        try:
            fields = _write(job)
        except InvalidInput as exc:
            fields = {"status": ExportJob.Status.FAILED, "error": exc.message[:500]}
        except Exception as exc:  # a worker must record the failure, whatever it was
            log.exception("export job %s failed", job_id)
            fields = {"status": ExportJob.Status.FAILED, "error": str(exc)[:500] or "error"}
    if fields["status"] == ExportJob.Status.FAILED:
        end = timezone.now()
        ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
            finished_at=end, updated_at=end, **fields
        )
    return str(fields["status"])


def _write(job: ExportJob) -> dict[str, Any]:
    source = export_source(job.kind, job.user, job.filters)
    folder = Path(settings.EXPORT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{job.pk}-{secrets.token_hex(8)}"
    final = folder / f"{stem}.{job.format}"
    draft = folder / f".{stem}.{job.format}.part"
    seen = [0]

    def rows() -> Iterator[Sequence[Any]]:
        for row in _counted(job.pk, _table(source)):
            seen[0] += 1
            yield row

    try:
        with draft.open("wb") as out:
            if job.format == "xlsx":
                write_xlsx(rows(), out, sheet=source.sheet or source.filename)
            else:
                for chunk in csv_chunks(rows()):
                    out.write(chunk)
        written = max(seen[0] - 1, 0)
        draft.rename(final)
        end = timezone.now()
        with transaction.atomic():
            done = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
                status=ExportJob.Status.DONE,
                rows_done=written,
                rows_total=written,
                file_name=final.name,
                download_name=f"{source.filename}-{timezone.localdate():%Y%m%d}.{job.format}",
                size=final.stat().st_size,
                finished_at=end,
                updated_at=end,
                expires_at=end + dt.timedelta(hours=settings.EXPORT_KEEP_HOURS),
            )
            if done:
                record_export(
                    actor=Actor(user=job.user),
                    model=source.model,
                    fmt=job.format,
                    rows=written,
                    source=source.source,
                    filters=source.filters,
                )
        if not done:  # taken over meanwhile: the other run's file is the one kept
            final.unlink(missing_ok=True)
    finally:
        draft.unlink(missing_ok=True)
    return {"status": ExportJob.Status.DONE}


def exports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of jobs past ``expires_at`` and mark them expired; returns how many.
    Also removes temporary files a killed worker left behind for a day. Idempotent."""
    now = now or timezone.now()
    folder = Path(settings.EXPORT_DIR)
    expired = 0
    due = ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=now)
    for job_id, file_name in due.values_list("pk", "file_name"):
        if file_name:
            (folder / file_name).unlink(missing_ok=True)
        expired += ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.DONE).update(
            status=ExportJob.Status.EXPIRED, file_name="", updated_at=now
        )
    if folder.is_dir():
        cutoff = (now - dt.timedelta(days=1)).timestamp()
        for left in folder.glob(".*.part"):
            if left.stat().st_mtime < cutoff:
                left.unlink(missing_ok=True)
    return expired
