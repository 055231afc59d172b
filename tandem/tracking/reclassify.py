"""Reclassification of past touchpoints when the channel rules change, with recorded progress.

A run (`ReclassifyRun`) is started by `services.reclassify_start` (publishing rules does it) and
executed by `run_reclassification`, in a worker or in the `tandem reclassify --start` process.

Invariants:
- only touchpoints that carry channel inputs (`properties["ci"]`, written at ingestion) are
  touched; the result depends only on the inputs and the rules, so running it twice (or again
  after a cancel or a crash) is harmless; rows are visited in primary-key chunks (`CHUNK`) and
  only changed rows are written (`crm.services.touchpoints_channel_update`), one transaction per
  chunk;
- one caller executes a run: it is claimed with one conditional UPDATE (queued -> running);
- between chunks the run's progress (processed, changed, heartbeat) is saved and its cancel flag
  read: a cancelled run stops after its current chunk, keeping what it wrote;
- a newer rule version supersedes an older run: every chunk is written under the
  "channel-rules" lock (the one publishing takes) and only while its version is still the
  latest, so an older run never overwrites what a newer one decided; it then stops as
  "superseded";
- an exception marks the run failed (with its message) and propagates; Ctrl-C in the CLI marks
  it cancelled;
- interrupted work: a chunk's progress (processed, changed and the last touchpoint id visited)
  is written in the chunk's own transaction, and a thread beats `updated_at` while a run goes.
  A running run whose heartbeat is older than TASKS_WORKER_STALE_SECONDS lost its process (a
  worker killed with SIGKILL): the task run again after that worker was released takes it over
  with one conditional UPDATE and continues after its last chunk; when the task gives up for good
  the run is failed with the reason (`run_interrupted`), and a new run can be started;
- `preview` decides each touchpoint with the same function a run writes with (`reclassified`)
  and writes nothing: over the same touchpoints its count of changes is what a run changes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tandem.core.interrupted_work import beating
from tandem.core.task_health import stale_after
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.tracking.channels import (
    ChannelInputs,
    CompiledRule,
    classify,
    load_rules,
)
from tandem.tracking.models import ChannelRuleSet, ReclassifyRun

CHUNK = 2000
S = ReclassifyRun.Status


def chunk_size() -> int:
    """Touchpoints per chunk: the setting or environment variable RECLASSIFY_CHUNK_ROWS, else
    `CHUNK`."""
    value = getattr(settings, "RECLASSIFY_CHUNK_ROWS", None) or os.environ.get(
        "RECLASSIFY_CHUNK_ROWS"
    )
    try:
        return max(1, int(value or CHUNK))
    except ValueError:
        return CHUNK


class _Superseded(Exception):
    """Raised inside a chunk's transaction to roll it back: newer rules were published."""


def latest_version() -> int:
    """The version of the rules in force (0: the defaults, nothing published)."""
    return int(ChannelRuleSet.objects.aggregate(v=Max("version"))["v"] or 0)


def reclassify_all(version: int) -> int:
    """Start and execute a run for `version` here; the number of touchpoints changed (0 when a
    newer version exists, or a run for this version is already under way)."""
    from tandem.core.audit import Actor
    from tandem.core.errors import InvalidInput
    from tandem.tracking.services import reclassify_start

    if latest_version() != version:
        return 0
    try:
        run = reclassify_start(actor=Actor.system(), background=False)
    except InvalidInput:
        return 0
    return run_reclassification(run.pk).changed


def _finish(run: ReclassifyRun, status: str, error: str = "") -> ReclassifyRun:
    now = timezone.now()
    ReclassifyRun.objects.filter(pk=run.pk, status__in=ReclassifyRun.ACTIVE).update(
        status=status, finished_at=now, updated_at=now, error=error[:500]
    )
    run.refresh_from_db()
    return run


def _lock_rules() -> None:
    from tandem.tracking.services import _lock

    _lock("channel-rules")


def _write_chunk(
    version: int, updates: list[tuple[int, str, str]], run_id: int, progress: dict[str, int]
) -> None:
    """Write one chunk's changes and the run's progress after it, but only while `version` is
    still the latest (else roll back and raise `_Superseded`). The check follows the write so
    that, on SQLite too, no publish can commit between them."""
    with transaction.atomic():
        _lock_rules()
        if updates:
            crm.touchpoints_channel_update(changes=updates)
        if latest_version() != version:
            raise _Superseded
        ReclassifyRun.objects.filter(pk=run_id).update(**progress, updated_at=timezone.now())


