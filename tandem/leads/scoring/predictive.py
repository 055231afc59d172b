"""The predictive score: a calibrated logistic regression on past conversions (scikit-learn).

Training:
- a contact converted when it first reached SQL, opportunity or customer; its features are
  computed as of that moment (nothing after it is seen), others' as of now;
- time-based split: contacts ordered by creation; the oldest 75 % train, the newest 25 % test;
- features are standardised on the training set; `CalibratedClassifierCV(LogisticRegression,
  method="sigmoid", cv=3)` calibrates the probabilities; the AUC is measured on the test set;
- the stored model is numbers only (see `PredictiveModel`), so scoring evaluates it in SQL;
- with it are stored the test AUC, a calibration table (mean predicted probability against the
  observed conversion rate per decile of the test set's predictions) and the distribution of
  the probabilities today's contacts would get, for review before it is switched on.

Invariants: at most one current model per score group; a failed training leaves the current
model in place; a model trained from the page is current only after `predictive_switch_on`;
at most `KEEP_CANDIDATES` models not in use are kept per group (the newest);
the calibration table's counts add up to the test rows and its positives to the test set's
conversions; `explain` gives the features that push a contact's probability most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import PredictiveModel, ScoringJob, ScoringModel
from tandem.leads.scoring.sql import FEATURES, INDUSTRIES, build_base, dialect

CONVERTED = [LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER]
MIN_CLASS_SIZE = 10
KEEP_CANDIDATES = 10  # trained models waiting for review kept per group (the newest)
TEST_SHARE = 0.25

FEATURE_LABELS = {
    "fit": gettext_lazy("Fits the customer profile"),
    "engagement": gettext_lazy("Recent engagement"),
    "recent_touchpoints": gettext_lazy("Touchpoints in the last 90 days"),
    "days_since_last_touch": gettext_lazy("Days since the last touchpoint"),
    "has_account": gettext_lazy("Belongs to an account"),
    "industry_agriculture": gettext_lazy("Agriculture"),
    "industry_medical": gettext_lazy("Medical"),
    "industry_electronics": gettext_lazy("Electronics"),
}


def features(rows: np.ndarray[Any, Any], industries: list[str]) -> np.ndarray[Any, Any]:
    """The model's features from base columns (fit, eng, n90, recency, has_account), as in SQL."""
    fit, eng, n90, recency, has_account = (rows[:, i].astype(float) for i in range(5))
    industry = np.array(industries, dtype=object)
    columns = [fit, eng, np.log1p(n90), np.minimum(recency, 365.0), has_account]
    columns += [(industry == name).astype(float) for name in INDUSTRIES]
    return np.column_stack(columns)


