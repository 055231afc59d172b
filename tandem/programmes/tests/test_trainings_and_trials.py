"""Trainings (attendance as a touchpoint, certificates with a verification link, reminders) and
field trials (the yield difference and its uncertainty across trials)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from scipy import stats

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.programmes import loyalty, trainings, trials
from tandem.programmes.models import PointsEntry

from .conftest import Loyalty, training_session

pytestmark = pytest.mark.django_db


def test_attending_and_passing_write_one_touchpoint_each_issue_a_certificate_and_earn_points(
    programme: Loyalty, client: Client
) -> None:
    system = Actor.system()
    farm = crm.account_create(actor=system, name="Kuban farm", industry="agriculture")
    farmer = crm.contact_create(
        actor=system,
        first_name="Иван",
        last_name="Петров",
        email="ivan@farm.test",
        account_id=farm.pk,
    )
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=farm, country="RU"
    )
    session = training_session(programme)
    attendance = trainings.attendee_register(actor=system, session_id=session.pk, contact=farmer)
    for _ in range(2):
        trainings.attendance_mark(actor=system, attendance_id=attendance.pk, attended=True)
    attendance = trainings.assessment_record(actor=system, attendance_id=attendance.pk, score=85)
    trainings.assessment_record(actor=system, attendance_id=attendance.pk, score=90)
    kinds = list(
        Touchpoint.objects.filter(contact=farmer, department="field")
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["training_attended", "training_passed"]
    assert attendance.passed
    assert attendance.certificate_token is not None
    assert len(attendance.certificate_token) >= 32
    earned = PointsEntry.objects.get(membership=membership)
    assert (earned.points, earned.source_key) == (50, f"certificate:{attendance.pk}")
    page = client.get(f"/programmes/certificates/{attendance.certificate_token}/")
    assert page.status_code == 200
    assert "Иван Петров" in page.content.decode()
    pdf = client.get(f"/programmes/certificates/{attendance.certificate_token}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get("/programmes/certificates/not-a-token/").status_code == 404


def test_a_failed_assessment_gives_no_certificate_and_absentees_are_not_assessed(
    programme: Loyalty,
) -> None:
    system = Actor.system()
    farm = crm.account_create(actor=system, name="Farm")
    people = [
        crm.contact_create(actor=system, first_name=f"P{i}", account_id=farm.pk) for i in range(2)
    ]
    session = training_session(programme)
    failed = trainings.attendee_register(actor=system, session_id=session.pk, contact=people[0])
    trainings.attendance_mark(actor=system, attendance_id=failed.pk, attended=True)
    failed = trainings.assessment_record(actor=system, attendance_id=failed.pk, score=40)
    assert not failed.passed
    assert failed.certificate_token is None
    absent = trainings.attendee_register(actor=system, session_id=session.pk, contact=people[1])
    trainings.attendance_mark(actor=system, attendance_id=absent.pk, attended=False)
    with pytest.raises(InvalidInput):
        trainings.assessment_record(actor=system, attendance_id=absent.pk, score=99)


def test_a_full_session_refuses_another_attendee(programme: Loyalty) -> None:
    system = Actor.system()
    farm = crm.account_create(actor=system, name="Farm")
    people = [
        crm.contact_create(actor=system, first_name=f"P{i}", account_id=farm.pk) for i in range(2)
    ]
    session = training_session(programme, capacity=1)
    trainings.attendee_register(actor=system, session_id=session.pk, contact=people[0])
    with pytest.raises(InvalidInput) as full:
        trainings.attendee_register(actor=system, session_id=session.pk, contact=people[1])
    assert full.value.code == "full"


def test_a_recertification_reminder_goes_once_a_month_before_the_certificate_ends(
    programme: Loyalty,
) -> None:
    system = Actor.system()
    farm = crm.account_create(actor=system, name="Farm")
    farmer = crm.contact_create(
        actor=system, first_name="Olga", email="olga@farm.test", account_id=farm.pk
    )
    session = training_session(programme)  # 340 days ago, valid 12 months: ends in about 25 days
    attendance = trainings.attendee_register(actor=system, session_id=session.pk, contact=farmer)
    trainings.attendance_mark(actor=system, attendance_id=attendance.pk, attended=True)
    trainings.assessment_record(actor=system, attendance_id=attendance.pk, score=100)
    assert trainings.recertification_reminders_send() == 1
    assert trainings.recertification_reminders_send() == 0
    assert mail.outbox[0].to == ["olga@farm.test"]
    assert "Seed treatment basics" in mail.outbox[0].subject


def test_the_yield_difference_across_trials_has_a_t_interval_and_a_bootstrap_interval(
    programme: Loyalty,
) -> None:
    system = Actor.system()
    differences = []
    for i, (product_yield, usual_yield) in enumerate(
        [
            (Decimal("6.6"), Decimal("6.0")),
            (Decimal("7.4"), Decimal("7.1")),
            (Decimal("5.0"), Decimal("4.2")),
        ]
    ):
        farm = crm.account_create(actor=system, name=f"Farm {i}", industry="agriculture")
        trial = trials.trial_create(
            actor=system, account=farm, product=programme.product, crop="wheat", season=2026
        )
        sown = dt.date(2026, 4, 1)
        harvest = dt.date(2026, 8, 1)
        trials.plot_add(
            actor=system,
            trial=trial,
            arm="product",
            area_ha=Decimal("2"),
            sown_on=sown,
            harvested_on=harvest,
            yield_t=product_yield * 2,
        )
        usual = trials.plot_add(
            actor=system, trial=trial, arm="usual", area_ha=Decimal("1"), sown_on=sown
        )
        trials.plot_harvest(
            actor=system, plot_id=usual.pk, harvested_on=harvest, yield_t=usual_yield
        )
        differences.append(float(product_yield - usual_yield))
        assert list(
            Touchpoint.objects.filter(account=farm).order_by("id").values_list("kind", flat=True)
        ) == ["field_trial_started", "field_trial_result"]
    from tandem.programmes.models import FieldTrial

    results = trials.product_results(
        programme.product, list(FieldTrial.objects.filter(product=programme.product))
    )
    u = results.uncertainty
    assert u.n == 3
    assert u.mean == pytest.approx(sum(differences) / 3)
    low, high = stats.t.interval(0.95, 2, loc=u.mean, scale=stats.sem(differences))
    assert (u.t_low, u.t_high) == (pytest.approx(low), pytest.approx(high))
    assert u.boot_low is not None
    assert u.boot_high is not None
    assert min(differences) <= u.boot_low <= u.mean <= u.boot_high <= max(differences)
    assert "across 3 farm trials" in trials.results_summary(results)
    rows = trials.results_rows(results)
    assert rows[0][-1] == "difference t/ha"
    assert sorted(r[-1] for r in rows[1:]) == sorted(round(d, 3) for d in differences)


def test_a_plot_harvested_before_it_was_sown_is_refused(programme: Loyalty) -> None:
    system = Actor.system()
    farm = crm.account_create(actor=system, name="Farm")
    trial = trials.trial_create(
        actor=system, account=farm, product=programme.product, crop="maize", season=2026
    )
    with pytest.raises(InvalidInput) as refused:
        trials.plot_add(
            actor=system,
            trial=trial,
            arm="usual",
            area_ha=Decimal("1"),
            sown_on=dt.date(2026, 5, 1),
            harvested_on=dt.date(2026, 4, 1),
            yield_t=Decimal("3"),
        )
    assert "harvested_on" in refused.value.errors
