"""A stage change on the timeline says where the record went: a lifecycle move by the stages'
labels in the reader's language, a deal move by its stage names."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from conftest import World
from tandem.crm import services as crm
from tandem.crm.models import LifecycleStage
from tandem.crm.templatetags.crm_timeline import stage_change


@pytest.fixture
def head(world: World) -> Client:
    client = Client()
    client.force_login(world.user("head", "north"))
    return client


def test_a_lifecycle_move_and_a_deal_move_name_both_stages(head: Client, world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    for kind, before, after in (
        ("lifecycle_stage_changed", "lead", "mql"),
        ("deal_stage_changed", "Discovery", "Proposal <b>"),
    ):
        crm.touchpoint_record(
            channel="lifecycle",
            kind=kind,
            department="marketing",
            contact=contact,
            source="tandem",
            properties={"from": before, "to": after},
        )
    html = head.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert '<div class="tp-change">Lead → Marketing qualified lead</div>' in html
    assert '<div class="tp-change">Discovery → Proposal &lt;b&gt;</div>' in html


def test_a_lifecycle_move_reads_in_russian_with_russian_stage_labels(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    move = crm.touchpoint_record(
        channel="lifecycle",
        kind="lifecycle_stage_changed",
        department="marketing",
        contact=contact,
        properties={"from": "lead", "to": "mql"},
    )
    with translation.override("ru"):
        expected = f"{LifecycleStage.LEAD.label} → {LifecycleStage.MQL.label}"
        assert stage_change(move) == expected
        assert "Lead" not in expected


def test_other_rows_and_a_move_without_stages_show_no_change(head: Client, world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    crm.touchpoint_record(
        channel="email", kind="email_open", department="marketing", contact=contact
    )
    crm.touchpoint_record(
        channel="lifecycle",
        kind="lifecycle_stage_changed",
        department="marketing",
        contact=contact,
        actor=None,
        properties={"reason": "import"},
    )
    html = head.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "tp-change" not in html