def _aware(value: Any) -> dt.datetime:
    """A timestamp from raw SQL: SQLite gives naive UTC (or text), PostgreSQL aware values."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _now_db(now: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(now)


def _training_rows(model: ScoringModel, now: dt.datetime) -> tuple[Any, Any, Any, list[str]]:
    sql, params = build_base(
        model,
        _now_db(now),
        training=True,
        converted_stages=[str(s) for s in CONVERTED],
        now=now,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        dialect().tune(cursor)
        cursor.execute(
            f"SELECT b.created_at, b.label, b.fit, b.eng, b.n90, b.recency, b.has_account, "
            f"b.industry FROM ({sql}) b ORDER BY b.created_at, b.id",
            params,
        )
        rows = cursor.fetchall()
    if not rows:
        return np.empty((0, 8)), np.empty(0), [], []
    created = [_aware(r[0]) for r in rows]
    labels = np.array([int(r[1]) for r in rows])
    base = np.array([[r[2], r[3], r[4], r[5], r[6]] for r in rows], dtype=float)
    return features(base, [r[7] for r in rows]), labels, created, [r[7] for r in rows]


def _fit(x: Any, y: Any) -> tuple[CalibratedClassifierCV, Any, Any]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    classifier = CalibratedClassifierCV(LogisticRegression(max_iter=1000), method="sigmoid", cv=3)
    classifier.fit((x - mean) / scale, y)
    return classifier, mean, scale


def params_of(classifier: CalibratedClassifierCV, mean: Any, scale: Any) -> dict[str, Any]:
    folds = []
    for calibrated in classifier.calibrated_classifiers_:
        lr = calibrated.estimator
        sigmoid = calibrated.calibrators[0]
        folds.append(
            {
                "coef": [float(v) for v in lr.coef_[0]],
                "intercept": float(lr.intercept_[0]),
                "a": float(sigmoid.a_),
                "b": float(sigmoid.b_),
            }
        )
    return {
        "features": FEATURES,
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "folds": folds,
    }


def probability(params: dict[str, Any], x: Any) -> Any:
    """The calibrated probability from stored numbers (what the SQL computes)."""
    z = (np.asarray(x, dtype=float) - np.array(params["mean"])) / np.array(params["scale"])
    total = np.zeros(z.shape[0])
    for fold in params["folds"]:
        logit = fold["a"] * (z @ np.array(fold["coef"]) + fold["intercept"]) + fold["b"]
        total += 1.0 / (1.0 + np.exp(np.clip(logit, -50, 50)))
    return total / len(params["folds"])


Progress = Callable[[int, str], None]


def _no_progress(percent: int, stage: str) -> None:
    return None


def calibration_table(predicted: Any, observed: Any, groups: int = 10) -> list[dict[str, Any]]:
    """Predicted against observed per decile of the predictions (fewer groups for fewer rows):
    the counts add up to the rows and the positives to the observed conversions."""
    order = np.argsort(np.asarray(predicted, dtype=float), kind="stable")
    table = []
    for part in np.array_split(order, min(groups, len(order))):
        if len(part) == 0:
            continue
        p, y = np.asarray(predicted, dtype=float)[part], np.asarray(observed, dtype=float)[part]
        table.append(
            {
                "predicted": float(p.mean()),
                "observed": float(y.mean()),
                "count": len(part),
                "positives": int(y.sum()),
            }
        )
    return table


def distribution(
    values: Any, *, bins: int = 10, low: float | None = None, high: float | None = None
) -> dict[str, Any]:
    """A histogram of `values`: {"contacts", "mean", "bins": [{"low", "high", "count"}]}; the
    counts add up to the number of values (the last bin includes its upper edge)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"contacts": 0, "mean": None, "bins": []}
    lo = float(array.min()) if low is None else low
    hi = float(array.max()) if high is None else high
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(array, bins=bins, range=(lo, hi))
    return {
        "contacts": int(array.size),
        "mean": float(array.mean()),
        "bins": [
            {"low": float(edges[i]), "high": float(edges[i + 1]), "count": int(counts[i])}
            for i in range(len(counts))
        ],
    }


def _current_features(model: ScoringModel, now: dt.datetime) -> Any:
    sql, params = build_base(model, _now_db(now), now=now)
    with transaction.atomic(), connection.cursor() as cursor:
        dialect().tune(cursor)
        cursor.execute(
            f"SELECT b.fit, b.eng, b.n90, b.recency, b.has_account, b.industry FROM ({sql}) b",
            params,
        )
        rows = cursor.fetchall()
    if not rows:
        return np.empty((0, len(FEATURES)))
    return features(np.array([r[:5] for r in rows], dtype=float), [r[5] for r in rows])


def train(
    *,
    scoring_model_id: int,
    now: dt.datetime | None = None,
    make_current: bool = True,
    progress: Progress = _no_progress,
) -> PredictiveModel:
    """Train and test a new model for the group and store it with its AUC, calibration table and
    the distribution of the probabilities it would give today's contacts; it becomes the current
    model when `make_current` (else it waits for `predictive_switch_on`). Raises InvalidInput
    when there is too little history (fewer than 10 conversions or non-conversions to learn
    from). `progress(percent, stage)` is told as each stage begins."""
    model = ScoringModel.objects.get(pk=scoring_model_id)
    now = now or timezone.now()
    progress(5, "history")
    x, y, created, _industries = _training_rows(model, now)
    n = len(y)
    split = round(n * (1 - TEST_SHARE))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    positives = int(y_train.sum())
    if positives < MIN_CLASS_SIZE or len(y_train) - positives < MIN_CLASS_SIZE:
        raise InvalidInput(
            _(
                "Too little history to learn from: %(pos)d conversions and %(neg)d others in the "
                "training period; at least %(min)d of each are needed."
            )
            % {"pos": positives, "neg": len(y_train) - positives, "min": MIN_CLASS_SIZE},
            code="too_little_history",
        )
    progress(30, "fitting")
    classifier, mean, scale = _fit(x_train, y_train)
    params = params_of(classifier, mean, scale)
    progress(60, "testing")
    auc = None
    calibration: list[dict[str, Any]] = []
    if len(y_test):
        predicted = probability(params, x_test)
        calibration = calibration_table(predicted, y_test)
        if len(set(y_test.tolist())) == 2:
            auc = float(roc_auc_score(y_test, predicted))
    progress(80, "distribution")
    today = distribution(probability(params, _current_features(model, now)), low=0.0, high=1.0)
    with transaction.atomic():
        if make_current:
            PredictiveModel.objects.filter(scoring_model=model, is_current=True).update(
                is_current=False
            )
        candidates_prune(scoring_model_id=model.pk, keep=KEEP_CANDIDATES - 1)
        return PredictiveModel.objects.create(
            scoring_model=model,
            trained_at=now,
            auc=auc,
            n_train=len(y_train),
            n_test=len(y_test),
            positives=int(y.sum()),
            params=params,
            calibration=calibration,
            distribution=today,
            is_current=make_current,
            split_at=created[split] if split < n else None,
        )


