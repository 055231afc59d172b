"""A marketer builds a segment in the visual builder: "lifecycle stage is MQL AND (visited pricing
at least 2 times in 30 days OR opened an email in 14 days)", watches the live count, sees an
incomplete condition's error next to it, saves, and finds the same tree after a reload."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.leads import services as leads
from tandem.marketing.models import Segment
from tandem.marketing.segments import services as seg

from .conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "type": "and",
    "children": [
        {"type": "field", "field": "contact.lifecycle_stage", "op": "eq", "value": "mql"},
        {
            "type": "or",
            "children": [
                {
                    "type": "touchpoint",
                    "kind": "page_view",
                    "properties": [{"key": "path", "op": "eq", "value": "/pricing"}],
                    "at_least": 2,
                    "within_days": 30,
                },
                {"type": "email", "event": "opened", "at_least": 1, "within_days": 14},
            ],
        },
    ],
}


def _seed(world: Any) -> None:
    """Five people; two match: Ann (pricing twice) and Bob (opened an email 10 days ago)."""
    owner = world.user("sales_rep", "north")
    now = timezone.now()

    def person(name: str, stage: str, pricing_days: list[int], opened_days: list[int]) -> None:
        contact = crm.contact_create(
            actor=Actor.system(),
            first_name=name,
            last_name="Builder",
            email=f"{name.lower()}@builder.example.org",
            owner_id=owner.pk,
        )
        leads.lifecycle_correct(actor=Actor.system(), contact=contact, stage=stage, reason="set-up")
        for days in pricing_days:
            crm.touchpoint_record(
                channel="website",
                kind="page_view",
                department="marketing",
                contact=contact,
                properties={"path": "/pricing"},
                occurred_at=now - dt.timedelta(days=days),
            )
        for days in opened_days:
            crm.touchpoint_record(
                channel="email",
                kind="email_opened",
                department="marketing",
                contact=contact,
                occurred_at=now - dt.timedelta(days=days),
            )

    person("Ann", "mql", [5, 20], [])
    person("Bob", "mql", [], [10])
    person("Cat", "mql", [3], [20])  # one visit, an old open: no
    person("Dan", "lead", [1, 2, 3], [1])  # not an MQL: no
    person("Eve", "mql", [40, 45], [])  # visits too long ago: no


def _count(page: Any, n: int) -> None:
    page.wait_for_selector(f'#live-count .sb-count[data-count="{n}"]')


def test_marketer_builds_segment_with_live_count(page: Any, live_server: Any, world: Any) -> None:
    _seed(world)
    marketer = world.user("marketer", "north")
    assert seg.definition_count(user=marketer, definition=EXPECTED) == 2
    base = live_server.url
    sign_in(page, base, "marketer_north")

    page.goto(f"{base}/marketing/segments/new")
    page.wait_for_selector("#segment-builder .sb-group")
    assert page.is_hidden("#id_definition")  # the JSON is behind the toggle
    page.fill("input[name=name]", "Hot MQLs")
    # clear the example's two conditions
    page.click("#sb-0-remove")
    page.click("#sb-0-remove")
    assert json.loads(page.input_value("#id_definition")) == {"type": "and", "children": []}

    page.click("#sb-root-add-condition")
    page.select_option("#sb-0-what", "contact.lifecycle_stage")
    assert page.input_value("#sb-0-op") == "eq"
    page.select_option("#sb-0-value", "mql")
    assert seg.definition_count(user=marketer, definition=EXPECTED["children"][0]) == 4
    _count(page, 4)

    page.click("#sb-root-add-group")
    assert page.input_value("#sb-1-logic") == "or"
    # the group's new condition is not chosen yet: the server's message shows next to it
    page.wait_for_selector('[data-path="1.0"] .sb-errors')
    page.select_option("#sb-1-0-what", "touchpoint")
    page.click("#sb-1-0-add-property")
    page.fill("#sb-1-0-prop-0-value", "/pricing")
    page.fill("#sb-1-0-at_least", "2")
    _count(page, 1)  # Ann
    assert page.locator('[data-path="1.0"] .sb-errors').count() == 0

    page.click("#sb-1-add-condition")
    page.select_option("#sb-1-1-what", "email")
    page.fill("#sb-1-1-within_days", "14")
    _count(page, 2)  # Ann and Bob
    assert page.inner_text("#live-count") == "2 contacts match"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "segment-builder.png"), full_page=True)

    page.check("#segment-show-json")
    assert page.is_visible("#id_definition")
    assert json.loads(page.input_value("#id_definition")) == EXPECTED

    page.click("button[type=submit].button")
    page.wait_for_url(f"{base}/marketing/segments/*/")
    segment = Segment.objects.get(name="Hot MQLs")
    assert segment.definition == EXPECTED

    page.goto(f"{base}/marketing/segments/{segment.pk}/edit")
    page.wait_for_selector("#sb-1-1-within_days")
    assert page.input_value("#sb-0-what") == "contact.lifecycle_stage"
    assert page.input_value("#sb-0-value") == "mql"
    assert page.input_value("#sb-1-logic") == "or"
    assert page.input_value("#sb-1-0-what") == "touchpoint"
    assert page.input_value("#sb-1-0-prop-0-value") == "/pricing"
    assert page.input_value("#sb-1-0-at_least") == "2"
    assert page.input_value("#sb-1-0-within_days") == "30"
    assert page.input_value("#sb-1-1-what") == "email"
    assert page.input_value("#sb-1-1-within_days") == "14"
    _count(page, 2)
    assert json.loads(page.input_value("#id_definition")) == EXPECTED

    # reordering writes the JSON too; a JSON edit redraws the builder
    page.click("#sb-1-0-down")
    assert page.input_value("#sb-1-0-what") == "email"
    page.check("#segment-show-json")
    page.fill("#id_definition", json.dumps(EXPECTED))
    assert page.input_value("#sb-1-0-what") == "touchpoint"
    assert {urlsplit(u).hostname for u in page.requested_urls} <= {"127.0.0.1", "localhost"}


def test_russian_labels_and_bad_save_shows_error_on_condition(
    page: Any, live_server: Any, world: Any
) -> None:
    base = live_server.url
    sign_in(page, base, "marketer_north")
    with page.expect_navigation():
        page.click("button[name=language][value=ru]")
    page.goto(f"{base}/marketing/segments/new")
    page.wait_for_selector("#sb-root-add-condition")
    assert "Добавить условие" in page.inner_text("#sb-root-add-condition")
    page.fill("input[name=name]", "Broken")
    page.click("#sb-root-add-condition")  # left unchosen
    page.click("button[type=submit].button")
    page.wait_for_selector('[data-path="2"] .sb-errors')
    assert not Segment.objects.filter(name="Broken").exists()


def test_not_groups_lists_invalid_json_and_static_kind(
    page: Any, live_server: Any, world: Any
) -> None:
    base = live_server.url
    sign_in(page, base, "marketer_north")
    page.goto(f"{base}/marketing/segments/new")
    page.wait_for_selector("#sb-0-remove")
    page.click("#sb-0-remove")
    page.click("#sb-0-remove")
    page.click("#sb-root-add-group")
    page.select_option("#sb-0-0-what", "contact.lifecycle_stage")
    page.select_option("#sb-0-0-op", "in")
    page.select_option("#sb-0-0-value", ["mql", "sql"])
    page.click("#sb-0-add-condition")
    page.select_option("#sb-0-1-what", "contact.email")
    page.select_option("#sb-0-1-op", "is_empty")
    assert page.locator("#sb-0-1-value").count() == 0  # no value for "is empty"
    page.select_option("#sb-0-logic", "not")  # two conditions: NOT (any of them)
    definition = json.loads(page.input_value("#id_definition"))
    assert definition == {
        "type": "and",
        "children": [
            {
                "type": "not",
                "child": {
                    "type": "or",
                    "children": [
                        {
                            "type": "field",
                            "field": "contact.lifecycle_stage",
                            "op": "in",
                            "value": ["mql", "sql"],
                        },
                        {"type": "field", "field": "contact.email", "op": "is_empty"},
                    ],
                },
            }
        ],
    }
    assert page.input_value("#sb-0-0-logic") == "or"
    assert page.locator("#sb-0-add-condition").count() == 0  # NOT holds one condition
    _count(page, 4)  # the world's four contacts: none is an MQL/SQL or without email

    page.check("#segment-show-json")
    nested: dict[str, Any] = {"type": "tag", "value": "fair"}
    for _ in range(7):  # groups at depths 1..7, the tag at depth 8 (MAX_DEPTH)
        nested = {"type": "or", "children": [nested]}
    page.fill("#id_definition", json.dumps(nested))
    deepest = "-".join(["0"] * 6)
    page.wait_for_selector(f"#sb-{deepest}-add-condition")
    assert page.locator(f"#sb-{deepest}-add-group").count() == 0  # its leaves would be too deep
    assert page.locator(f"#sb-{deepest[:-2]}-add-group").count() == 1
    _count(page, 0)
    leaf = '{"type": "field", "field": "contact.nope", "op": "eq", "value": "x"}'
    page.fill("#id_definition", leaf)  # one condition at the root: drawn inside an AND group
    page.wait_for_selector('[data-path="0"] .sb-errors')
    assert "contact.nope" in page.inner_text('[data-path="0"] .sb-errors')
    assert page.input_value("#id_definition") == leaf  # not rewritten until the builder edits
    page.fill("#id_definition", '{"type": "and", "children": [')
    assert page.is_visible(".sb-note")
    page.wait_for_selector("#live-count .errors")
    assert page.input_value("#sb-0-what") == "contact.nope"  # the last valid tree stays drawn
    page.select_option("#id_kind", "static")
    assert page.is_hidden("#segment-builder")
    assert page.is_hidden("#id_definition")
