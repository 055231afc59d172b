"""Scoring jobs: a group's rescoring or predictive training, run by a worker with its progress.

`scoring_job_start` records a queued `ScoringJob` and enqueues `tasks.scoring_job_run` after
commit; pages and the API answer at once with the job's state and read it again while it runs.
`scoring_job_run` (the task's body) claims the job, does the work and stores the outcome.

Invariants:
- at most one queued or running job of each kind per group (the model's unique constraint):
  starting one while another is active returns the active one, also when two requests race;
- a job is claimed with a conditional UPDATE (queued -> running), so a task delivered twice
  runs it once; a job found running without a heartbeat for `STALE` is failed, and may be
  started anew;
- a training job never changes the current predictive model: it stores a candidate
  (`PredictiveModel.is_current=False`) to be reviewed and switched on;
- a failed job keeps the reason (in the language of the person who started it) and leaves
  scores and models as they were.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.tasks import enqueue_on_commit
from tandem.leads.models import ScoringJob, ScoringModel

STALE = dt.timedelta(minutes=15)
log = logging.getLogger(__name__)

STAGE_LABELS = {
    "": gettext_lazy("Waiting for a worker"),
    "history": gettext_lazy("Reading the history"),
    "fitting": gettext_lazy("Fitting the model"),
    "testing": gettext_lazy("Testing on the newest contacts"),
    "distribution": gettext_lazy("Scoring today's contacts"),
    "scoring": gettext_lazy("Scoring every contact"),
    "handover": gettext_lazy("Handing MQLs over to sales"),
    "done": gettext_lazy("Done"),
}


def _fail_stale(scoring_model_id: int, kind: str, now: dt.datetime) -> None:
    ScoringJob.objects.filter(
        scoring_model_id=scoring_model_id,
        kind=kind,
        status=ScoringJob.Status.RUNNING,
        updated_at__lt=now - STALE,
    ).update(
        status=ScoringJob.Status.FAILED,
        finished_at=now,
        updated_at=now,
        error="interrupted: no progress for 15 minutes",
    )


def scoring_job_start(
    *, actor: Actor, scoring_model: ScoringModel, kind: str
) -> tuple[ScoringJob, bool]:
    """The group's active job of `kind`, or a new queued one (enqueued after commit); the bool
    says whether it is new. Permission is the caller's to check (`manage_scoring`)."""
    if kind not in ScoringJob.Kind.values:
        raise InvalidInput({"kind": [_("Rescoring or training.")]})
    now = timezone.now()
    with transaction.atomic():
        _fail_stale(scoring_model.pk, kind, now)
        active = ScoringJob.objects.filter(
            scoring_model=scoring_model, kind=kind, status__in=ScoringJob.ACTIVE
        ).first()
        if active is not None:
            return active, False
        try:
            with transaction.atomic():
                job = ScoringJob.objects.create(
                    scoring_model=scoring_model, kind=kind, created_by=actor.user
                )
        except IntegrityError:  # another request queued one in between
            active = ScoringJob.objects.get(
                scoring_model=scoring_model, kind=kind, status__in=ScoringJob.ACTIVE
            )
            return active, False
        record_change(actor=actor, action="create", instance=job, changes={"kind": [None, kind]})
        from tandem.leads.tasks import scoring_job_run

        enqueue_on_commit(scoring_job_run, job.pk)
    return job, True


def _stage(job_id: int, percent: int, stage: str) -> None:
    ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.RUNNING).update(
        progress=percent, stage=stage, updated_at=timezone.now()
    )


def scoring_job_run(job_id: int) -> str:
    """Run a queued job to its end; returns its status. A job that is not queued any more (run
    already, or failed as stale) is left as it is."""
    now = timezone.now()
    claimed = ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.QUEUED).update(
        status=ScoringJob.Status.RUNNING, started_at=now, updated_at=now, stage="", progress=0
    )
    job = ScoringJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return str(job.status)
    language = (job.created_by.language if job.created_by else "") or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            fields = _execute(job)
        except InvalidInput as exc:
            fields = {"status": ScoringJob.Status.FAILED, "error": exc.message[:500]}
        except Exception as exc:  # a worker must record the failure, whatever it was
            log.exception("scoring job %s failed", job_id)
            fields = {"status": ScoringJob.Status.FAILED, "error": str(exc)[:500] or "error"}
    end = timezone.now()
    ScoringJob.objects.filter(pk=job_id, status=ScoringJob.Status.RUNNING).update(
        finished_at=end, updated_at=end, **fields
    )
    return str(fields["status"])


def _execute(job: ScoringJob) -> dict[str, object]:
    from tandem.leads import services
    from tandem.leads.scoring import predictive, score_contacts

    group = job.scoring_model_id
    if job.kind == ScoringJob.Kind.TRAIN:
        trained = predictive.train(
            scoring_model_id=group,
            make_current=False,
            progress=lambda percent, stage: _stage(job.pk, percent, stage),
        )
        return {
            "status": ScoringJob.Status.DONE,
            "progress": 100,
            "stage": "done",
            "predictive_model": trained,
            "result": {"predictive_model_id": trained.pk, "auc": trained.auc},
        }
    _stage(job.pk, 5, "scoring")
    rows = score_contacts(scoring_model_id=group)
    handed = 0
    if ScoringModel.objects.filter(pk=group, is_active=True).exists():
        _stage(job.pk, 80, "handover")
        handed = services.mql_promote_due(scoring_model_id=group)
    return {
        "status": ScoringJob.Status.DONE,
        "progress": 100,
        "stage": "done",
        "result": {"scored": rows, "handed_over": handed},
    }
