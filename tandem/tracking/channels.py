"""Channel and department of a touchpoint, from a versioned rule table (first match wins).

The default table follows GA4's default channel groups (paid/organic search, social, video,
email, referral, display, affiliates, SMS, push, direct), with the named social networks and
Tandem's own channels split out: LinkedIn, Facebook, YouTube, VK, Odnoklassniki, Telegram, email
newsletter, blog, vlog, webinar, conference, website, sales call, sales email, meeting, field
visit, training, loyalty, self-service.

Invariants:
- classification is a pure function of the inputs (`ChannelInputs`) and the rules: running it
  again over the same touchpoint gives the same answer, so reclassification is idempotent;
- the last default rule matches everything, so every touchpoint gets a channel.
"""

from __future__ import annotations

import logging
import re
import re._parser as sre_parse  # the parser of the standard engine, to vet patterns
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

CHANNELS = [
    "linkedin",
    "facebook",
    "youtube",
    "vk",
    "odnoklassniki",
    "telegram",
    "instagram",
    "twitter",
    "email_newsletter",
    "email",
    "blog",
    "vlog",
    "webinar",
    "conference",
    "website",
    "paid_search",
    "organic_search",
    "paid_social",
    "organic_social",
    "paid_video",
    "organic_video",
    "display",
    "affiliates",
    "sms",
    "mobile_push",
    "audio",
    "paid_shopping",
    "organic_shopping",
    "cross_network",
    "paid_other",
    "referral",
    "direct",
    "sales_call",
    "sales_email",
    "meeting",
    "field_visit",
    "training",
    "loyalty",
    "self_service",
]

_SEARCH_ENGINES = (
    r"(^|\.)(google|bing|yandex|duckduckgo|yahoo|baidu|ecosia|qwant|mail\.ru|rambler|"
    r"search\.brave|startpage|naver|seznam)\."
)
_SOCIAL_OTHER = r"(^|\.)(instagram|twitter|x\.com|t\.co|pinterest|reddit|tiktok|threads|mastodon)"
_PAID = r"^(.*cp.*|ppc|retargeting|paid.*)$"

