"""The scoring pages and API: rules built from the segment condition catalogue on the page, the
preview of the score distribution agreeing with direct counts, switching a group on rescoring it
in the background, predictive training as a background job (progress, AUC, calibration, the
probability distribution) switched on only after review, the contact record's score with the
rules behind it, and who may do any of it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.leads import tasks
from tandem.leads.lifecycle import lifecycle_move
from tandem.leads.models import ContactScore, PredictiveModel, ScoreRule, ScoringJob, ScoringModel
from tandem.leads.scoring import score_rule_create, scoring_model_create
from tandem.leads.scoring.preview import contact_reasons

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people(world, make_lead):
    """Engineers and others, in medical and other accounts."""
    made = []
    for i in range(12):
        made.append(
            make_lead(
                industry="medical" if i % 3 == 0 else "other",
                title="Senior Engineer" if i % 2 == 0 else "Buyer",
            )
        )
    return made


def _group_on_page(client: Client, **fields: object) -> ScoringModel:
    data = {"name": "Clinics", "product_line": "", "mql_threshold": 50, "half_life_days": 30}
    created = client.post("/leads/scoring/", {**data, **fields})
    assert created.status_code == 302, created.content.decode()[:2000]
    return ScoringModel.objects.get(name=data["name"] if "name" not in fields else fields["name"])


def _rule_on_page(client: Client, group: ScoringModel, **fields: object):
    return client.post(f"/leads/scoring/{group.pk}/rules/", fields)


def test_a_rule_built_on_the_page_previews_counts_that_match_a_direct_count(world, people):
    marketer = _client(world.user("marketer"))
    group = _group_on_page(marketer)
    assert not group.is_active  # a draft until switched on
    title = _rule_on_page(
        marketer,
        group,
        kind="fit",
        field="contact.title",
        operator="contains",
        value="engineer",
        points=30,
    )
    assert title.status_code == 302
    industry = _rule_on_page(
        marketer, group, kind="fit", field="account.industry", operator="eq", value="medical",
        points=25,
    )  # fmt: skip
    assert industry.status_code == 302
    rules = list(group.rules.order_by("id"))
    assert [r.condition for r in rules] == [
        {"type": "field", "field": "contact.title", "op": "contains", "value": "engineer"},
        {"type": "field", "field": "account.industry", "op": "eq", "value": "medical"},
    ]
    page = marketer.get(f"/leads/scoring/{group.pk}/")
    assert page.status_code == 200
    assert "Job title contains engineer" in page.content.decode()

    shown = marketer.get(f"/leads/scoring/{group.pk}/preview/")
    assert shown.status_code == 200
    preview = shown.context["preview"]
    engineers = Q(title__icontains="engineer")
    medical = Q(account__industry="medical")
    assert preview["contacts"] == Contact.objects.count()
    assert sum(b["count"] for b in preview["bins"]) == Contact.objects.count()
    assert preview["above_threshold"] == Contact.objects.filter(engineers & medical).count() > 0
    assert preview["scored"] == Contact.objects.filter(engineers | medical).count()
    assert preview["rules"] == {
        rules[0].pk: Contact.objects.filter(engineers).count(),
        rules[1].pk: Contact.objects.filter(medical).count(),
    }
    assert not ContactScore.objects.exists()  # a preview stores nothing
    api = marketer.get(f"/api/v1/leads/scoring/models/{group.pk}/preview").json()
    assert api["above_threshold"] == preview["above_threshold"]


def test_switching_a_group_on_rescores_in_the_background_and_shows_why_on_the_record(
    world, people, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    head = _client(world.user("head"))
    group = _group_on_page(head)
    _rule_on_page(
        head, group, kind="fit", field="contact.title", operator="contains", value="engineer",
        points=30,
    )  # fmt: skip
    _rule_on_page(head, group, kind="engagement", value="form_submit", channel="", points=10)
    engineer = people[0]
    crm.touchpoint_record(
        channel="website", kind="form_submit", department="marketing", contact=engineer,
        occurred_at=timezone.now() - dt.timedelta(minutes=5),
    )  # fmt: skip
    assert not ContactScore.objects.filter(scoring_model=group).exists()
    with django_capture_on_commit_callbacks(execute=True):
        switched = head.post(f"/leads/scoring/{group.pk}/activate/", {"active": "1"})
    assert switched.status_code == 302
    group.refresh_from_db()
    assert group.is_active
    job = ScoringJob.objects.get(scoring_model=group, kind="rescore")
    assert (job.status, job.progress, job.result["scored"]) == (
        "done",
        100,
        Contact.objects.count(),
    )
    scores = dict(
        ContactScore.objects.filter(scoring_model=group).values_list("contact_id", "total")
    )
    assert scores[engineer.pk] == pytest.approx(40, abs=0.01)
    assert scores[people[1].pk] == 0  # a buyer without touchpoints
    assert AuditEntry.objects.filter(model="leads.ScoringModel", action="update").exists()

    record = head.get(reverse("crm:contact_detail", args=[engineer.pk]))
    assert f"/leads/contacts/{engineer.pk}/score/" in record.content.decode()
    block = head.get(f"/leads/contacts/{engineer.pk}/score/")
    text = block.content.decode()
    assert "Job title contains engineer" in text
    assert "+30.0" in text
    assert "Each touchpoint “form_submit”" in text
    reasons = contact_reasons(engineer.pk, group)
    assert sum(points for _rule, points in reasons) == pytest.approx(scores[engineer.pk], 0.01)
    rep = _client(world.user("sales_rep"))
    assert rep.get(f"/leads/contacts/{engineer.pk}/score/").status_code == 404  # not theirs


def test_bad_rule_input_is_a_form_error_and_nothing_is_saved(world, people):
    marketer = _client(world.user("marketer"))
    group = _group_on_page(marketer)
    cases = [
        {"kind": "fit", "field": "contact.title", "operator": "gt", "value": "x", "points": 5},
        {"kind": "fit", "field": "contact.nope", "operator": "eq", "value": "x", "points": 5},
        {"kind": "fit", "field": "account.industry", "operator": "eq", "value": "space",
         "points": 5},
        {"kind": "fit", "field": "contact.title", "operator": "eq", "value": "", "points": 5},
        {"kind": "fit", "field": "contact.title", "operator": "eq", "value": "x", "points": 5000},
        {"kind": "engagement", "value": "", "points": 5},
        {"kind": "fit", "field": "contact.created_at", "operator": "within_last_days",
         "value": "soon", "points": 5},
    ]  # fmt: skip
    for data in cases:
        refused = _rule_on_page(marketer, group, **data)
        assert refused.status_code == 400, data
        assert refused.context["rule_form"].errors, data
    assert not ScoreRule.objects.exists()
    api = marketer.post(
        f"/api/v1/leads/scoring/models/{group.pk}/rules",
        {"kind": "fit", "condition": {"type": "segment", "segment_id": 1}, "points": 5},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert "condition" in api.json()["details"]
    assert not ScoreRule.objects.exists()


def test_scoring_is_for_marketers_the_head_and_admins_a_rep_gets_403(world):
    rep = world.user("sales_rep")
    assert can(world.user("marketer"), "manage_scoring")
    assert can(world.user("head"), "manage_scoring")
    assert not can(rep, "manage_scoring")
    assert not can(world.user("field_rep"), "manage_scoring")
    group = scoring_model_create(actor=SYSTEM, name="Default")
    client = _client(rep)
    assert client.get("/leads/scoring/").status_code == 403
    assert client.get(f"/leads/scoring/{group.pk}/").status_code == 403
    assert client.post(f"/leads/scoring/{group.pk}/jobs/train/").status_code == 403
    assert client.get("/api/v1/leads/scoring/models").status_code == 403
    assert client.post(f"/api/v1/leads/scoring/models/{group.pk}/train").status_code == 403
    assert not ScoringJob.objects.exists()
    nav = _client(world.user("marketer")).get("/leads/scoring/").content.decode()
    assert 'href="/leads/scoring/"' in nav


def _planted(make_lead, n: int = 120) -> ScoringModel:
    """Contacts a day apart; medical ones mostly convert and engage, others mostly not."""
    group = scoring_model_create(actor=SYSTEM, name="Planted", is_active=False)
    score_rule_create(
        actor=SYSTEM, scoring_model=group, kind="engagement", field="touchpoint.kind",
        value="form_submit", points=10,
    )  # fmt: skip
    rng = np.random.default_rng(11)
    now = timezone.now()
    start = now - dt.timedelta(days=n + 30)
    for i in range(n):
        medical = i % 2 == 0
        contact = make_lead(industry="medical" if medical else "other")
        created = start + dt.timedelta(days=i)
        Contact.objects.filter(pk=contact.pk).update(created_at=created)
        converts = rng.random() < (0.85 if medical else 0.1)
        for k in range(3 if converts else int(rng.integers(0, 2))):
            crm.touchpoint_record(
                channel="website", kind="form_submit", department="marketing", contact=contact,
                occurred_at=created + dt.timedelta(days=k + 1),
            )  # fmt: skip
        if converts:
            lifecycle_move(
                actor=SYSTEM, contact=contact, stage="sql", reason="planted",
                at=created + dt.timedelta(days=5),
            )  # fmt: skip
    return group


def test_training_runs_in_the_background_and_is_switched_on_only_after_review(
    world, make_lead, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    group = _planted(make_lead)
    head = _client(world.user("head"))
    with django_capture_on_commit_callbacks(execute=True):
        started = head.post(f"/api/v1/leads/scoring/models/{group.pk}/train")
        assert started.status_code == 202
        assert started.json()["status"] == "queued"  # answered before any work was done
    state = head.get(f"/api/v1/leads/scoring/models/{group.pk}/train/{started.json()['id']}")
    body = state.json()
    assert (body["status"], body["progress"], body["error"]) == ("done", 100, "")
    trained = body["predictive_model"]
    assert trained["auc"] > 0.7
    assert trained["is_current"] is False
    calibration = trained["calibration"]
    assert sum(row["count"] for row in calibration) == trained["n_test"]
    candidate = PredictiveModel.objects.get(pk=trained["id"])
    test_positives = sum(row["positives"] for row in calibration)
    assert 0 < test_positives < trained["n_test"]
    predicted = [row["predicted"] for row in calibration]
    assert predicted == sorted(predicted)
    bins = trained["distribution"]["bins"]
    assert sum(b["count"] for b in bins) == Contact.objects.count()
    assert (bins[0]["low"], bins[-1]["high"]) == (0.0, 1.0)

    page = head.get(f"/leads/scoring/{group.pk}/")
    assert f'id="candidate-{candidate.pk}"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        switched = head.post(
            f"/leads/scoring/{group.pk}/switch-on/", {"predictive_model": candidate.pk}
        )
    assert switched.status_code == 302
    candidate.refresh_from_db()
    assert candidate.is_current
    probabilities = ContactScore.objects.filter(scoring_model=group).values_list(
        "probability", flat=True
    )
    assert len(probabilities) == Contact.objects.count()
    assert all(p is not None and 0 < p < 1 for p in probabilities)


def test_a_second_train_while_one_runs_returns_the_running_job(world):
    group = scoring_model_create(actor=SYSTEM, name="Default")
    marketer = _client(world.user("marketer"))
    first = marketer.post(f"/api/v1/leads/scoring/models/{group.pk}/train").json()
    ScoringJob.objects.filter(pk=first["id"]).update(status="running", progress=30)
    again = marketer.post(f"/api/v1/leads/scoring/models/{group.pk}/train")
    assert again.status_code == 202
    assert (again.json()["id"], again.json()["status"], again.json()["progress"]) == (
        first["id"],
        "running",
        30,
    )
    page = marketer.post(f"/leads/scoring/{group.pk}/jobs/train/", HTTP_HX_REQUEST="true")
    assert page.status_code == 202
    assert 'data-status="running"' in page.content.decode()
    assert ScoringJob.objects.filter(scoring_model=group, kind="train").count() == 1


def test_a_job_runs_once_and_a_failed_training_says_why_and_changes_nothing(world, make_lead):
    group = scoring_model_create(actor=SYSTEM, name="Default")
    make_lead()
    from tandem.leads.scoring.jobs import scoring_job_start

    job, created = scoring_job_start(actor=SYSTEM, scoring_model=group, kind="train")
    assert created
    assert tasks.scoring_job_run.call(job.pk) == "failed"
    job.refresh_from_db()
    assert "Too little history" in job.error
    assert tasks.scoring_job_run.call(job.pk) == "failed"  # not run again
    assert not PredictiveModel.objects.exists()
    rescore, _new = scoring_job_start(actor=SYSTEM, scoring_model=group, kind="rescore")
    assert tasks.scoring_job_run.call(rescore.pk) == "done"
    assert tasks.scoring_job_run.call(rescore.pk) == "done"


def test_the_scoring_pages_speak_russian(world):
    marketer = world.user("marketer")
    marketer.language = "ru"
    marketer.save(update_fields=["language"])
    group = scoring_model_create(actor=SYSTEM, name="Клиники")
    score_rule_create(
        actor=SYSTEM, scoring_model=group, kind="fit", field="condition", value="",
        condition={"type": "field", "field": "contact.title", "op": "contains", "value": "инженер"},
        points=10,
    )  # fmt: skip
    client = _client(marketer)
    listing = client.get("/leads/scoring/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Оценка лидов" in listing
    detail = client.get(f"/leads/scoring/{group.pk}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Обучить" in detail
    assert "Должность содержит инженер" in detail


def test_only_the_newest_models_waiting_for_review_are_kept(world):
    from tandem.leads.scoring.predictive import KEEP_CANDIDATES, candidates_prune

    group = scoring_model_create(actor=SYSTEM, name="Default")
    start = timezone.now() - dt.timedelta(days=30)
    current = PredictiveModel.objects.create(scoring_model=group, trained_at=start, is_current=True)
    waiting = [
        PredictiveModel.objects.create(scoring_model=group, trained_at=start + dt.timedelta(days=d))
        for d in range(1, KEEP_CANDIDATES + 4)
    ]
    assert candidates_prune(scoring_model_id=group.pk) == 3
    left = set(PredictiveModel.objects.values_list("pk", flat=True))
    assert left == {current.pk, *[m.pk for m in waiting[3:]]}
