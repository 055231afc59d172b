"""Visits through the services: check-in/out, the touchpoint, reports with versions, deals,
attachments, plans and coverage."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.field import services
from tandem.field.models import Visit, VisitStatus
from tandem.field.selectors import coverage
from tandem.field.tests.conftest import Field

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_checking_out_completes_the_visit_with_one_field_touchpoint(field: Field) -> None:
    actor = Actor(user=field.rep)
    services.visit_check_in(actor=actor, visit=field.visit, lat=52.1, lon=39.6)
    visit = services.visit_check_out(actor=actor, visit=field.visit, lat=52.1, lon=39.6)
    assert visit.status == VisitStatus.DONE
    assert visit.version == 3
    touchpoints = Touchpoint.objects.filter(kind="visit_completed")
    assert [(t.department, t.channel, t.contact_id, t.account_id) for t in touchpoints] == [
        ("field", "field_visit", field.contact.pk, field.account.pk)
    ]
    with pytest.raises(InvalidInput):
        services.visit_check_out(actor=actor, visit=visit)
    assert Touchpoint.objects.filter(kind="visit_completed").count() == 1
    assert AuditEntry.objects.filter(model="field.Visit", object_id=str(visit.pk)).count() == 3


def test_a_report_against_an_old_version_is_a_conflict_not_an_overwrite(field: Field) -> None:
    actor = Actor(user=field.rep)
    saved = services.visit_report_save(
        actor=actor,
        visit=field.visit,
        base_version=1,
        notes="first",
        report={"crops": ["wheat"], "area_ha": "120.5", "growth_stage": "tillering"},
        follow_ups=[("Send the trial protocol", dt.date(2026, 12, 10))],
    )
    assert saved.version == 2
    assert saved.report["crops"] == ["wheat"]
    assert saved.follow_ups.get().title == "Send the trial protocol"
    with pytest.raises(services.VisitConflict) as conflict:
        services.visit_report_save(actor=actor, visit=field.visit, base_version=1, notes="second")
    assert conflict.value.current.notes == "first"
    assert Visit.objects.get(pk=field.visit.pk).notes == "first"


def test_report_fields_are_those_of_the_industry(field: Field) -> None:
    with pytest.raises(InvalidInput) as error:
        services.visit_report_save(
            actor=Actor(user=field.rep),
            visit=field.visit,
            base_version=1,
            notes="",
            report={"samples": [{"product": "X", "lot": "L1", "quantity": 2}]},
        )
    assert "report.samples" in error.value.errors


def test_a_visit_creates_and_advances_a_deal_for_the_field(field: Field) -> None:
    actor = Actor(user=field.rep)
    deal = services.visit_deal_create(
        actor=actor, visit=field.visit, name="Seed trial", amount="5000"
    )
    assert (deal.account_id, deal.owner_id) == (field.account.pk, field.rep.pk)
    trial = field.pipeline.stages.get(name="Trial")
    moved = services.visit_deal_advance(
        actor=actor, visit=field.visit, deal=deal, stage_id=trial.pk
    )
    assert moved.stage_id == trial.pk
    assert Visit.objects.get(pk=field.visit.pk).deal_id == deal.pk


def test_attachments_are_checked_by_content_and_size(field: Field) -> None:
    actor = Actor(user=field.rep)
    key = uuid.uuid4()
    row, created = services.attachment_add(
        actor=actor, visit=field.visit, name="field.png", content=PNG, uuid=key
    )
    assert (created, row.content_type, row.size) == (True, "image/png", len(PNG))
    again, created = services.attachment_add(
        actor=actor, visit=field.visit, name="field.png", content=PNG, uuid=key
    )
    assert (again.pk, created) == (row.pk, False)
    with pytest.raises(InvalidInput, match="only JPEG"):
        services.attachment_add(
            actor=actor, visit=field.visit, name="photo.png", content=b"<script>alert(1)</script>"
        )
    with pytest.raises(InvalidInput, match="larger than 10 MB"):
        services.attachment_add(
            actor=actor,
            visit=field.visit,
            name="big.pdf",
            content=b"%PDF-" + b"0" * services.MAX_ATTACHMENT_BYTES,
        )


def test_coverage_shows_a_key_account_due_until_it_is_visited(field: Field) -> None:
    (row,) = coverage(rep_ids=[field.rep.pk])
    assert (row.due, row.open_visit, row.last_visit) == (True, True, None)
    services.visit_check_out(actor=Actor(user=field.rep), visit=field.visit)
    (row,) = coverage(rep_ids=[field.rep.pk])
    assert not row.due
    (later,) = coverage(rep_ids=[field.rep.pk], at=timezone.now() + dt.timedelta(days=15))
    assert later.due


def test_sync_applies_an_operation_once_and_reports_conflicts(field: Field) -> None:
    actor = Actor(user=field.rep)
    op = uuid.uuid4()
    data = {"base_version": 1, "notes": "offline", "report": {"crops": ["maize"]}}
    first = services.sync_apply(
        actor=actor, user=field.rep, op_uuid=op, kind="report", visit=field.visit, data=data
    )
    assert first["status"] == "applied"
    again = services.sync_apply(
        actor=actor, user=field.rep, op_uuid=op, kind="report", visit=field.visit, data=data
    )
    assert (again["status"], again["first"]) == ("duplicate", "applied")
    stale = services.sync_apply(
        actor=actor,
        user=field.rep,
        op_uuid=uuid.uuid4(),
        kind="report",
        visit=field.visit,
        data={**data, "notes": "stale"},
    )
    assert stale["status"] == "conflict"
    assert stale["visit"]["notes"] == "offline"
    assert Visit.objects.get(pk=field.visit.pk).version == 2
