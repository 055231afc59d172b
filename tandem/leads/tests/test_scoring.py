"""Scoring: rule-based fit and decaying engagement computed set-based in SQL; bots never count;
score groups per product line; the calibrated predictive model and its reasons."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.leads.lifecycle import lifecycle_move
from tandem.leads.models import ContactScore, Handoff, PredictiveModel
from tandem.leads.scoring import predictive, score_contacts, score_rule_create, scoring_model_create

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 6, 2, 12, 0, tzinfo=dt.UTC)
SYSTEM = Actor.system()


def _model(product_line: str = "", **kw: float):
    model = scoring_model_create(
        actor=SYSTEM, name=f"Model {product_line or 'default'}", product_line=product_line, **kw
    )
    rule = lambda **r: score_rule_create(actor=SYSTEM, scoring_model=model, **r)  # noqa: E731
    return model, rule


def _touch(contact, kind: str, days_ago: float, **kw: object) -> None:
    crm.touchpoint_record(
        channel=str(kw.pop("channel", "website")),
        kind=kind,
        department="marketing",
        contact=contact,
        occurred_at=NOW - dt.timedelta(days=days_ago),
        **kw,
    )


def test_fit_and_engagement_with_half_life_and_bots_excluded(make_lead):
    model, rule = _model(half_life_days=10)
    rule(kind="fit", field="account.industry", value="medical", points=20)
    rule(kind="fit", field="account.region", value="North", points=5)
    rule(kind="fit", field="contact.title", operator="contains", value="head of", points=15)
    rule(
        kind="fit",
        field="account.attribute",
        key="beds",
        operator="at_least",
        value="100",
        points=10,
    )
    rule(kind="fit", field="account.attribute", key="clinic_type", value="hospital", points=3)
    rule(kind="engagement", field="touchpoint.kind", value="form_submit", points=30)
    rule(kind="engagement", field="touchpoint.kind", value="email_click", channel="email", points=4)
    good = make_lead(region="north", industry="medical", title="Head of Procurement")
    crm.account_update(
        actor=SYSTEM,
        account=good.account,
        industry_attributes={"beds": 250, "clinic_type": "hospital"},
    )
    _touch(good, "form_submit", 10)  # 30 * 0.5
    _touch(good, "form_submit", 0)  # 30
    _touch(good, "email_click", 20, channel="email")  # 4 * 0.25
    _touch(good, "email_click", 0, channel="website")  # wrong channel: 0
    _touch(good, "form_submit", 0, is_bot=True)  # a bot: never counts
    _touch(good, "form_submit", -3)  # in the future of the scoring time
    small = make_lead(region="south", industry="medical", title="Intern")
    crm.account_update(actor=SYSTEM, account=small.account, industry_attributes={"beds": 99})
    with CaptureQueriesContext(connection) as queries:
        rows = score_contacts(scoring_model_id=model.pk, now=NOW)
    assert rows == 2
    assert [q["sql"][:30] for q in queries.captured_queries if "INSERT" in q["sql"]] == [
        "INSERT INTO leads_contactscore"
    ]
    score = ContactScore.objects.get(contact=good, scoring_model=model)
    assert score.fit == 20 + 5 + 15 + 10 + 3
    assert score.engagement == pytest.approx(15 + 30 + 1)
    assert score.total == pytest.approx(53 + 46)
    assert score.probability is None
    other = ContactScore.objects.get(contact=small, scoring_model=model)
    assert (other.fit, other.engagement) == (20, 0)


def test_rescoring_updates_in_place_and_groups_are_separate(make_lead):
    default, rule = _model(mql_threshold=40)
    rule(kind="fit", field="account.industry", value="electronics", points=50)
    tractors, rule2 = _model("tractors")
    rule2(kind="fit", field="account.industry", value="agriculture", points=70)
    lead = make_lead(industry="electronics")
    score_contacts(scoring_model_id=default.pk, now=NOW)
    score_contacts(scoring_model_id=tractors.pk, now=NOW)
    crm.account_update(actor=SYSTEM, account=lead.account, industry="agriculture")
    score_contacts(scoring_model_id=default.pk, contact_ids=[lead.pk], now=NOW)
    score_contacts(scoring_model_id=tractors.pk, contact_ids=[lead.pk], now=NOW)
    assert sorted(
        ContactScore.objects.filter(contact=lead).values_list(
            "scoring_model__product_line", "total"
        )
    ) == [("", 0.0), ("tractors", 70.0)]


def test_rules_are_validated(make_lead):
    _unused, rule = _model()
    with pytest.raises(InvalidInput) as exc:
        rule(
            kind="fit",
            field="account.attribute",
            key="",
            operator="at_least",
            value="many",
            points=5,
        )
    assert set(exc.value.errors) == {"key", "value"}
    with pytest.raises(InvalidInput) as exc:
        rule(kind="engagement", field="account.industry", value="x", points=5)
    assert set(exc.value.errors) == {"field"}
    with pytest.raises(InvalidInput):
        rule(kind="fit", field="contact.title", value="ceo", points=5000)
    with pytest.raises(InvalidInput):
        scoring_model_create(actor=SYSTEM, name="Again", product_line="")


def test_reaching_the_mql_threshold_hands_the_lead_over(make_lead, reps):
    from tandem.leads.services import mql_promote_due

    model, rule = _model(mql_threshold=50)
    rule(kind="engagement", field="touchpoint.kind", value="demo_request", points=60)
    hot, cold = make_lead(), make_lead()
    _touch(hot, "demo_request", 0)
    score_contacts(scoring_model_id=model.pk, now=NOW)
    assert mql_promote_due(scoring_model_id=model.pk) == 1
    assert mql_promote_due(scoring_model_id=model.pk) == 0  # idempotent
    handoff = Handoff.objects.get()
    assert (handoff.contact, handoff.trigger, handoff.scoring_model) == (hot, "mql", model)
    hot.refresh_from_db()
    cold.refresh_from_db()
    assert (hot.lifecycle_stage, cold.lifecycle_stage) == ("mql", "lead")


def _history(make_lead, n: int = 80):
    """Contacts created a day apart; engaged ones (form submits) convert, others mostly not."""
    model, rule = _model(half_life_days=30)
    rule(kind="engagement", field="touchpoint.kind", value="form_submit", points=10)
    rule(kind="fit", field="account.industry", value="medical", points=10)
    rng = np.random.default_rng(7)
    start = NOW - dt.timedelta(days=n + 30)
    for i in range(n):
        contact = make_lead(industry="medical" if i % 3 == 0 else "other")
        created = start + dt.timedelta(days=i)
        type(contact).objects.filter(pk=contact.pk).update(created_at=created)
        contact.refresh_from_db()
        engaged = rng.random() < 0.5
        for k in range(4 if engaged else int(rng.integers(0, 2))):
            crm.touchpoint_record(
                channel="website",
                kind="form_submit",
                department="marketing",
                contact=contact,
                occurred_at=created + dt.timedelta(days=k + 1),
            )
        if engaged or rng.random() < 0.1:
            lifecycle_move(
                actor=SYSTEM,
                contact=contact,
                stage="sql",
                reason="won over",
                at=created + dt.timedelta(days=6),
            )
    return model


def test_predictive_model_is_calibrated_tested_on_the_newest_and_scored_in_sql(make_lead):
    model = _history(make_lead)
    trained = predictive.train(scoring_model_id=model.pk, now=NOW)
    assert (trained.n_train, trained.n_test, trained.is_current) == (60, 20, True)
    assert trained.auc is not None
    assert 0.8 <= trained.auc <= 1.0
    assert trained.split_at == NOW - dt.timedelta(days=50)  # the 61st contact's creation
    assert len(trained.params["folds"]) == 3
    score_contacts(scoring_model_id=model.pk, now=NOW)
    scores = ContactScore.objects.filter(scoring_model=model).order_by("contact_id")
    sql_probability = np.array([s.probability for s in scores])
    assert np.all((sql_probability > 0) & (sql_probability < 1))
    contact = scores[0].contact
    reasons = predictive.explain(contact, model, now=NOW)
    assert 1 <= len(reasons) <= 3
    assert {r["feature"] for r in reasons} <= set(trained.params["features"])
    effects = [abs(r["effect"]) for r in reasons]
    assert effects == sorted(effects, reverse=True)
    again = predictive.train(scoring_model_id=model.pk, now=NOW)
    assert list(PredictiveModel.objects.filter(is_current=True)) == [again]


def test_sql_probability_matches_the_stored_model(make_lead):
    model = _history(make_lead, n=60)
    trained = predictive.train(scoring_model_id=model.pk, now=NOW)
    score_contacts(scoring_model_id=model.pk, now=NOW)
    from tandem.leads.scoring.sql import build_base

    sql, params = build_base(model, connection.ops.adapt_datetimefield_value(NOW))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.id, b.fit, b.eng, b.n90, b.recency, b.has_account, b.industry "
            f"FROM ({sql}) b ORDER BY b.id",
            params,
        )
        rows = cursor.fetchall()
    x = predictive.features(np.array([r[1:6] for r in rows], dtype=float), [r[6] for r in rows])
    expected = predictive.probability(trained.params, x)
    stored = dict(
        ContactScore.objects.filter(scoring_model=model).values_list("contact_id", "probability")
    )
    assert np.allclose([stored[r[0]] for r in rows], expected, atol=1e-9)


def test_too_little_history_is_refused(make_lead):
    model, _rule = _model()
    make_lead()
    with pytest.raises(InvalidInput) as exc:
        predictive.train(scoring_model_id=model.pk, now=NOW)
    assert exc.value.code == "too_little_history"
    assert not PredictiveModel.objects.exists()
