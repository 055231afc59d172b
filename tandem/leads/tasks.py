"""Background work of the leads app (Django Tasks API). Thin: ids in, a service call, a count out.

- `score_group`: recompute a score group set-based, then hand over contacts that reached the MQL
  threshold. Idempotent: scores are upserted; an open hand-off is never duplicated.
- `retrain_predictive`: train a new calibrated model for a group; where one was switched on, it
  replaces it and the group is rescored. Running it twice leaves one current model trained on
  the same history.
- `scoring_job_run`: a rescoring or training started from the scoring page or API, with its
  progress saved on the `ScoringJob` row (claimed with a conditional UPDATE: runs once).
- `score_all_groups`: the periodic rescore, one `score_group` per group;
  `retrain_all_predictive`: the periodic (daily) retraining, one `retrain_predictive` per group.
- `handoff_check_sla`: the periodic SLA check (run every few minutes, e.g. from cron with
  `manage.py leads_check_sla`, or enqueued). Safe in parallel: rows are claimed with a
  conditional UPDATE.
Enqueue with `tandem.core.tasks.enqueue_on_commit`, never inside an open transaction.
"""

from __future__ import annotations

from django_tasks import task

from tandem.leads import services
from tandem.leads.scoring import jobs, predictive, score_contacts


@task()
def score_group(scoring_model_id: int, contact_ids: list[int] | None = None) -> int:
    score_contacts(scoring_model_id=scoring_model_id, contact_ids=contact_ids)
    return services.mql_promote_due(scoring_model_id=scoring_model_id)


@task()
def retrain_predictive(scoring_model_id: int) -> int:
    """Refresh the group's predictive model on the newest history. Where a model has been
    switched on, the new one replaces it and the group is rescored; elsewhere it is stored as a
    candidate for review (nothing is switched on without a person)."""
    from tandem.leads.models import PredictiveModel

    switched_on = PredictiveModel.objects.filter(
        scoring_model_id=scoring_model_id, is_current=True
    ).exists()
    model = predictive.train(scoring_model_id=scoring_model_id, make_current=switched_on)
    if switched_on:
        score_contacts(scoring_model_id=scoring_model_id)
    return model.pk


@task()
def scoring_job_run(job_id: int) -> str:
    """Run scoring job `job_id` (a rescoring or a training, see `tandem.leads.scoring.jobs`);
    idempotent: a job already claimed or finished is left as it is."""
    return jobs.scoring_job_run(job_id)


@task()
def score_all_groups() -> int:
    """The periodic rescore (settings.PERIODIC_TASKS): enqueue `score_group` for every group, so
    new touchpoints raise engagement scores and MQLs reach sales without anyone asking."""
    from tandem.leads.models import ScoringModel

    ids = list(ScoringModel.objects.filter(is_active=True).values_list("pk", flat=True))
    for scoring_model_id in ids:
        score_group.enqueue(scoring_model_id)
    return len(ids)


@task()
def retrain_all_predictive() -> int:
    """The periodic retraining (settings.PERIODIC_TASKS): one `retrain_predictive` per active
    group, so the predictive score follows the newest conversions."""
    from tandem.leads.models import ScoringModel

    ids = list(ScoringModel.objects.filter(is_active=True).values_list("pk", flat=True))
    for scoring_model_id in ids:
        retrain_predictive.enqueue(scoring_model_id)
    return len(ids)


@task()
def handoff_check_sla() -> int:
    return services.handoff_check_sla()
