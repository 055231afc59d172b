"""The predictive score: a calibrated logistic regression on past conversions (scikit-learn).

Training:
- a contact converted when it first reached SQL, opportunity or customer; its features are
  computed as of that moment (nothing after it is seen), others' as of now;
- time-based split: contacts ordered by creation; the oldest 75 % train, the newest 25 % test;
- features are standardised on the training set; `CalibratedClassifierCV(LogisticRegression,
  method="sigmoid", cv=3)` calibrates the probabilities; the AUC is measured on the test set;
- the stored model is numbers only (see `PredictiveModel`), so scoring evaluates it in SQL.

Invariants: at most one current model per score group; a failed training leaves the current
model in place; `explain` gives the features that push a contact's probability most.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads.models import PredictiveModel, ScoringModel
from tandem.leads.scoring.sql import FEATURES, INDUSTRIES, build_base, dialect

CONVERTED = [LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER]
MIN_CLASS_SIZE = 10
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
        model, _now_db(now), training=True, converted_stages=[str(s) for s in CONVERTED]
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


def train(*, scoring_model_id: int, now: dt.datetime | None = None) -> PredictiveModel:
    """Train, test and store a new current model for the group. Raises InvalidInput when there
    is too little history (fewer than 10 conversions or non-conversions to learn from)."""
    model = ScoringModel.objects.get(pk=scoring_model_id)
    now = now or timezone.now()
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
    classifier, mean, scale = _fit(x_train, y_train)
    params = params_of(classifier, mean, scale)
    auc = None
    if len(set(y_test.tolist())) == 2:
        auc = float(roc_auc_score(y_test, probability(params, x_test)))
    with transaction.atomic():
        PredictiveModel.objects.filter(scoring_model=model, is_current=True).update(
            is_current=False
        )
        return PredictiveModel.objects.create(
            scoring_model=model,
            trained_at=now,
            auc=auc,
            n_train=len(y_train),
            n_test=len(y_test),
            positives=int(y.sum()),
            params=params,
            is_current=True,
            split_at=created[split] if split < n else None,
        )


def explain(
    contact: Contact, scoring_model: ScoringModel, top: int = 3, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The features that move this contact's probability most: coefficient * scaled value,
    averaged over calibration folds, signed so that positive means "more likely"."""
    current = PredictiveModel.objects.filter(scoring_model=scoring_model, is_current=True).first()
    if current is None:
        return []
    params = current.params
    sql, sql_params = build_base(
        scoring_model, _now_db(now or timezone.now()), contact_ids=[contact.pk]
    )
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
