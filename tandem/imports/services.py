"""Importing contacts and accounts from a file, checking it first (dry run), and undoing it.

Invariants:
- a file that cannot be read (bad bytes, ragged rows, not a workbook) stores nothing: the whole
  file is read once before the first record is written, and the job is marked failed;
- a dry run goes through exactly the same code as a real run, inside transactions that are
  rolled back chunk by chunk, so it validates everything and stores no record;
- every record is written through `tandem.crm.services` (which writes the audit log, one entry
  per record). A chunk (`CHUNK` rows, one transaction) is set-based (`tandem.imports.bulk`):
  rows are checked with the crm rules and planned in memory, then written with the crm bulk
  services (COPY on PostgreSQL); a bad row is left out and reported as `[row number, field,
  message]`. A chunk the set-based path cannot judge (a planned record under a restricted scope)
  or whose writes the database refuses runs row by row instead (`_import_one`: each row through
  the single crm services in its own savepoint), so a bad row never aborts the good ones;
- a contact whose email matches an existing contact (`contact_duplicates_of`) updates that
  contact (only non-empty values, only fields that differ); an account whose website's domain
  belongs to an existing account (`AccountDomain`), or without a website whose name matches
  (case-insensitively), is reused rather than created; the same holds within the file (a
  repeated email updates the contact an earlier row created);
- the file is read and its rows' query-free checks run in a read-ahead thread; on PostgreSQL,
  outside a transaction and for an actor who sees and changes every record, chunks are written
  by `WRITERS` other threads (own connections, own transactions; up to that many chunks at
  once) while the next chunk is planned, and a chunk sharing an email, domain, name or record
  with a chunk being written waits for those first;
- every record created or updated is recorded as an `ImportRow` (with the before-values of the
  updated fields) so that `import_undo` deletes what the import created and restores the rest;
- between chunks the job's progress is saved and its cancel flag read: a cancelled import stops
  after the chunks being written and keeps what it stored (undo removes it);
- interrupted work (a worker killed, a power loss): a real run records each chunk it commits
  (`ImportChunk`, in the chunk's transaction), and every real run skips the rows of the job's
  committed chunks, so a run started again (the task re-run after its worker was lost, or
  `import_resume`) continues from the last committed chunk and stores every row exactly once;
  its counts and report are those of the committed chunks plus its own. While a run goes a
  thread beats `heartbeat_at`; a running job whose task gave up for good, or whose heartbeat is
  older than `stale_after()`, is "interrupted" with the reason (`import_interrupted`,
  `imports_interrupted_detect`) and can be resumed, cancelled or undone;
- Python's cyclic garbage collector is off while a run goes (`_no_cyclic_gc`; the chunks' objects
  are freed by reference counting): with hundreds of thousands of live row objects its passes
  took ~40% of the import's Python CPU time. It is switched back on (and run once) afterwards.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.interrupted_work import beating
from tandem.core.models import User
from tandem.core.task_health import stale_after as worker_stale_after
from tandem.crm import services as crm
from tandem.crm.models import Account, AttributeTarget, Contact, Industry, LifecycleStage
from tandem.crm.validation import clean_domain
from tandem.imports import bulk
from tandem.imports.mapping import CUSTOM, Kind, recognise
from tandem.imports.models import ImportChunk, ImportJob, ImportKind, ImportRow, ImportStatus
from tandem.imports.readers import UnreadableFile, read_header, read_rows

CHUNK = 10_000
WRITER_THREAD = True  # on PostgreSQL, write chunks in other threads while the next is planned
WRITERS = 2  # chunks written at once by the writer threads (each its own connection)
MAX_REPORTED = 10_000
MAX_FILE_BYTES = 200 * 1024 * 1024
HEARTBEAT_SECONDS = 5.0


def chunk_rows() -> int:
    """Rows per chunk (one transaction, and at most what a resumed run repeats): the setting or
    environment variable IMPORT_CHUNK_ROWS, default `CHUNK`."""
    value = getattr(settings, "IMPORT_CHUNK_ROWS", None) or os.environ.get("IMPORT_CHUNK_ROWS")
    try:
        return max(1, int(value or CHUNK))
    except ValueError:
        return CHUNK


def stale_after() -> dt.timedelta:
    """A running job whose heartbeat is older than this has lost its run (twice a worker's)."""
    return max(dt.timedelta(minutes=2), 2 * worker_stale_after())


# HubSpot's internal lifecycle values and common labels -> Tandem's stages.
_STAGES = {
    "marketingqualifiedlead": LifecycleStage.MQL,
    "marketing qualified lead": LifecycleStage.MQL,
    "salesqualifiedlead": LifecycleStage.SQL,
    "sales qualified lead": LifecycleStage.SQL,
    "sales accepted lead": LifecycleStage.SAL,
    "evangelist": LifecycleStage.CUSTOMER,
}
_NO_STAGE = {"other"}  # HubSpot's "Other" lifecycle stage: no Tandem stage
_CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "lifecycle_stage")
_ACCOUNT_FIELDS = ("industry", "region")


