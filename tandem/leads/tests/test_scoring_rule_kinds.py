"""An engagement rule's touchpoint kind is chosen on the page from the known kinds, in words of
the reader's language; the server refuses a kind that is not on the list."""

from __future__ import annotations

import pytest
from django.test import Client

from tandem.leads.models import ScoreRule, ScoringModel
from tandem.leads.scoring.forms import touchpoint_kind_choices

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(world) -> Client:
    client = Client()
    client.force_login(world.user("marketer"))
    return client


@pytest.fixture
def group(marketer: Client) -> ScoringModel:
    data = {"name": "Clinics", "product_line": "", "mql_threshold": 50, "half_life_days": 30}
    assert marketer.post("/leads/scoring/", data).status_code == 302
    return ScoringModel.objects.get(name="Clinics")


def test_the_rule_form_offers_the_known_kinds_by_their_labels(marketer: Client, group) -> None:
    html = marketer.get(f"/leads/scoring/{group.pk}/").content.decode()
    assert '<select name="touchpoint_kind"' in html
    assert '<option value="form_submitted">Form submitted (form_submitted)</option>' in html
    assert '<option value="webinar_attended">Attended a webinar</option>' in html
    labels = [label for _kind, label in touchpoint_kind_choices()]
    assert len(labels) == len(set(labels))  # every choice reads differently


def test_an_engagement_rule_stores_the_chosen_kind_and_refuses_an_unknown_one(
    marketer: Client, group
) -> None:
    url = f"/leads/scoring/{group.pk}/rules/"
    made = marketer.post(
        url, {"kind": "engagement", "touchpoint_kind": "webinar_attended", "points": 10}
    )
    assert made.status_code == 302
    rule = ScoreRule.objects.get(scoring_model=group)
    assert (rule.kind, rule.field, rule.value) == (
        "engagement",
        "touchpoint.kind",
        "webinar_attended",
    )

    refused = marketer.post(url, {"kind": "engagement", "touchpoint_kind": "nope", "points": 10})
    assert refused.status_code == 400
    assert "touchpoint_kind" in refused.context["rule_form"].errors
    missing = marketer.post(url, {"kind": "engagement", "points": 10})
    assert missing.status_code == 400
    assert "touchpoint_kind" in missing.context["rule_form"].errors
    assert ScoreRule.objects.filter(scoring_model=group).count() == 1