def run_reclassification(
    run_id: int, *, progress: Callable[[ReclassifyRun], None] | None = None
) -> ReclassifyRun:
    """Execute a queued run to its end (done, cancelled, superseded or failed) and return it;
    a run that is not queued (someone else has it, or it was cancelled) is returned as it is.
    `progress(run)` is called after each chunk."""
    now = timezone.now()
    claimed = ReclassifyRun.objects.filter(pk=run_id, status=S.QUEUED).update(
        status=S.RUNNING, started_at=now, updated_at=now
    ) or ReclassifyRun.objects.filter(  # the run of a process that died: taken over
        pk=run_id, status=S.RUNNING, updated_at__lt=now - stale_after()
    ).update(updated_at=now)
    run = ReclassifyRun.objects.get(pk=run_id)
    if not claimed:
        return run

    def beat() -> None:
        ReclassifyRun.objects.filter(pk=run_id, status=S.RUNNING).update(updated_at=timezone.now())

    every = max(0.5, min(5.0, stale_after().total_seconds() / 4))
    try:
        with beating(beat, every):
            return _execute(run, progress)
    except KeyboardInterrupt:
        _finish(run, S.CANCELLED, "interrupted")
        raise
    except Exception as exc:
        _finish(run, S.FAILED, f"{type(exc).__name__}: {exc}")
        raise


def reclassified(
    channel: str, department: str, properties: dict[str, Any], rules: list[CompiledRule]
) -> tuple[str, str] | None:
    """The (channel, department) a stored touchpoint gets under `rules`, or None when it keeps
    its own: what a run writes and what a preview counts."""
    new_channel, new_department = classify(ChannelInputs.from_dict(properties["ci"]), rules)
    if properties.get("department_override"):
        new_department = properties["department_override"]
    if (new_channel, new_department) == (channel, department):
        return None
    return new_channel, new_department


PREVIEW_DAYS = 30
PREVIEW_LIMIT = 5000


@dataclass(frozen=True)
class Move:
    from_channel: str
    from_department: str
    to_channel: str
    to_department: str
    count: int


@dataclass(frozen=True)
class Preview:
    """What `rules` would change among recent touchpoints; nothing is written."""

    checked: int
    changed: int
    since: dt.datetime
    limit: int
    moves: list[Move]  # largest first

    @property
    def sampled(self) -> bool:
        """True when more recent touchpoints exist than were checked."""
        return self.checked >= self.limit


def preview(
    rules: list[CompiledRule],
    *,
    days: int = PREVIEW_DAYS,
    limit: int = PREVIEW_LIMIT,
    now: dt.datetime | None = None,
) -> Preview:
    """Classify the touchpoints of the last `days` days that carry channel inputs (the newest
    `limit` of them) under `rules`, the way a run would, and count the moves from -> to."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        Touchpoint.objects.filter(properties__has_key="ci", occurred_at__gte=since)
        .order_by("-pk")
        .values_list("channel", "department", "properties")[:limit]
    )
    checked = 0
    moves: Counter[tuple[str, str, str, str]] = Counter()
    for channel, department, props in rows.iterator(chunk_size=CHUNK):
        checked += 1
        new = reclassified(channel, department, props, rules)
        if new is not None:
            moves[(channel, department, *new)] += 1
    return Preview(
        checked=checked,
        changed=sum(moves.values()),
        since=since,
        limit=limit,
        moves=[Move(*key, count) for key, count in moves.most_common()],
    )


def _execute(run: ReclassifyRun, progress: Callable[[ReclassifyRun], None] | None) -> ReclassifyRun:
    if latest_version() != run.version:
        return _finish(run, S.SUPERSEDED)
    with_inputs = Touchpoint.objects.filter(properties__has_key="ci")
    total = max(with_inputs.count(), run.processed)
    ReclassifyRun.objects.filter(pk=run.pk).update(total=total)
    rules = load_rules(run.version)
    processed, changed, last_id = run.processed, run.changed, run.last_id  # 0 unless taken over
    size = chunk_size()
    while True:
        run.refresh_from_db(fields=["cancel_requested"])
        if run.cancel_requested:
            return _finish(run, S.CANCELLED)
        chunk = list(
            with_inputs.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "channel", "department", "properties")[:size]
        )
        if not chunk:
            return _finish(run, S.DONE)
        last_id = chunk[-1][0]
        updates = []
        for pk, channel, department, props in chunk:
            new = reclassified(channel, department, props, rules)
            if new is not None:
                updates.append((pk, *new))
        processed += len(chunk)
        changed += len(updates)
        total = max(total, processed)  # touchpoints ingested meanwhile are visited too
        done = {"processed": processed, "changed": changed, "total": total, "last_id": last_id}
        try:
            _write_chunk(run.version, updates, run.pk, done)
        except _Superseded:
            return _finish(run, S.SUPERSEDED)
        if progress is not None:
            run.refresh_from_db()
            progress(run)


def run_interrupted(*, run_id: int, reason: str) -> bool:
    """The task of a running run gave up for good: the run is failed with `reason` (a new run
    can be started); True if it was running."""
    return bool(
        ReclassifyRun.objects.filter(pk=run_id, status=S.RUNNING).update(
            status=S.FAILED,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
            error=f"interrupted: {reason}"[:500],
        )
    )
