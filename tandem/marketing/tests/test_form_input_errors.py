"""Bad input on the four marketing forms (campaigns, events, content,
social) and the content engagement API is a 4xx or a form error, never a 500, and stores nothing.

Each case posts a valid form with one thing wrong: a wrong type in a reference (`owner_id`,
`campaign_id`: letters, a fraction, a number beyond any id, an id that does not exist), oversize
text, the required fields missing, or a body in a wrong encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.db import models
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.core.tokens import token_create
from tandem.crm.models import Touchpoint
from tandem.marketing.campaigns import services as campaigns
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.content import services as content
from tandem.marketing.content.models import ContentAsset
from tandem.marketing.events.models import MarketingEvent
from tandem.marketing.social.models import SocialPost

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
HUGE = "9" * 30  # beyond any id column: OverflowError on SQLite, out of range on PostgreSQL
NO_SUCH = "987654"


def _valid(form: str, campaign: Campaign, owner: User) -> dict[str, str]:
    return {
        "campaign": {
            "name": "Autumn",
            "goal": "MQLs",
            "channels": "email",
            "budget": "100",
            "starts_on": "2026-09-01",
            "ends_on": "2026-09-30",
            "owner_id": str(owner.pk),
            "utm_code": "autumn",
        },
        "event": {
            "kind": "webinar",
            "title": "Demo day",
            "slug": "demo-day",
            "description": "",
            "starts_at": "2030-01-10T10:00",
            "ends_at": "2030-01-10T11:00",
            "location": "",
            "join_url": "https://meet.example/x",
            "organizer_name": "Org",
            "organizer_email": "org@example.com",
            "campaign_id": str(campaign.pk),
            "reminder_hours": "24, 1",
        },
        "content": {
            "kind": "deck",
            "title": "Deck",
            "key": "deck",
            "url": "https://example.com/deck",
            "description": "",
            "campaign_id": str(campaign.pk),
        },
        "social": {
            "network": "telegram",
            "text": "Hello",
            "link_url": "https://example.com/",
            "campaign_id": str(campaign.pk),
            "scheduled_at": "",
        },
    }[form]


URLS = {
    "campaign": "/marketing/campaigns/new",
    "event": "/marketing/events/new",
    "content": "/marketing/content/new",
    "social": "/marketing/social/new",
}
MODELS: dict[str, type[models.Model]] = {
    "campaign": Campaign,
    "event": MarketingEvent,
    "content": ContentAsset,
    "social": SocialPost,
}
REF = {"campaign": "owner_id", "event": "campaign_id", "content": "campaign_id"}
REF["social"] = "campaign_id"
TEXT = {"campaign": "name", "event": "title", "content": "title", "social": "text"}

Change = Callable[[dict[str, str]], None]


def _set(key: str, value: str) -> Change:
    return lambda data: data.__setitem__(key, value)


CASES: list[tuple[str, str, Callable[[str], Change]]] = [
    ("letters", "ref", lambda form: _set(REF[form], "abc")),
    ("fraction", "ref", lambda form: _set(REF[form], "1.5")),
    ("negative", "ref", lambda form: _set(REF[form], "-3")),
    ("huge", "ref", lambda form: _set(REF[form], HUGE)),
    ("missing-record", "ref", lambda form: _set(REF[form], NO_SUCH)),
    ("oversize", "text", lambda form: _set(TEXT[form], "x" * 10_001)),
    ("nul", "text", lambda form: _set(TEXT[form], "a\x00b")),
    ("missing", "all", lambda form: lambda data: data.clear()),
]


def _encoded(data: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in data.items())


@pytest.fixture
def marketer_client(world: World) -> Client:
    client = Client()
    client.force_login(world.user("marketer"))
    return client


@pytest.fixture
def campaign() -> Campaign:
    return campaigns.campaign_create(actor=SYSTEM, name="Base", utm_code="base")


@pytest.mark.parametrize("form", list(URLS))
@pytest.mark.parametrize(("case", "where", "change"), CASES, ids=[c[0] for c in CASES])
def test_bad_form_input_is_a_form_error_and_stores_nothing(
    form: str,
    case: str,
    where: str,
    change: Callable[[str], Change],
    marketer_client: Client,
    campaign: Campaign,
    world: World,
) -> None:
    model = MODELS[form]
    before = model._default_manager.count()
    data = _valid(form, campaign, world.user("marketer"))
    change(form)(data)
    response = marketer_client.post(URLS[form], data)
    assert response.status_code == 400, response.content[:500]
    assert model._default_manager.count() == before
    if where != "all":
        field = REF[form] if where == "ref" else TEXT[form]
        assert field in response.context["errors"], response.context["errors"]


@pytest.mark.parametrize("form", list(URLS))
def test_body_in_a_wrong_encoding_is_a_form_error(
    form: str, marketer_client: Client, campaign: Campaign, world: World
) -> None:
    """Latin-1 bytes where UTF-8 is declared: the text cannot be read, so it is refused."""
    model = MODELS[form]
    before = model._default_manager.count()
    data = _valid(form, campaign, world.user("marketer"))
    body = _encoded(data).replace(f"{TEXT[form]}={quote(data[TEXT[form]])}", f"{TEXT[form]}=Caf%E9")
    response = marketer_client.post(
        URLS[form], body, content_type="application/x-www-form-urlencoded; charset=utf-8"
    )
    assert response.status_code == 400
    assert TEXT[form] in response.context["errors"]
    assert model._default_manager.count() == before


@pytest.mark.parametrize("form", list(URLS))
def test_valid_form_is_stored(
    form: str, marketer_client: Client, campaign: Campaign, world: World
) -> None:
    """The base data of the cases above is valid: each case fails for its own reason only."""
    model = MODELS[form]
    before = model._default_manager.count()
    response = marketer_client.post(URLS[form], _valid(form, campaign, world.user("marketer")))
    assert response.status_code == 302, response.content[:500]
    assert model._default_manager.count() == before + 1


def test_owner_must_be_in_marketing(world: World) -> None:
    """A campaign owner is an active person of marketing (the form's list), not any user id."""
    from tandem.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        campaigns.campaign_create(
            actor=Actor(user=world.user("marketer")),
            name="X",
            owner_id=world.user("sales_rep").pk,
        )
    assert list(exc.value.errors) == ["owner_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "view", "contact_id": "abc"},
        {"action": "view", "contact_id": 10**30},
        {"action": "view", "contact_id": 987654},
        {"action": "x" * 500, "anonymous_id": "a"},
        {"action": "view", "anonymous_id": "a" * 5000},
        {"action": ["view"], "anonymous_id": "a"},
        {},
    ],
    ids=["letters", "huge", "missing-record", "oversize-action", "oversize-id", "type", "empty"],
)
def test_engagement_api_bad_input_is_4xx(world: World, campaign: Campaign, body: Any) -> None:
    asset = content.asset_create(
        actor=SYSTEM, kind="deck", title="D", url="https://example.com/d", campaign_id=campaign.pk
    )
    user = world.user("marketer")
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="write").secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    before = Touchpoint.objects.count()
    response = client.post(
        f"/api/v1/marketing/content/{asset.pk}/engagement", body, content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert Touchpoint.objects.count() == before


def test_engagement_api_bad_encoding_is_4xx(world: World, campaign: Campaign) -> None:
    asset = content.asset_create(
        actor=SYSTEM, kind="deck", title="D", url="https://example.com/d", campaign_id=campaign.pk
    )
    user = world.user("marketer")
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope="write").secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    before = Touchpoint.objects.count()
    response = client.post(
        f"/api/v1/marketing/content/{asset.pk}/engagement",
        b'{"action": "view", "anonymous_id": "\xff\xfe"}',
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500
    assert Touchpoint.objects.count() == before


def test_a_campaign_the_actor_cannot_see_is_no_such_campaign(
    world: World, campaign: Campaign
) -> None:
    """Services check visibility with the actor's scope: a rep (who sees no campaign) cannot
    attach a content asset to one by its id; the system actor can."""
    from tandem.core.errors import InvalidInput

    rep = Actor(user=world.user("field_rep"))
    with pytest.raises(InvalidInput) as exc:
        content.asset_create(
            actor=rep,
            kind="deck",
            title="D",
            url="https://example.com/d",
            campaign_id=str(campaign.pk),
        )
    assert exc.value.errors == {"campaign_id": ["No such campaign."]}
    assert not ContentAsset.objects.exists()
    asset = content.asset_create(
        actor=SYSTEM, kind="deck", title="D", url="https://example.com/d", campaign_id=campaign.pk
    )
    assert asset.campaign_id == campaign.pk


CAMPAIGN_FIELD_CASES = [
    ("starts_on", "2026-13-45"),
    ("ends_on", "next week"),
    ("channels", "fax"),
    ("goal", "g" * 501),
    ("budget", "1" * 41),
    ("utm_code", "c" * 101),
    ("owner_id", "-3"),
]


@pytest.mark.parametrize(
    ("field", "value"), CAMPAIGN_FIELD_CASES, ids=[c[0] for c in CAMPAIGN_FIELD_CASES]
)
def test_campaign_form_names_the_bad_field_and_keeps_what_was_typed(
    field: str, value: str, marketer_client: Client, campaign: Campaign, world: World
) -> None:
    data = {**_valid("campaign", campaign, world.user("marketer")), field: value}
    response = marketer_client.post("/marketing/campaigns/new", data)
    assert response.status_code == 400
    assert list(response.context["errors"]) == [field]
    assert response.context["data"]["name"] == "Autumn"
    assert Campaign.objects.count() == 1  # only the fixture's


COST_CASES = [
    ("amount", {"amount": ""}),
    ("incurred_on", {"incurred_on": ""}),
    ("incurred_on", {"incurred_on": "yesterday"}),
    ("channel", {"channel": "fax"}),
    ("note", {"note": "n" * 301}),
    ("amount", {"amount": "-5"}),
]


@pytest.mark.parametrize(("field", "change"), COST_CASES)
def test_cost_form_bad_input_is_a_form_error_and_adds_no_cost(
    field: str, change: dict[str, str], marketer_client: Client, campaign: Campaign
) -> None:
    data = {"channel": "email", "amount": "10", "incurred_on": "2026-09-01", "note": "", **change}
    response = marketer_client.post(f"/marketing/campaigns/{campaign.pk}/costs", data)
    assert response.status_code == 400
    assert field in response.context["errors"], response.context["errors"]
    assert not campaign.costs.exists()


def test_cost_import_without_a_file_is_a_form_error(
    marketer_client: Client, campaign: Campaign
) -> None:
    response = marketer_client.post(f"/marketing/campaigns/{campaign.pk}/costs/import", {})
    assert response.status_code == 400
    assert response.context["errors"] == {"file": ["Choose a CSV file."]}


FIELD_CASES = [
    ("content", "kind", "podcast"),
    ("content", "url", "u" * 2001),
    ("content", "description", "d" * 1001),
    ("social", "network", "myspace"),
    ("social", "scheduled_at", "soon"),
    ("social", "link_url", "l" * 2001),
]


@pytest.mark.parametrize(("form", "field", "value"), FIELD_CASES)
def test_content_and_social_forms_name_the_bad_field(
    form: str, field: str, value: str, marketer_client: Client, campaign: Campaign, world: World
) -> None:
    model = MODELS[form]
    before = model._default_manager.count()
    data = {**_valid(form, campaign, world.user("marketer")), field: value}
    response = marketer_client.post(URLS[form], data)
    assert response.status_code == 400
    assert list(response.context["errors"]) == [field]
    assert model._default_manager.count() == before


def test_marking_a_post_published_with_an_oversize_address_changes_nothing(
    marketer_client: Client, campaign: Campaign, world: World
) -> None:
    created = marketer_client.post(
        URLS["social"], _valid("social", campaign, world.user("marketer"))
    )
    assert created.status_code == 302
    post = SocialPost.objects.get()
    response = marketer_client.post(
        f"/marketing/social/{post.pk}/published", {"url": "https://x.example/" + "p" * 2000}
    )
    assert response.status_code == 400
    assert "url" in response.context["errors"]
    post.refresh_from_db()
    assert post.published_at is None


def test_stats_import_with_an_unknown_network_asks_for_one(marketer_client: Client) -> None:
    response = marketer_client.post("/marketing/social/stats", {"network": "myspace"})
    assert response.status_code == 400
    assert response.context["errors"]["network"] == ["Choose a network."]


def test_archiving_with_an_unknown_choice_keeps_the_asset(
    marketer_client: Client, campaign: Campaign
) -> None:
    asset = content.asset_create(
        actor=SYSTEM, kind="deck", title="Deck", key="deck", url="https://example.com/deck"
    )
    response = marketer_client.post(f"/marketing/content/{asset.pk}/archive", {"archived": "maybe"})
    assert response.status_code == 302
    asset.refresh_from_db()
    assert not asset.archived


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Hot", "kind": "dynamic", "definition": "{not json"}, "definition"),
        ({"name": "N" * 201, "kind": "dynamic", "definition": "{}"}, "name"),
        ({"name": "Hot", "kind": "smart", "definition": "{}"}, "kind"),
    ],
)
def test_segment_form_bad_input_is_a_form_error_and_saves_no_segment(
    body: dict[str, str], field: str, marketer_client: Client
) -> None:
    from tandem.marketing.models import Segment

    response = marketer_client.post("/marketing/segments/new", body)
    assert response.status_code == 400
    assert field in response.context["errors"]
    assert not Segment.objects.exists()