class _Rollback(Exception):
    """Raised to roll back a dry-run chunk."""


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    errors: list[list[Any]] = field(default_factory=list)


# --- creating a job --------------------------------------------------------------------------


@transaction.atomic
def import_job_create(
    *,
    actor: User,
    kind: str,
    upload: File,
    mapping: dict[str, str] | None = None,
    keep_unmapped: bool = False,
) -> ImportJob:
    """Store the uploaded file and the recognised (or overridden) mapping; reads the header.
    `keep_unmapped`: columns that map to no field are kept as custom attributes."""
    if kind not in ImportKind.values:
        raise InvalidInput({"kind": [_("Choose contacts or accounts.")]})
    if upload.size is not None and upload.size > MAX_FILE_BYTES:
        raise InvalidInput({"file": [_("The file is larger than 200 MB.")]})
    job = ImportJob(
        kind=kind,
        created_by=actor,
        original_name=(upload.name or "import")[:255],
        mapping={},
        keep_unmapped=keep_unmapped,
    )
    job.file.save(Path(upload.name or "import").name, upload, save=False)
    try:
        header = read_header(Path(job.file.path))
        job.mapping = recognise(header, _kind(kind), mapping, keep_unmapped=keep_unmapped).as_json()
    except InvalidInput:
        job.file.delete(save=False)
        raise
    job.save()
    return job


def _kind(value: str) -> Kind:
    return "accounts" if value == ImportKind.ACCOUNTS else "contacts"


def kind_of(job: ImportJob) -> Kind:
    """What the job's rows become: "contacts" or "accounts"."""
    return _kind(job.kind)


@transaction.atomic
def import_job_set_mapping(
    *,
    actor: User,
    job: ImportJob,
    override: dict[str, str],
    keep_unmapped: bool | None = None,
) -> ImportJob:
    """A new mapping from the user's choices (`override`: header -> target, "" to ignore,
    "custom" to keep as a custom attribute); `keep_unmapped` None keeps the job's setting."""
    if keep_unmapped is not None:
        job.keep_unmapped = keep_unmapped
    header = read_header(Path(job.file.path))
    job.mapping = recognise(
        header, _kind(job.kind), override, keep_unmapped=job.keep_unmapped
    ).as_json()
    job.save(update_fields=["mapping", "keep_unmapped"])
    return job


@dataclass(frozen=True)
class ColumnReport:
    """What becomes of each column of the file: the field it fills, kept as a custom attribute
    (`custom.<key>`), or nothing."""

    header: str
    target: str  # "" when the column is not imported

    @property
    def custom_key(self) -> str:
        return self.target.removeprefix(CUSTOM) if self.target.startswith(CUSTOM) else ""


def import_columns(job: ImportJob) -> list[ColumnReport]:
    """The file's columns with what the job's mapping does with each (read from the file)."""
    header = read_header(Path(job.file.path))
    return [
        ColumnReport(h.replace("\ufeff", "").strip(), job.mapping.get(str(i), ""))
        for i, h in enumerate(header)
    ]


def custom_columns(job: ImportJob) -> dict[str, str]:
    """Custom attribute key -> the header it comes from, for the columns kept so."""
    found: dict[str, str] = {}
    if not any(str(t).startswith(CUSTOM) for t in job.mapping.values()):
        return found
    for column in import_columns(job):
        if column.custom_key:
            found.setdefault(column.custom_key, column.header)
    return found


STARTABLE = (ImportStatus.UPLOADED, ImportStatus.CHECKED, ImportStatus.CANCELLED)


