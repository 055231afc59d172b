"""Is this touchpoint a person? Crawlers, email security scanners, prefetches and proxied opens.

`bot_reason` returns a short reason ("crawler", "prefetch", "scanner_click", "trap_link",
"proxied_open") or "" for a person. Flagged touchpoints are stored (with `is_bot=True` and
`properties["bot_reason"]`) and left out of scoring and attribution by default.

Sources of the patterns: the user agents crawlers announce publicly; Apple Mail Privacy
Protection fetches images from Apple's network (17.0.0.0/8) with a bare "Mozilla/5.0" user
agent; Gmail fetches images through "GoogleImageProxy" (via ggpht.com); Yahoo through
"YahooMailProxy"; security scanners (Microsoft Safe Links, Proofpoint, Mimecast, Barracuda)
click every link within seconds of delivery, including links no person can see.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping

CRAWLER_UA = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrap|archiver|fetcher|facebookexternalhit|"
    r"embedly|quora link preview|whatsapp|skypeuripreview|slack-imgproxy|"
    r"headlesschrome|phantomjs|lighthouse|pagespeed|pingdom|uptimerobot|statuscake|"
    r"python-requests|python-urllib|aiohttp|go-http-client|curl/|wget/|libwww|httpclient|"
    r"okhttp|java/|node-fetch|axios/|postmanruntime|insomnia|scrapy|ahrefs|semrush|mj12|"
    r"dotbot|petalbot|bytespider|gptbot|ccbot|claudebot|yandex(bot|images|metrika)|"
    r"mail\.ru_bot|barracuda|proofpoint|mimecast|safelinks|trendmicro|forcepoint|symantec|"
    r"zscaler|cisco ironport",
    re.IGNORECASE,
)
PROXY_UA = re.compile(
    r"googleimageproxy|ggpht\.com|yahoomailproxy|apple ?mail ?proxy", re.IGNORECASE
)
APPLE_NETWORKS = [ipaddress.ip_network("17.0.0.0/8")]
SCANNER_CLICK_SECONDS = 10
PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


def is_crawler(user_agent: str) -> bool:
    return bool(user_agent) and bool(CRAWLER_UA.search(user_agent))


def is_prefetch(meta: Mapping[str, str]) -> bool:
    """Browser or client prefetch/preview (Purpose, Sec-Purpose, X-Purpose, X-Moz headers)."""
    return any(
        re.search(r"prefetch|preview|prerender", str(meta.get(h, "")), re.IGNORECASE)
        for h in PREFETCH_HEADERS
    )


def _in_apple_network(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in APPLE_NETWORKS)


def is_proxied_open(user_agent: str, ip: str) -> bool:
    if PROXY_UA.search(user_agent or ""):
        return True
    return _in_apple_network(ip) and (user_agent or "").strip() in ("", "Mozilla/5.0")


def bot_reason(
    *,
    user_agent: str = "",
    ip: str = "",
    meta: Mapping[str, str] | None = None,
    kind: str = "",
    delivered_at: dt.datetime | None = None,
    at: dt.datetime | None = None,
    trap: bool = False,
) -> str:
    """The reason this interaction is not a person, or "" if it looks like one.

    `kind` is "open" for email opens and "click" for link clicks; `delivered_at` is when the
    email carrying the link was delivered, if known."""
    if trap:
        return "trap_link"
    if meta is not None and is_prefetch(meta):
        return "prefetch"
    if kind == "open" and is_proxied_open(user_agent, ip):
        return "proxied_open"
    if is_crawler(user_agent):
        return "crawler"
    if (
        kind == "click"
        and delivered_at is not None
        and at is not None
        and dt.timedelta(0) <= at - delivered_at <= dt.timedelta(seconds=SCANNER_CLICK_SECONDS)
    ):
        return "scanner_click"
    return ""