# (source_kind, utm_source, utm_medium, utm_campaign, referrer, event, channel, department)
DEFAULT_RULES: list[tuple[str, str, str, str, str, str, str, str]] = [
    # Tandem's own activities, recorded by sales, field and product.
    ("", "", "", "", "", r"^(sales call|call logged|call completed)$", "sales_call", "sales"),
    ("", "", "", "", "", r"^(sales email|email sent by rep)$", "sales_email", "sales"),
    ("", "", "", "", "", r"^(meeting|meeting held|meeting booked)$", "meeting", "sales"),
    ("", "", "", "", "", r"^(field visit|visit completed)$", "field_visit", "field"),
    ("", "", "", "", "", r"^(training|training attended)$", "training", "field"),
    ("", "", "", "", "", r"^(loyalty.*|points (earned|redeemed))$", "loyalty", "field"),
    ("", "", "", "", "", r"^webinar (registered|attended|watched)$", "webinar", "marketing"),
    (
        "",
        "",
        "",
        "",
        "",
        r"^conference (registered|attended|badge scanned)$",
        "conference",
        "marketing",
    ),
    # Campaign-tagged traffic (utm_*), most specific first.
    ("", "", r"^webinar$", "", "", "", "webinar", "marketing"),
    ("", "", r"^(conference|event|expo|trade[ _-]?show)$", "", "", "", "conference", "marketing"),
    ("", r"^(newsletter|digest)$", r"^e-?mail$", "", "", "", "email_newsletter", "marketing"),
    ("", "", r"^newsletter$", "", "", "", "email_newsletter", "marketing"),
    ("", "", r"^sales[ _-]?e-?mail$", "", "", "", "sales_email", "sales"),
    ("", "", r"^(e-?mail|e[ _-]mail|e_mail)$", "", "", "", "email", "marketing"),
    ("", "", r"^sms$", "", "", "", "sms", "marketing"),
    ("", "", r"(mobile|notification|push)", "", "", "", "mobile_push", "marketing"),
    ("", "", r"^(affiliate|partner)s?$", "", "", "", "affiliates", "marketing"),
    ("", "", r"^(display|banner|expandable|interstitial|cpm)$", "", "", "", "display", "marketing"),
    ("", "", r"^(audio|podcast)$", "", "", "", "audio", "marketing"),
    ("", r"^(linkedin|lnkd\.in)$", "", "", "", "", "linkedin", "marketing"),
    ("", r"^(facebook|fb)$", "", "", "", "", "facebook", "marketing"),
    ("", r"^(youtube|yt)$", "", "", "", "", "youtube", "marketing"),
    ("", r"^(vk|vkontakte)$", "", "", "", "", "vk", "marketing"),
    ("", r"^(ok|odnoklassniki|ok\.ru)$", "", "", "", "", "odnoklassniki", "marketing"),
    ("", r"^(telegram|tg)$", "", "", "", "", "telegram", "marketing"),
    ("", r"^(vlog|rutube|dzen)$", "", "", "", "", "vlog", "marketing"),
    (
        "",
        r"(google|bing|yandex|baidu|duckduckgo|yahoo)",
        _PAID,
        "",
        "",
        "",
        "paid_search",
        "marketing",
    ),
    (
        "",
        r"(instagram|twitter|tiktok|pinterest|reddit|social)",
        _PAID,
        "",
        "",
        "",
        "paid_social",
        "marketing",
    ),
    ("", "", r"^(.*video.*)$", "", "", "", "paid_video", "marketing"),
    ("", "", r"^(shopping|product[ _-]?listing)$", "", "", "", "paid_shopping", "marketing"),
    (
        "",
        "",
        r"^(social|social[ _-]?network|social[ _-]?media|sm)$",
        "",
        "",
        "",
        "organic_social",
        "marketing",
    ),
    ("", "", r"^cross[ _-]?network$", "", "", "", "cross_network", "marketing"),
    ("", "", _PAID, "", "", "", "paid_other", "marketing"),
    ("", "", r"^organic$", "", "", "", "organic_search", "marketing"),
    ("", "", r"^referral$", "", "", "", "referral", "marketing"),
    # Untagged traffic, by referrer.
    ("", "", "", "", r"(^|\.)(linkedin\.com|lnkd\.in)$", "", "linkedin", "marketing"),
    ("", "", "", "", r"(^|\.)(facebook\.com|fb\.com|fb\.me)$", "", "facebook", "marketing"),
    ("", "", "", "", r"(^|\.)(youtube\.com|youtu\.be)$", "", "youtube", "marketing"),
    ("", "", "", "", r"(^|\.)(vk\.com|vk\.ru|vkontakte\.ru)$", "", "vk", "marketing"),
    ("", "", "", "", r"(^|\.)(ok\.ru|odnoklassniki\.ru)$", "", "odnoklassniki", "marketing"),
    ("", "", "", "", r"(^|\.)(t\.me|telegram\.org|telegram\.me)$", "", "telegram", "marketing"),
    ("", "", "", "", r"(^|\.)(rutube\.ru|dzen\.ru|vimeo\.com)$", "", "vlog", "marketing"),
    ("", "", "", "", _SOCIAL_OTHER, "", "organic_social", "marketing"),
    ("", "", "", "", _SEARCH_ENGINES, "", "organic_search", "marketing"),
    (
        "",
        "",
        "",
        "",
        r"(mail\.google\.com|outlook\.|e\.mail\.ru|mail\.yandex)",
        "",
        "email",
        "marketing",
    ),
    # Our own properties.
    ("app", "", "", "", "", "", "self_service", "self_service"),
    (
        "server",
        "",
        "",
        "",
        "",
        r"^(signed up|trial started|order completed|.*activated)$",
        "self_service",
        "self_service",
    ),
    ("blog", "", "", "", r".", "", "referral", "marketing"),
    ("blog", "", "", "", "", "", "blog", "marketing"),
    ("website", "", "", "", r".", "", "referral", "marketing"),
    ("", r".", "", "", "", "", "referral", "marketing"),
    ("website", "", "", "", "", "", "direct", "marketing"),
    ("", "", "", "", "", "", "website", "marketing"),
]

RULE_FIELDS = ("source_kind", "utm_source", "utm_medium", "utm_campaign", "referrer", "event")


@dataclass(frozen=True)
class ChannelInputs:
    source_kind: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    referrer: str = ""  # host only, lower case, without "www."
    event: str = ""

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in RULE_FIELDS if getattr(self, f)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelInputs:
        return cls(**{f: str(data.get(f) or "") for f in RULE_FIELDS})


CompiledRule = tuple[tuple[tuple[str, re.Pattern[str]], ...], str, str]

log = logging.getLogger(__name__)

# The standard engine backtracks, so a pattern is vetted before it is saved (and again before
# it runs): a quantifier over something that is itself quantified or has alternatives —
# `^(a+)+$`, `(a|aa)*` — takes exponential time on a near-miss; a back-reference can too; and
# many unbounded quantifiers in a row are polynomial. Values are cut to MAX_MATCH_INPUT
# characters before matching, which bounds what the accepted patterns can cost.
MAX_MATCH_INPUT = 200
MAX_UNBOUNDED = 3
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT}
_NEVER = re.compile(r"(?!)")