@transaction.atomic
def import_start(*, actor: User, job: ImportJob, dry_run: bool) -> None:
    """Queue a run (after commit); refused unless the job is waiting. Claimed with one UPDATE."""
    if not dry_run and job.status == ImportStatus.CANCELLED and not job.dry_run:
        raise InvalidInput({"__all__": [_("A cancelled import can only be undone.")]})
    claimed = ImportJob.objects.filter(pk=job.pk, status__in=STARTABLE).update(
        status=ImportStatus.RUNNING,
        dry_run=dry_run,
        cancel_requested=False,
        processed_rows=0,
        run_number=F("run_number") + 1,
        heartbeat_at=None,
        interrupted_reason="",
    )
    if not claimed:
        raise InvalidInput({"__all__": [_("This import is running or finished.")]})
    _enqueue_run(job.pk, dry_run)


def _enqueue_run(job_id: int, dry_run: bool) -> None:
    from tandem.imports.tasks import import_job_run

    run = ImportJob.objects.filter(pk=job_id).values_list("run_number", flat=True).get()
    transaction.on_commit(lambda: import_job_run.enqueue(job_id, dry_run, run))


@transaction.atomic
def import_resume(*, actor: User, job: ImportJob) -> None:
    """Run an interrupted import again from its last committed chunk (a new run; the dead run's
    task, should it run again, does nothing). InvalidInput unless it is interrupted."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.INTERRUPTED).update(
        status=ImportStatus.RUNNING,
        cancel_requested=False,
        run_number=F("run_number") + 1,
        heartbeat_at=None,
        interrupted_reason="",
    )
    if not claimed:
        raise InvalidInput({"__all__": [_("Only an interrupted import can be resumed.")]})
    record_change(
        actor=Actor(user=actor),
        action="update",
        instance=job,
        changes={"status": [ImportStatus.INTERRUPTED, ImportStatus.RUNNING]},
    )
    _enqueue_run(job.pk, job.dry_run)


@transaction.atomic
def import_cancel(*, actor: User, job: ImportJob) -> None:
    """Stop a running import after its current chunks; an interrupted one is cancelled at once
    (it keeps what it stored: undo removes it)."""
    stopped = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.INTERRUPTED).update(
        status=ImportStatus.CANCELLED, finished_at=timezone.now()
    )
    if stopped:
        record_change(
            actor=Actor(user=actor),
            action="update",
            instance=job,
            changes={"status": [ImportStatus.INTERRUPTED, ImportStatus.CANCELLED]},
        )
    else:
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)


def import_run_claim(*, job_id: int, run: int | None) -> bool:
    """The task of run `run` takes its job (running, or interrupted after its worker was lost);
    False when the job was cancelled, undone or resumed as a newer run meanwhile."""
    jobs = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.RUNNING, ImportStatus.INTERRUPTED]
    )
    if run is not None:
        jobs = jobs.filter(run_number=run)
    return bool(
        jobs.update(status=ImportStatus.RUNNING, heartbeat_at=timezone.now(), interrupted_reason="")
    )


def import_interrupted(*, job_id: int, reason: str, run: int | None = None) -> bool:
    """A running job whose run is gone becomes "interrupted" with `reason` (one conditional
    UPDATE; only run `run`'s when given); True if it did."""
    jobs = ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING)
    if run is not None:
        jobs = jobs.filter(run_number=run)
    return bool(jobs.update(status=ImportStatus.INTERRUPTED, interrupted_reason=reason[:500]))


def imports_interrupted_detect(*, now: dt.datetime | None = None) -> list[int]:
    """Running jobs whose heartbeat is older than `stale_after()` become "interrupted"; returns
    their ids (periodic: imports.interrupted_detect)."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    found = list(
        ImportJob.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", "heartbeat_at"
        )
    )
    done = []
    for pk, seen in found:
        reason = _("No sign of life from its run since %(when)s UTC.") % {
            "when": f"{seen:%Y-%m-%d %H:%M:%S}"
        }
        moved = ImportJob.objects.filter(
            pk=pk, status=ImportStatus.RUNNING, heartbeat_at=seen
        ).update(status=ImportStatus.INTERRUPTED, interrupted_reason=reason[:500])
        if moved:
            done.append(pk)
    return done


# --- running ---------------------------------------------------------------------------------


def _records(
    job: ImportJob, committed: list[tuple[int, int]]
) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's rows, without those in the `committed` (first, last) row ranges."""
    columns = {int(i): target for i, target in job.mapping.items()}
    rows = read_rows(Path(job.file.path))
    next(rows, None)  # header
    for number, cells in rows:
        if any(first <= number <= last for first, last in committed):
            continue
        yield number, {t: cells[i].strip() for i, t in columns.items() if cells[i].strip()}


