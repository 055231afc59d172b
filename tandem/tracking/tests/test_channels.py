"""The default channel table (GA4 groups + Tandem's channels), versions and reclassification."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Touchpoint
from tandem.tracking import services
from tandem.tracking.channels import (
    ChannelInputs,
    classify,
    compile_rules,
    default_rule_dicts,
)
from tandem.tracking.models import ChannelRuleSet, Source
from tandem.tracking.reclassify import reclassify_all

DEFAULTS = compile_rules(default_rule_dicts())

# (source kind, utm_source, utm_medium, utm_campaign, referrer host, event) -> channel, dept
CASES: list[tuple[tuple[str, str, str, str, str, str], tuple[str, str]]] = [
    (("website", "", "", "", "", ""), ("direct", "marketing")),
    (("website", "", "", "", "google.com", ""), ("organic_search", "marketing")),
    (("website", "", "", "", "yandex.ru", ""), ("organic_search", "marketing")),
    (("website", "", "", "", "bing.com", ""), ("organic_search", "marketing")),
    (("website", "", "", "", "duckduckgo.com", ""), ("organic_search", "marketing")),
    (("website", "google", "cpc", "brand", "", ""), ("paid_search", "marketing")),
    (("website", "yandex", "cpc", "", "", ""), ("paid_search", "marketing")),
    (("website", "bing", "ppc", "", "", ""), ("paid_search", "marketing")),
    (("website", "google", "organic", "", "", ""), ("organic_search", "marketing")),
    (("website", "linkedin", "social", "", "", ""), ("linkedin", "marketing")),
    (("website", "linkedin", "cpc", "abm", "", ""), ("linkedin", "marketing")),
    (("website", "", "", "", "linkedin.com", ""), ("linkedin", "marketing")),
    (("website", "", "", "", "lnkd.in", ""), ("linkedin", "marketing")),
    (("website", "facebook", "paid_social", "", "", ""), ("facebook", "marketing")),
    (("website", "", "", "", "m.facebook.com", ""), ("facebook", "marketing")),
    (("website", "youtube", "video", "", "", ""), ("youtube", "marketing")),
    (("website", "", "", "", "youtu.be", ""), ("youtube", "marketing")),
    (("website", "vk", "social", "", "", ""), ("vk", "marketing")),
    (("website", "", "", "", "vk.com", ""), ("vk", "marketing")),
    (("website", "ok", "social", "", "", ""), ("odnoklassniki", "marketing")),
    (("website", "", "", "", "ok.ru", ""), ("odnoklassniki", "marketing")),
    (("website", "telegram", "social", "", "", ""), ("telegram", "marketing")),
    (("website", "", "", "", "t.me", ""), ("telegram", "marketing")),
    (("website", "", "", "", "rutube.ru", ""), ("vlog", "marketing")),
    (("website", "newsletter", "email", "may", "", ""), ("email_newsletter", "marketing")),
    (("website", "digest", "e-mail", "", "", ""), ("email_newsletter", "marketing")),
    (("website", "crm", "email", "nurture", "", ""), ("email", "marketing")),
    (("website", "rep", "sales_email", "", "", ""), ("sales_email", "sales")),
    (("website", "zoom", "webinar", "q3", "", ""), ("webinar", "marketing")),
    (("website", "expo", "conference", "", "", ""), ("conference", "marketing")),
    (("website", "sms", "sms", "", "", ""), ("sms", "marketing")),
    (("app", "onesignal", "push", "", "", ""), ("mobile_push", "marketing")),
    (("website", "partner", "affiliate", "", "", ""), ("affiliates", "marketing")),
    (("website", "dv360", "display", "", "", ""), ("display", "marketing")),
    (("website", "instagram", "cpc", "", "", ""), ("paid_social", "marketing")),
    (("website", "", "", "", "instagram.com", ""), ("organic_social", "marketing")),
    (("website", "", "", "", "reddit.com", ""), ("organic_social", "marketing")),
    (("website", "spotify", "audio", "", "", ""), ("audio", "marketing")),
    (("website", "", "", "", "partner-site.example", ""), ("referral", "marketing")),
    (("website", "partner", "referral", "", "", ""), ("referral", "marketing")),
    (("blog", "", "", "", "", ""), ("blog", "marketing")),
    (("blog", "", "", "", "news.example", ""), ("referral", "marketing")),
    (("blog", "", "", "", "google.com", ""), ("organic_search", "marketing")),
    (("app", "", "", "", "", "Report Exported"), ("self_service", "self_service")),
    (("server", "", "", "", "", "Signed Up"), ("self_service", "self_service")),
    (("server", "", "", "", "", "Sales Call"), ("sales_call", "sales")),
    (("server", "", "", "", "", "Meeting Held"), ("meeting", "sales")),
    (("server", "", "", "", "", "Field Visit"), ("field_visit", "field")),
    (("server", "", "", "", "", "Training Attended"), ("training", "field")),
    (("server", "", "", "", "", "Points Earned"), ("loyalty", "field")),
    (("server", "", "", "", "", "Webinar Attended"), ("webinar", "marketing")),
    (("server", "", "", "", "", "Conference Badge Scanned"), ("conference", "marketing")),
    (("server", "", "", "", "", "Invoice Paid"), ("website", "marketing")),
]


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("inputs", "expected"), CASES)
def test_default_rules(inputs: tuple[str, ...], expected: tuple[str, str]) -> None:
    kind, source, medium, campaign, referrer, event = inputs
    got = classify(
        ChannelInputs(
            source_kind=kind,
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign,
            referrer=referrer,
            event=event,
        ),
        DEFAULTS,
    )
    assert got == expected


def test_bad_rules_are_refused_per_field(db: None) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.channel_rules_publish(
            actor=Actor.system(),
            rules=[{"utm_source": "(", "channel": "nowhere", "department": "marketing"}],
        )
    assert set(caught.value.errors) == {"rules.1.utm_source", "rules.1.channel"}
    assert ChannelRuleSet.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_publishing_rules_versions_them_and_reclassifies_the_past(
    website: tuple[Source, str], settings: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    _source, key = website
    body = {
        "writeKey": key,
        "batch": [
            {
                "type": "page",
                "anonymousId": "r1",
                "messageId": "m1",
                "context": {"campaign": {"source": "partnerx", "medium": "referral"}},
            },
            {"type": "page", "anonymousId": "r2", "messageId": "m2"},
        ],
    }
    assert (
        Client()
        .post("/v1/batch", data=json.dumps(body), content_type="application/json")
        .status_code
        == 200
    )
    assert sorted(Touchpoint.objects.values_list("channel", flat=True)) == ["direct", "referral"]

    rules = default_rule_dicts()
    rules.insert(0, {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"})
    v1 = services.channel_rules_publish(actor=Actor.system(), rules=rules, note="partner x")
    assert v1.version == 1
    row = Touchpoint.objects.get(anonymous_id="r1")
    assert (row.channel, row.department) == ("conference", "sales")
    assert Touchpoint.objects.get(anonymous_id="r2").channel == "direct"
    # New events follow the new version too; an older version's task does nothing.
    v2 = services.channel_rules_publish(actor=Actor.system(), rules=default_rule_dicts())
    assert v2.version == 2
    assert Touchpoint.objects.get(anonymous_id="r1").channel == "referral"
    assert reclassify_all(1) == 0
    assert reclassify_all(2) == 0  # idempotent: nothing left to change
