"""Channel-rule patterns cannot hang ingestion: nested quantifiers (`^(a+)+$`), repeated
alternatives and back-references are refused when saved (page and API), and a pattern stored
before the check existed never matches instead of backtracking for ever."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from conftest import World
from tandem.core.errors import InvalidInput
from tandem.tracking import services
from tandem.tracking.channels import ChannelInputs, classify, compile_rules, pattern_problem
from tandem.tracking.models import ChannelRule
from tandem.tracking.tests.forms_post import rules_post
from tandem.tracking.tests.test_setup_api import Caller

EVIL = "^(a+)+$"
NEAR_MISS = "a" * 30 + "!"


@pytest.mark.parametrize(
    "pattern", [EVIL, "(a|aa)*$", "(x*)*y", "(\\w+\\s?)+$", "(a)\\1", "a*b*c*d*"]
)
def test_dangerous_patterns_are_refused(pattern: str) -> None:
    assert pattern_problem(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["^(google|bing)$", "^(loyalty.*|points (earned|redeemed))$", "^e-?mail$", "(www\\.)?x+"],
)
def test_ordinary_patterns_pass(pattern: str) -> None:
    assert pattern_problem(pattern) == ""


def test_saving_a_catastrophic_pattern_is_a_form_error(world: World) -> None:
    client = Client()
    client.force_login(world.user("admin"))
    rules = [{"utm_source": EVIL, "channel": "sms", "department": "marketing"}]
    answer = client.post("/settings/channel-rules/", rules_post(rules, action="publish"))
    assert answer.status_code == 400
    assert "practically forever" in answer.content.decode()
    assert not ChannelRule.objects.filter(utm_source=EVIL).exists()
    with pytest.raises(InvalidInput, match="practically forever"):
        services.channel_rules_clean(rules)


def test_the_api_refuses_it_too(world: World) -> None:
    api = Caller(world, "admin")
    body = {"rules": [{"utm_source": EVIL, "channel": "sms", "department": "marketing"}]}
    answer = api.post("/channel-rules", body)
    assert answer.status_code == 400
    assert "practically forever" in answer.content.decode()


def test_a_stored_catastrophic_pattern_evaluates_fast_and_never_matches() -> None:
    rules = compile_rules(
        [
            {"utm_source": EVIL, "channel": "sms", "department": "marketing"},
            {"utm_source": "^a+!$", "channel": "email", "department": "marketing"},
        ]
    )
    started = time.perf_counter()
    verdict = classify(ChannelInputs(utm_source=NEAR_MISS), rules)
    assert time.perf_counter() - started < 0.05
    assert verdict == ("email", "marketing")
    long_value = ChannelInputs(utm_source="a" * 100_000 + "!")
    started = time.perf_counter()
    classify(long_value, rules)
    assert time.perf_counter() - started < 0.05