def candidates_prune(*, scoring_model_id: int, keep: int = KEEP_CANDIDATES) -> int:
    """Delete the group's trained models that are not in use, but the `keep` newest (the daily
    retraining of a group never switched on would otherwise add one a day); returns how many."""
    waiting = PredictiveModel.objects.filter(scoring_model_id=scoring_model_id, is_current=False)
    kept = waiting.order_by("-trained_at", "-id").values_list("pk", flat=True)[:keep]
    deleted, _by_model = waiting.exclude(pk__in=list(kept)).delete()
    return deleted


@transaction.atomic
def predictive_switch_on(*, actor: Actor, predictive_model: PredictiveModel) -> PredictiveModel:
    """Make a reviewed model the group's current one (the previous one stops being current);
    the group's probabilities are recomputed in the background."""
    from tandem.leads.scoring import _check_head
    from tandem.leads.scoring.jobs import scoring_job_start

    _check_head(actor)
    chosen = PredictiveModel.objects.select_for_update().get(pk=predictive_model.pk)
    if not chosen.is_current:
        PredictiveModel.objects.filter(
            scoring_model_id=chosen.scoring_model_id, is_current=True
        ).update(is_current=False)
        chosen.is_current = True
        chosen.save(update_fields=["is_current"])
        record_change(
            actor=actor, action="update", instance=chosen, changes={"is_current": [False, True]}
        )
        scoring_job_start(
            actor=actor, scoring_model=chosen.scoring_model, kind=ScoringJob.Kind.RESCORE
        )
    return chosen


@transaction.atomic
def predictive_switch_off(*, actor: Actor, scoring_model: ScoringModel) -> int:
    """Stop using the predictive score for the group (probabilities become empty at the
    background rescoring); returns 1 when a model was current, else 0."""
    from tandem.leads.scoring import _check_head
    from tandem.leads.scoring.jobs import scoring_job_start

    _check_head(actor)
    current = PredictiveModel.objects.filter(scoring_model=scoring_model, is_current=True).first()
    if current is None:
        return 0
    PredictiveModel.objects.filter(pk=current.pk).update(is_current=False)
    record_change(
        actor=actor, action="update", instance=current, changes={"is_current": [True, False]}
    )
    scoring_job_start(actor=actor, scoring_model=scoring_model, kind=ScoringJob.Kind.RESCORE)
    return 1


def explain(
    contact: Contact, scoring_model: ScoringModel, top: int = 3, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The features that move this contact's probability most: coefficient * scaled value,
    averaged over calibration folds, signed so that positive means "more likely"."""
    current = PredictiveModel.objects.filter(scoring_model=scoring_model, is_current=True).first()
    if current is None:
        return []
    params = current.params
    now = now or timezone.now()
    sql, sql_params = build_base(scoring_model, _now_db(now), contact_ids=[contact.pk], now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.fit, b.eng, b.n90, b.recency, b.has_account, b.industry FROM ({sql}) b",
            sql_params,
        )
        row = cursor.fetchone()
    if row is None:
        return []
    x = features(np.array([row[:5]], dtype=float), [row[5]])[0]
    z = (x - np.array(params["mean"])) / np.array(params["scale"])
    coef = np.mean([f["coef"] for f in params["folds"]], axis=0)
    direction = -np.sign(np.mean([f["a"] for f in params["folds"]])) or 1.0
    contributions = direction * coef * z
    order = np.argsort(-np.abs(contributions))[:top]
    return [
        {
            "feature": params["features"][i],
            "label": str(FEATURE_LABELS.get(params["features"][i], params["features"][i])),
            "value": float(x[i]),
            "effect": float(contributions[i]),
        }
        for i in order
        if abs(contributions[i]) > 1e-9
    ]