def _chunks(
    job: ImportJob, size: int, committed: list[tuple[int, int]]
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for record in _records(job, committed):
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_END = object()


@contextmanager
def _read_ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Iterator[Any]]:
    """`items`, produced by a thread up to `depth` ahead: the next chunk is read and parsed
    while this thread waits for the database. The thread touches no database."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    def consume() -> Iterator[Any]:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    worker = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get(timeout=0.1)
            except queue.Empty:
                continue
        worker.join()


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (process-wide: a block that found it
    off leaves it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()


def import_run(
    *,
    actor: User,
    job: ImportJob,
    dry_run: bool = False,
    progress: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Check (dry run) or import every row of the job's file not committed yet; returns the job
    with its report. Its heartbeat is beaten while it goes."""

    def beat() -> None:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    with _no_cyclic_gc(), beating(beat, HEARTBEAT_SECONDS):
        return _import_run(actor, job, dry_run, progress)


def _import_run(
    actor: User,
    job: ImportJob,
    dry_run: bool,
    progress: Callable[[ImportJob], None] | None,
) -> ImportJob:
    try:
        total = max(0, sum(1 for _row in read_rows(Path(job.file.path))) - 1)
    except UnreadableFile as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED,
            dry_run=dry_run,
            report=[[0, "file", exc.message]],
            error_count=1,
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    chunks_done = [] if dry_run else list(job.chunks.order_by("first_row"))
    committed = [(c.first_row, c.last_row) for c in chunks_done]
    report: list[list[Any]] = [entry for c in chunks_done for entry in c.report]
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING,
        dry_run=dry_run,
        total_rows=total,
        processed_rows=sum(c.rows for c in chunks_done),
        created_count=sum(c.created for c in chunks_done),
        updated_count=sum(c.updated for c in chunks_done),
        error_count=sum(c.errors for c in chunks_done),
        cancel_requested=False,
        report=[],
        finished_at=None,
        heartbeat_at=timezone.now(),
    )
    owner_ids: dict[str, Any] = {}
    cancelled = False
    rules = bulk.Rules.load(job)
    prepared = (bulk.prepare(rules, c) for c in _chunks(job, chunk_rows(), committed))
    custom = custom_columns(job) if job.kind == ImportKind.CONTACTS else {}
    run = _Run(actor, job, dry_run, report, progress, owner_ids, rules, custom)
    with _read_ahead(prepared) as chunks:
        if (
            not custom
            and WRITER_THREAD
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
            and bulk.open_to(actor)
        ):
            cancelled = run.pipelined(chunks)
        else:
            cancelled = run.in_turn(chunks)
    if dry_run:
        final = ImportStatus.CANCELLED if cancelled else ImportStatus.CHECKED
    else:
        final = ImportStatus.CANCELLED if cancelled else ImportStatus.DONE
    ImportJob.objects.filter(pk=job.pk).update(
        status=final, report=report[:MAX_REPORTED], finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


@dataclass
class _Run:
    """The chunks of one run: each planned (reads), then written in its own transaction, then
    its progress saved and the cancel flag read."""

    actor: User
    job: ImportJob
    dry_run: bool
    report: list[list[Any]]
    progress: Callable[[ImportJob], None] | None
    owner_ids: dict[str, Any]
    rules: bulk.Rules
    custom: dict[str, str]  # custom attribute key -> header, for columns kept so

    def plan(self, chunk: list[bulk.Prepared]) -> bulk.Plan | None:
        if self.custom:
            return None  # custom values are written row by row (contact_create/update)
        try:
            return bulk.plan_chunk(self.actor, self.job, chunk, self.owner_ids, self.rules)
        except bulk.NeedsRowPath:
            return None

    def write(self, chunk: list[bulk.Prepared], plan: bulk.Plan | None) -> _Outcome:
        """One transaction: the plan's writes, or row by row if there is no plan or the
        database refuses its writes; rolled back in a dry run."""
        outcome = _Outcome()
        try:
            with transaction.atomic():
                written = False
                if self.custom:  # in the chunk's transaction: a dry run defines nothing
                    crm.custom_attributes_ensure(
                        actor=Actor(user=self.actor),
                        target=AttributeTarget.CONTACT,
                        labels=dict(self.custom),
                    )
                if plan is not None:
                    try:
                        with transaction.atomic():
                            plan.write()
                        done = plan.outcome
                        outcome = _Outcome(done.created, done.updated, done.errors)
                        written = True
                    except (InvalidInput, DatabaseError):
                        pass
                if not written:
                    outcome = _Outcome()
                    rows = [(r.number, r.values) for r in chunk]
                    _rows_one_by_one(self.actor, self.job, rows, outcome)
                if self.dry_run:
                    raise _Rollback
                if chunk:
                    ImportChunk.objects.create(
                        job_id=self.job.pk,
                        first_row=chunk[0].number,
                        last_row=chunk[-1].number,
                        rows=len(chunk),
                        created=outcome.created,
                        updated=outcome.updated,
                        errors=len({e[0] for e in outcome.errors}),
                        report=outcome.errors[:MAX_REPORTED],
                    )
        except _Rollback:
            pass
        return outcome

    def done(self, size: int, outcome: _Outcome) -> bool:
        """Save a written chunk's progress; True if the import was cancelled meanwhile."""
        job = self.job
        self.report.extend(outcome.errors)
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=F("processed_rows") + size,
            created_count=F("created_count") + outcome.created,
            updated_count=F("updated_count") + outcome.updated,
            error_count=F("error_count") + len({e[0] for e in outcome.errors}),
        )
        job.refresh_from_db(
            fields=["total_rows", "processed_rows", "created_count", "updated_count", "error_count"]
        )
        if self.progress is not None:
            self.progress(job)
        job.refresh_from_db(fields=["cancel_requested"])
        return job.cancel_requested

    def in_turn(self, chunks: Iterator[list[bulk.Prepared]]) -> bool:
        # any() stops at the first chunk after which the import was cancelled
        return any(self.done(len(c), self.write(c, self.plan(c))) for c in chunks)

    def pipelined(self, chunks: Iterator[list[bulk.Prepared]]) -> bool:
        """As `in_turn`, but chunks are written by `WRITERS` other threads (each with its own
        connection, chunk N by writer N % WRITERS) while the next chunk is planned here, so
        the database works on up to `WRITERS` chunks at once. A chunk that shares a key (email,
        domain, name) or a matched record with a chunk being written waits for every chunk
        being written and is planned afterwards, so every plan sees what the chunks before it
        stored, as in turn. Progress is saved in file order; after a cancel the chunks already
        being written finish (and are counted). PostgreSQL, unscoped actors."""
        writers = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-write-{i}")
            for i in range(max(1, WRITERS))
        ]
        running: deque[tuple[Future[_Outcome], int, set[str], set[str]]] = deque()
        cancelled = False

        def finish_oldest() -> None:
            nonlocal cancelled
            future, size, _keys, _matched = running.popleft()
            cancelled = self.done(size, future.result()) or cancelled

        def finish_all() -> None:
            while running:
                finish_oldest()

        try:
            for number, chunk in enumerate(chunks):
                keys = bulk.chunk_keys(chunk)
                if any(keys & r[2] for r in running):
                    finish_all()
                if cancelled:
                    break
                plan = self.plan(chunk)
                matched = plan.matched if plan is not None else set()
                if running and (plan is None or any(matched & r[3] for r in running)):
                    finish_all()
                    if cancelled:
                        break
                    plan = self.plan(chunk)
                    matched = plan.matched if plan is not None else set()
                while len(running) >= len(writers):
                    finish_oldest()
                if cancelled:
                    break
                future = writers[number % len(writers)].submit(self.write, chunk, plan)
                running.append((future, len(chunk), keys, matched))
            finish_all()
            return cancelled
        finally:
            for future, *_rest in running:
                future.result()
            for writer in writers:
                writer.submit(lambda: connection.close()).result()  # the writer's own
                writer.shutdown()