def test_live_count_with_a_bad_segment_id_answers_with_its_error(marketer_client: Client) -> None:
    response = marketer_client.post(
        "/marketing/segments/count", {"format": "json", "segment": "abc", "definition": "{}"}
    )
    assert response.status_code == 200
    assert response.json()["count"] is None
    assert response.json()["errors"]


def test_static_list_members_and_reactions_refuse_bad_input_and_change_nothing(
    marketer_client: Client,
) -> None:
    from tandem.marketing.models import SegmentReaction, StaticMember
    from tandem.marketing.segments import services as seg

    segment = seg.segment_create(actor=SYSTEM, name="List", kind="static", definition={})
    for url, body in (
        (f"/marketing/segments/{segment.pk}/members/add", {"contact_ids": ["1", "x"]}),
        (f"/marketing/segments/{segment.pk}/members/remove", {"contact_ids": ["-1"]}),
        (f"/marketing/segments/{segment.pk}/reactions/add", {"kind": "carrier-pigeon"}),
        (f"/marketing/segments/{segment.pk}/reactions/add", {"kind": "webhook", "url": "u" * 501}),
    ):
        response = marketer_client.post(url, body, follow=True)
        assert response.status_code == 200, url
        assert [m.level_tag for m in response.context["messages"]] == ["error"], url
    assert not StaticMember.objects.exists()
    assert not SegmentReaction.objects.exists()


