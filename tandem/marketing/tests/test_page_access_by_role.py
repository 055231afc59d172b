"""Every marketing page (each URL pattern of `tandem/marketing/urls.py`,
including the patterns it adds from sub-modules) for each of the five roles of the `world`
fixture: who gets it, and who gets 403/404.

Who may (`tandem.core.access.can`): `use_marketing` (marketers, the head, admins) for every page,
`read_content` (every role) for the content library's list, asset page and personal share link,
and everyone for the public event registration page. A page answering GET must answer 200; a
POST-only action must do its work (not 403/404/405, not a 5xx). A URL pattern added without a way
to build it here fails `test_every_marketing_url_is_covered`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from conftest import ROLES, World
from tandem.core.audit import Actor
from tandem.core.models import Role
from tandem.marketing import urls as marketing_urls
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.content import services as content
from tandem.marketing.events import services as events
from tandem.marketing.models import EmailSend, EmailTemplate, SubscriptionType
from tandem.marketing.segments import services as segments
from tandem.marketing.segments.models import SegmentReaction
from tandem.marketing.social import services as social

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
EVERYONE = frozenset(Role.values)
MARKETING = frozenset({Role.MARKETER, Role.HEAD, Role.ADMIN})

# Pages sales uses too (scope rule `content_rule`: reps view the library, take a share link).
OPEN_TO = {
    "content_list": EVERYONE,
    "content_detail": EVERYONE,
    "content_share": EVERYONE,
    "event_register": EVERYONE,  # the public registration page
}
# The record each URL's `pk` names, by URL name prefix.
PK_OF = {
    "segment": "segment",
    "template": "template",
    "campaign": "campaign",
    "content": "asset",
    "event": "event",
    "social": "post",
    "subscription": "subscription",
    "send": "send",
}
# Values for the other URL arguments (an action that exists, a kind...).
ARGS: dict[str, dict[str, Callable[[dict[str, Any]], Any]]] = {
    "campaign_cost_edit": {"cost_pk": lambda o: o["cost"].pk},
    "campaign_cost_delete": {"cost_pk": lambda o: o["cost"].pk},
    "event_action": {"action": lambda o: "no_shows"},
    "event_kind_lead_rule": {"kind": lambda o: "webinar"},
    "event_register": {"slug": lambda o: o["event"].slug},
    "subscription_action": {"action": lambda o: "archive"},
    "social_connection_edit": {"network": lambda o: "ok"},
    "social_connection_test": {"network": lambda o: "ok"},
    "social_connection_disconnect": {"network": lambda o: "ok"},
    "segment_reaction_action": {
        "reaction_id": lambda o: o["reaction"].pk,
        "action": lambda o: "pause",
    },
}


@dataclass(frozen=True)
class Page:
    name: str
    params: tuple[str, ...]


def _patterns(patterns: list[Any]) -> Iterator[Page]:
    for p in patterns:
        if isinstance(p, URLResolver):  # an include(): its patterns too
            yield from _patterns(p.url_patterns)
        elif isinstance(p, URLPattern) and p.name:
            yield Page(p.name, tuple(p.pattern.regex.groupindex))


PAGES = sorted(set(_patterns(marketing_urls.urlpatterns)), key=lambda p: p.name)


def _objects() -> dict[str, Any]:
    campaign = campaigns.campaign_create(actor=SYSTEM, name="Roles", utm_code="roles")
    cost = campaigns.cost_add(
        actor=SYSTEM, campaign=campaign, channel="email", amount="10", incurred_on="2026-01-01"
    )
    segment = segments.segment_create(
        actor=SYSTEM, name="S", definition={"type": "tag", "op": "has", "value": "vip"}
    )
    starts = timezone.now() + dt.timedelta(days=3)
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>")
    subscription = SubscriptionType.objects.get_or_create(
        key="roles_test", defaults={"name": "Roles test"}
    )[0]
    return {
        "campaign": campaign,
        "cost": cost,
        "segment": segment,
        # stored as it is (creating a webhook through the service resolves its host name)
        "reaction": SegmentReaction.objects.create(
            segment=segment, kind="webhook", url="https://hooks.example.com/x"
        ),
        "template": template,
        "send": EmailSend.objects.create(  # a draft: Send now and Cancel both apply
            name="Roles send",
            template=template,
            segment=segment,
            subscription_type=subscription,
            from_email="news@example.com",
        ),
        "asset": content.asset_create(
            actor=SYSTEM, kind="deck", title="Deck", url="https://example.com/deck"
        ),
        "event": events.event_create(
            actor=SYSTEM,
            kind="webinar",
            title="Roles webinar",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            organizer_name="M",
            organizer_email="m@example.com",
        ),
        "post": social.post_create(actor=SYSTEM, network="telegram", text="Hello"),
        "subscription": subscription,
    }


def _url(page: Page, objects: dict[str, Any]) -> str:
    kwargs: dict[str, Any] = {}
    for param in page.params:
        if param == "pk":
            prefix = page.name.split("_", 1)[0]
            kwargs["pk"] = objects[PK_OF[prefix]].pk
        else:
            kwargs[param] = ARGS[page.name][param](objects)
    return reverse(f"marketing:{page.name}", kwargs=kwargs)


def test_every_marketing_url_is_covered() -> None:
    """Each pattern can be built: a new page needs its arguments in PK_OF/ARGS above."""
    assert len(PAGES) >= 40
    missing = [
        (page.name, param)
        for page in PAGES
        for param in page.params
        if (param == "pk" and page.name.split("_", 1)[0] not in PK_OF)
        or (param != "pk" and param not in ARGS.get(page.name, {}))
    ]
    assert missing == []
    assert {"template_list", "send_new"} <= {p.name for p in PAGES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_marketing_page_access_by_role(page: Page, role: str, world: World) -> None:
    if any(
        (param == "pk" and page.name.split("_", 1)[0] not in PK_OF)
        or (param != "pk" and param not in ARGS.get(page.name, {}))
        for param in page.params
    ):
        pytest.fail(f"no recipe for {page.name}: see test_every_marketing_url_is_covered")
    url = _url(page, _objects())
    client = Client()
    client.force_login(world.user(role))
    allowed = role in OPEN_TO.get(page.name, MARKETING)
    response = client.get(url)
    method = "GET"
    if response.status_code == 405:  # a POST-only action
        method = "POST"
        response = client.post(url, {})
    status = response.status_code
    if not allowed:
        assert status in (403, 404), f"{role} {method} {url}: {status}"
    elif method == "GET":
        assert status == 200, f"{role} {method} {url}: {status}"
    else:
        assert status not in (403, 404, 405), f"{role} POST {url}: {status}"
        assert status < 500, f"{role} POST {url}: {status}"
