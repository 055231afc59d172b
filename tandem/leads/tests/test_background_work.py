"""The leads app's background work and settings: the score-group task scores and hands over in
one call, the periodic tasks enqueue one job per active group, the SLA command escalates what ran
out, scoring groups are the head's to change, and notifications speak the recipient's language
and never email an inactive user."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.leads import services, tasks
from tandem.leads.models import ContactScore, Handoff, Notification, ScoringModel
from tandem.leads.notify import notify
from tandem.leads.scoring import score_rule_create, scoring_model_create, scoring_model_update

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_the_score_group_task_scores_and_hands_over_who_reached_the_threshold(reps, make_lead):
    model = scoring_model_create(actor=SYSTEM, name="Tractors", mql_threshold=20)
    score_rule_create(
        actor=SYSTEM,
        scoring_model=model,
        kind="fit",
        field="account.industry",
        value="medical",
        points=25,
    )
    hot, cold = make_lead(industry="medical"), make_lead(industry="other")
    handed = tasks.score_group.call(model.pk)
    assert handed == 1
    scores = ContactScore.objects.filter(scoring_model=model, contact__in=[hot, cold])
    assert {s.contact_id: s.total for s in scores} == {hot.pk: 25.0, cold.pk: 0.0}
    assert list(Handoff.objects.values_list("contact_id", "trigger")) == [(hot.pk, "mql")]
    assert tasks.score_group.call(model.pk) == 0  # already with sales: not handed twice


def test_the_periodic_tasks_enqueue_one_job_per_active_group(db):
    first = scoring_model_create(actor=SYSTEM, name="One")
    scoring_model_create(actor=SYSTEM, name="Two", product_line="pumps")
    off = scoring_model_create(actor=SYSTEM, name="Off", product_line="old")
    ScoringModel.objects.filter(pk=off.pk).update(is_active=False)
    assert tasks.score_all_groups.call() == 2
    assert tasks.retrain_all_predictive.call() == 2
    assert first.is_active


def test_the_sla_command_escalates_what_ran_out_and_says_how_many(world, reps, make_lead):
    start = dt.datetime(2025, 3, 3, 7, 0, tzinfo=dt.UTC)  # Monday 10:00 in Moscow
    lead = make_lead(region="nowhere")
    handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql", now=start)
    first_rep = handoff.assigned_to
    out = StringIO()
    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        call_command("leads_check_sla", stdout=out)
    assert out.getvalue().strip() == "0 hand-off(s) escalated"
    out = StringIO()
    with time_machine.travel(start + dt.timedelta(days=3), tick=False):
        call_command("leads_check_sla", stdout=out)
    assert out.getvalue().strip() == "1 hand-off(s) escalated"
    handoff.refresh_from_db()
    assert handoff.breaches == 1
    assert handoff.assigned_to != first_rep
    assert Notification.objects.filter(user=world.user("head"), kind="handoff_breached").exists()
    with time_machine.travel(start + dt.timedelta(days=3, minutes=5), tick=False):
        assert tasks.handoff_check_sla.call() == 0  # the new rep's clock is running


def test_only_the_head_creates_or_changes_a_scoring_group(world):
    rep = Actor(user=world.user("sales_rep"))
    with pytest.raises(InvalidInput):
        scoring_model_create(actor=rep, name="Mine")
    model = scoring_model_create(actor=Actor(user=world.user("head")), name="Default")
    with pytest.raises(InvalidInput):
        scoring_model_update(actor=rep, scoring_model=model, mql_threshold=10)
    assert ScoringModel.objects.get(pk=model.pk).mql_threshold == 50


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Ok", "half_life_days": 0}, "half_life_days"),
        ({"name": "Ok", "half_life_days": 4000}, "half_life_days"),
    ],
)
def test_a_scoring_group_needs_a_name_and_a_sane_half_life(world, fields, field):
    with pytest.raises(InvalidInput) as refused:
        scoring_model_create(actor=SYSTEM, **fields)
    assert field in refused.value.errors


def test_one_group_per_product_line_and_updates_are_audited(world):
    head = Actor(user=world.user("head"))
    model = scoring_model_create(actor=head, name="Default", product_line="pumps")
    with pytest.raises(InvalidInput) as refused:
        scoring_model_create(actor=head, name="Again", product_line=" pumps ")
    assert list(refused.value.errors) == ["product_line"]
    scoring_model_update(actor=head, scoring_model=model, mql_threshold=70, half_life_days=14)
    with pytest.raises(InvalidInput):
        scoring_model_update(actor=head, scoring_model=model, half_life_days=-1)
    saved = ScoringModel.objects.get(pk=model.pk)
    assert (saved.mql_threshold, saved.half_life_days) == (70.0, 14.0)
    updates = AuditEntry.objects.filter(model="leads.ScoringModel", action="update")
    assert [sorted(u.changes) for u in updates] == [["half_life_days", "mql_threshold"]]


def test_a_notification_is_written_in_the_recipients_language_and_emailed_after_commit(
    world, django_capture_on_commit_callbacks
):
    user = world.user("sales_rep")
    user.language = "ru"
    user.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        note = notify(
            user=user,
            kind="test",
            text=lambda: _("Decision recorded."),
            url="/leads/",
            email_subject=lambda: _("Assigned."),
        )
    assert note is not None
    assert note.text != "Decision recorded."  # the Russian catalogue has it
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert mail.outbox[0].body.startswith(note.text)


def test_an_inactive_user_gets_nothing_and_no_email_without_an_address(world):
    gone = world.user("marketer")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    assert notify(user=gone, kind="test", text=lambda: "hello") is None
    quiet = world.user("field_rep")
    quiet.email = ""
    quiet.save(update_fields=["email"])
    note = notify(user=quiet, kind="test", text=lambda: "x" * 600, email_subject=lambda: "Hi")
    assert note is not None
    assert len(note.text) == 500
    assert mail.outbox == []