def _rows_one_by_one(
    actor: User, job: ImportJob, chunk: list[tuple[int, dict[str, str]]], outcome: _Outcome
) -> None:
    """The row-by-row path: each row through the crm services in its own savepoint."""
    for number, values in chunk:
        try:
            with transaction.atomic():
                _import_one(actor, job, number, values, outcome)
        except InvalidInput as exc:
            for name, messages in exc.errors.items():
                outcome.errors.extend([number, name, m] for m in messages)
        except DatabaseError:
            outcome.errors.append([number, "__all__", _("The database refused this row.")])


def _import_one(
    actor: User, job: ImportJob, number: int, values: dict[str, str], outcome: _Outcome
) -> None:
    if job.kind == ImportKind.ACCOUNTS:
        account, action = _account_for(actor, job, number, values, required=True)
        if action == ImportRow.Action.CREATED:
            outcome.created += 1
        elif action == ImportRow.Action.UPDATED:
            outcome.updated += 1
        return
    data = _contact_data(values)
    if "owner" in values:
        data["owner_id"] = _owner_id(values["owner"])
    if "account_name" in values or "website" in values:
        account, _action = _account_for(actor, job, number, values, required=False)
        if account is not None:
            data["account_id"] = account.pk
    existing = crm.contact_duplicates_of(email=data["email"]) if data.get("email") else []
    if not existing:
        contact = crm.contact_create(actor=Actor(user=actor), **data)
        ImportRow.objects.create(
            job=job, row_number=number, model="contact", object_id=contact.pk, action="created"
        )
        outcome.created += 1
        return
    found = scoped(actor, Contact, "change").filter(pk=existing[0]).first()
    if found is None:
        message = _("A contact with this email exists; you may not change it.")
        raise InvalidInput({"email": [message]})
    contact = found
    custom = data.pop("custom", None) or {}
    changed = {k: v for k, v in data.items() if getattr(contact, k) != v}
    if any(contact.custom.get(k) != v for k, v in custom.items()):
        changed["custom"] = {**contact.custom, **custom}
    if not changed:
        return
    before = {k: getattr(contact, k) for k in changed}
    stage = changed.pop("lifecycle_stage", None)
    if stage is not None:
        bulk.check_stage(stage)
    if changed:
        crm.contact_update(actor=Actor(user=actor), contact=contact, **changed)
    if stage is not None:
        bulk.stage_import(Actor(user=actor), job, contact, stage)
    ImportRow.objects.create(
        job=job,
        row_number=number,
        model="contact",
        object_id=contact.pk,
        action="updated",
        before=before,
    )
    outcome.updated += 1