def _walk(items: Any, inside_repeat: bool, counts: dict[str, int]) -> None:
    for op, arg in items:
        if op in _REPEATS:
            _low, high, body = arg
            if high == sre_parse.MAXREPEAT:
                counts["unbounded"] += 1
            if high > 1:
                if inside_repeat:
                    counts["nested"] += 1
                _walk(body, True, counts)
            else:
                _walk(body, inside_repeat, counts)
        elif op == sre_parse.BRANCH:
            if inside_repeat:
                counts["nested"] += 1
            for branch in arg[1]:
                _walk(branch, inside_repeat, counts)
        elif op == sre_parse.SUBPATTERN:
            _walk(arg[-1], inside_repeat, counts)
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            _walk(arg[1], inside_repeat, counts)
        elif op == sre_parse.ATOMIC_GROUP:
            _walk(arg, inside_repeat, counts)
        elif op == sre_parse.GROUPREF_EXISTS:
            counts["backref"] += 1
            for part in arg[1:]:
                if part is not None:
                    _walk(part, inside_repeat, counts)
        elif op == sre_parse.GROUPREF:
            counts["backref"] += 1


def pattern_problem(pattern: str) -> str:
    """Why `pattern` may not be a channel-rule condition ("" when it may)."""
    if len(pattern) > 500:
        return _("A pattern has at most %(n)d characters.") % {"n": 500}
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        return _("Not a valid pattern: %(error)s") % {"error": exc}
    counts = {"nested": 0, "unbounded": 0, "backref": 0}
    _walk(parsed, False, counts)
    if counts["nested"]:
        return _(
            "This pattern repeats a group that itself repeats or has alternatives, like "
            "(a+)+ or (a|ab)*: matching it can take practically forever. Repeat a single "
            "character or class instead, e.g. a+ or [ab]*."
        )
    if counts["backref"]:
        return _("Back-references (\\1, (?P=name)) are not allowed in channel rules.")
    if counts["unbounded"] > MAX_UNBOUNDED:
        return _("A pattern has at most %(n)d unbounded repetitions (*, +, {n,}).") % {
            "n": MAX_UNBOUNDED
        }
    return ""


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    problem = pattern_problem(pattern)
    if problem:  # saved before the check existed: it never matches rather than hang ingestion
        log.warning("channel rule pattern %r is refused and never matches: %s", pattern, problem)
        return _NEVER
    return re.compile(pattern, re.IGNORECASE)


def compile_rules(rows: list[dict[str, str]]) -> list[CompiledRule]:
    """Rules as dicts (pattern fields + channel + department) → matchers, in order."""
    compiled: list[CompiledRule] = []
    for row in rows:
        checks = tuple((f, _compile(row[f])) for f in RULE_FIELDS if row.get(f))
        compiled.append((checks, row["channel"], row["department"]))
    return compiled


def default_rule_dicts() -> list[dict[str, str]]:
    return [
        dict(zip((*RULE_FIELDS, "channel", "department"), r, strict=True)) for r in DEFAULT_RULES
    ]


def classify(inputs: ChannelInputs, rules: list[CompiledRule]) -> tuple[str, str]:
    """(channel, department) of the first matching rule; ("direct", "marketing") if none."""
    values = {f: getattr(inputs, f)[:MAX_MATCH_INPUT] for f in RULE_FIELDS}
    for checks, channel, department in rules:
        if all(pattern.search(values[field]) for field, pattern in checks):
            return channel, department
    return "direct", "marketing"


def referrer_host(url: str) -> str:
    if not url:
        return ""
    host = url.split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("@")[-1]
    host = host.split(":", 1)[0].lower()
    return host.removeprefix("www.")


# --- the rules in force, cached per process ---------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"version": None, "rules": None, "checked": 0.0}
CACHE_SECONDS = 5.0


def active_rules() -> tuple[int, list[CompiledRule]]:
    """The published rule set with the highest version (or the defaults, version 0), cached for
    a few seconds per process; background reclassification fixes what a stale cache decided."""
    from tandem.tracking.models import ChannelRuleSet

    now = time.monotonic()
    with _cache_lock:
        if _cache["rules"] is not None and now - _cache["checked"] < CACHE_SECONDS:
            return _cache["version"], _cache["rules"]
    latest = ChannelRuleSet.objects.order_by("-version").values_list("version", flat=True).first()
    with _cache_lock:
        if _cache["rules"] is not None and _cache["version"] == (latest or 0):
            _cache["checked"] = now
            return _cache["version"], _cache["rules"]
    rules = load_rules(latest or 0)
    with _cache_lock:
        _cache.update(version=latest or 0, rules=rules, checked=now)
    return latest or 0, rules


def load_rules(version: int) -> list[CompiledRule]:
    """The compiled rules of one published version (0: the defaults)."""
    from tandem.tracking.models import ChannelRule

    if version == 0:
        return compile_rules(default_rule_dicts())
    rows = ChannelRule.objects.filter(ruleset__version=version).order_by("position")
    return compile_rules(
        [{f: str(getattr(r, f)) for f in (*RULE_FIELDS, "channel", "department")} for r in rows]
    )


def forget_cached_rules() -> None:
    with _cache_lock:
        _cache.update(version=None, rules=None, checked=0.0)