def test_adding_filtered_contacts_without_a_list_asks_for_one(marketer_client: Client) -> None:
    response = marketer_client.post("/marketing/segments/add-contacts", {"segment": "abc"})
    assert response.status_code == 400
    assert response.context["errors"] == {"segment": ["Choose a static list."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "T", "subject": "S", "html": "<p>x</p>", "test_to": "not-an-address"}, "test_to"),
        ({"name": "T", "subject": "S" * 301, "html": "<p>x</p>"}, "subject"),
    ],
)
def test_template_form_bad_input_is_a_form_error(
    body: dict[str, str], field: str, marketer_client: Client
) -> None:
    from tandem.marketing.models import EmailTemplate

    response = marketer_client.post("/marketing/email/templates/new", body)
    assert response.status_code == 400
    assert field in response.context["errors"]
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"template": "abc"}, "template"),
        ({"template_b": "1.5"}, "template_b"),
        ({"ab_test_percent": "half"}, "ab_test_percent"),
        ({"ab_test_percent": "101"}, "ab_test_percent"),
        ({"ab_wait_minutes": "0"}, "ab_wait_minutes"),
        ({"ab_winner_rule": "luck"}, "ab_winner_rule"),
        ({"segment": ""}, "segment"),
        ({"test": "1", "test_to": "nobody"}, "test_to"),
    ],
)
def test_send_form_bad_input_is_a_form_error_and_saves_no_send(
    change: dict[str, str], field: str, marketer_client: Client
) -> None:
    from tandem.marketing.email import sending
    from tandem.marketing.models import EmailSend, SubscriptionType
    from tandem.marketing.segments import services as seg

    template = sending.template_save(actor=SYSTEM, name="T", subject="Hi", html="<p>Hi</p>")
    segment = seg.segment_create(actor=SYSTEM, name="All", kind="static", definition={})
    news = SubscriptionType.objects.get_or_create(key="newsletter", defaults={"name": "N"})[0]
    body = {
        "name": "Autumn",
        "template": str(template.pk),
        "segment": str(segment.pk),
        "subscription_type": str(news.pk),
        "from_email": "news@example.com",
        "ab_test_percent": "0",
        "ab_winner_rule": "opens",
        "ab_wait_minutes": "240",
        **change,
    }
    response = marketer_client.post("/marketing/email/sends/new", body)
    assert response.status_code == 400
    assert field in response.context["errors"], response.context["errors"]
    assert not EmailSend.objects.exists()