def stage_labels() -> dict[str, str]:
    """Lifecycle stage labels (in the active language), lower-cased -> stage."""
    return {str(label).lower(): str(value) for value, label in LifecycleStage.choices}


def _contact_data(values: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A row's contact fields; HubSpot's "Other" lifecycle stage states no stage (a new contact
    starts as a lead, an existing one keeps its stage); `custom.<key>` values become `custom`."""
    data: dict[str, Any] = {k: values[k] for k in _CONTACT_FIELDS if k in values}
    if "email" in data:
        data["email"] = data["email"].lower()
    if "lifecycle_stage" in data:
        raw = " ".join(data["lifecycle_stage"].lower().split())
        stage = _STAGES.get(raw, raw)
        labels = stage_labels() if labels is None else labels
        data["lifecycle_stage"] = str(labels.get(stage, stage))
        if stage in _NO_STAGE:
            del data["lifecycle_stage"]
    custom = {k.removeprefix(CUSTOM): v for k, v in values.items() if k.startswith(CUSTOM)}
    if custom:
        data["custom"] = custom
    return data


def _owner_id(value: str) -> int:
    """The active user a file's owner cell names: by email, user name or full name (HubSpot
    and Salesforce export owners as "First Last"); a name two users share is refused."""
    user = (
        User.objects.filter(is_active=True)
        .filter(Q(email__iexact=value) | Q(username__iexact=value))
        .order_by("pk")
        .first()
    )
    if user is not None:
        return user.pk
    name = " ".join(value.split())
    first, _space, last = name.partition(" ")
    named = (
        list(
            User.objects.filter(is_active=True)
            .annotate(full_name=Concat("first_name", Value(" "), "last_name"))
            .filter(full_name__iexact=name)
            .values_list("pk", flat=True)[:2]
        )
        if first and last
        else []
    )
    if len(named) == 1:
        return int(named[0])
    if len(named) > 1:
        raise InvalidInput(
            {"owner": [_("Several active Tandem users have this name; use their email.")]}
        )
    raise InvalidInput(
        {"owner": [_("No active Tandem user has this email, username or full name.")]}
    )


def _domain(website: str) -> str:
    host = website.strip().lower().removeprefix("http://").removeprefix("https://")
    host = host.split("/", 1)[0].split("?", 1)[0]
    try:
        return clean_domain(host)
    except ValueError as exc:
        raise InvalidInput({"website": [str(exc)]}) from exc


def _industry(value: str) -> str:
    raw = value.strip().lower()
    for choice, label in Industry.choices:
        if raw in (choice, str(label).lower()):
            return str(choice)
    return str(Industry.OTHER)


def _account_for(
    actor: User, job: ImportJob, number: int, values: dict[str, str], *, required: bool
) -> tuple[Account | None, str]:
    """The account a row names: found by website domain (or exact name), else created."""
    domain = _domain(values["website"]) if values.get("website") else ""
    name = values.get("account_name", "") or domain
    if not name:
        if required:
            raise InvalidInput({"account_name": [_("An account needs a name or a website.")]})
        return None, ""
    visible = scoped(actor, Account)
    account = (
        visible.filter(domain_rows__domain=domain).order_by("pk").first()
        if domain
        else visible.filter(name__iexact=name).order_by("pk").first()
    )
    extra: dict[str, Any] = {}
    if values.get("industry"):
        extra["industry"] = _industry(values["industry"])
    if values.get("city"):
        extra["region"] = values["city"][:100]
    if job.kind == ImportKind.ACCOUNTS and values.get("owner"):
        extra["owner_id"] = _owner_id(values["owner"])
    if account is None:
        account = crm.account_create(
            actor=Actor(user=actor), name=name, domains=[domain] if domain else [], **extra
        )
        ImportRow.objects.create(
            job=job, row_number=number, model="account", object_id=account.pk, action="created"
        )
        return account, ImportRow.Action.CREATED
    if job.kind != ImportKind.ACCOUNTS:
        return account, ""
    changed = {k: v for k, v in extra.items() if getattr(account, k) != v}
    if not changed:
        return account, ""
    if not scoped(actor, Account, "change").filter(pk=account.pk).exists():
        raise InvalidInput({"account_name": [_("This account exists; you may not change it.")]})
    before = {k: getattr(account, k) for k in changed}
    crm.account_update(actor=Actor(user=actor), account=account, **changed)
    ImportRow.objects.create(
        job=job,
        row_number=number,
        model="account",
        object_id=account.pk,
        action="updated",
        before=before,
    )
    return account, ImportRow.Action.UPDATED


# --- undo ------------------------------------------------------------------------------------


@transaction.atomic
def import_undo(*, actor: User, job: ImportJob) -> ImportJob:
    """Delete what the import created and restore the fields it changed, newest row first."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    undoable = (ImportStatus.DONE, ImportStatus.CANCELLED, ImportStatus.INTERRUPTED)
    if job.status not in undoable or job.dry_run:
        raise InvalidInput({"__all__": [_("Only a finished import can be undone.")]})
    who = Actor(user=actor)
    for row in job.rows.order_by("-row_number", "-pk"):
        if row.model == "contact":
            contact = Contact.objects.filter(pk=row.object_id).first()
            if contact is None:
                continue
            if row.action == ImportRow.Action.CREATED:
                crm.contact_delete(actor=who, contact=contact)
                continue
            before = dict(row.before)
            stage = before.pop("lifecycle_stage", None)
            if before:
                crm.contact_update(actor=who, contact=contact, **before)
            if stage is not None:
                bulk.stage_import(who, job, contact, stage, undo=True)
        else:
            account = Account.objects.filter(pk=row.object_id).first()
            if account is None:
                continue
            if row.action == ImportRow.Action.CREATED:
                crm.account_delete(actor=who, account=account)
            else:
                crm.account_update(actor=who, account=account, **row.before)
    job.chunks.all().delete()
    job.status = ImportStatus.UNDONE
    job.save(update_fields=["status"])
    return job
