"""The timeline through the API: per contact, per account, filtered lists, logging an activity."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.crm.tests.api_client import api_as

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def history(world):
    """Four more touchpoints for the north sales rep's contact, one of them by a bot."""
    contact = world.contacts[("sales_rep", "north")]
    rows = {
        "email": crm.touchpoint_record(
            channel="email", kind="open", department="marketing", contact=contact, occurred_at=T0
        ),
        "call": crm.touchpoint_record(
            channel="phone",
            kind="sales_call",
            department="sales",
            contact=contact,
            occurred_at=T0 + dt.timedelta(days=1),
        ),
        "bot": crm.touchpoint_record(
            channel="website",
            kind="page_view",
            department="marketing",
            contact=contact,
            occurred_at=T0 + dt.timedelta(days=2),
            is_bot=True,
        ),
        "visit": crm.touchpoint_record(
            channel="visit",
            kind="field_visit",
            department="field",
            account=world.accounts[("sales_rep", "north")],
            occurred_at=T0 + dt.timedelta(days=3),
        ),
    }
    return contact, rows


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_contact_timeline_newest_first_without_bots(world, history):
    contact, rows = history
    first = Touchpoint.objects.get(contact=contact, kind="page_view", is_bot=False)
    api = api_as(world.user("sales_rep"), "read")
    assert _ids(api.get(f"/contacts/{contact.pk}/timeline")) == [
        first.pk,
        rows["call"].pk,
        rows["email"].pk,
    ]
    assert _ids(api.get(f"/contacts/{contact.pk}/timeline?include_bots=true")) == [
        first.pk,
        rows["bot"].pk,
        rows["call"].pk,
        rows["email"].pk,
    ]
    assert _ids(api.get(f"/contacts/{contact.pk}/timeline?department=sales")) == [rows["call"].pk]
    assert _ids(api.get(f"/contacts/{contact.pk}/timeline?channel=email")) == [rows["email"].pk]
    page = api.get(f"/contacts/{contact.pk}/timeline?limit=2").json()
    assert [i["id"] for i in page["items"]] == [first.pk, rows["call"].pk]
    rest = api.get(f"/contacts/{contact.pk}/timeline?limit=2&cursor={page['next_cursor']}")
    assert rest.json() == {"items": [rest.json()["items"][0]], "next_cursor": None}
    assert rest.json()["items"][0]["id"] == rows["email"].pk


def test_account_timeline_includes_account_level_rows(world, history):
    contact, rows = history
    account = world.accounts[("sales_rep", "north")]
    api = api_as(world.user("head"), "read")
    first = Touchpoint.objects.get(contact=contact, kind="page_view", is_bot=False)
    assert _ids(api.get(f"/accounts/{account.pk}/timeline")) == [
        first.pk,
        rows["visit"].pk,
        rows["call"].pk,
        rows["email"].pk,
    ]


def test_touchpoint_list_filters(world, history):
    contact, rows = history
    api = api_as(world.user("marketer"), "read")
    assert _ids(api.get("/touchpoints?department=field")) == [rows["visit"].pk]
    assert _ids(api.get(f"/touchpoints?contact_id={contact.pk}&channel=phone")) == [rows["call"].pk]
    other = world.accounts[("field_rep", "south")]
    assert _ids(api.get(f"/touchpoints?account_id={other.pk}")) == list(
        Touchpoint.objects.filter(account=other).values_list("pk", flat=True)
    )
    assert rows["bot"].pk not in _ids(api.get("/touchpoints?limit=200"))
    assert rows["bot"].pk in _ids(api.get("/touchpoints?limit=200&include_bots=1"))


def test_rep_logs_a_sales_call(world):
    rep = world.user("sales_rep", "south")
    contact = world.contacts[("sales_rep", "south")]
    response = api_as(rep).post(
        "/touchpoints",
        {
            "contact_id": contact.pk,
            "channel": "phone",
            "kind": "sales_call",
            "department": "sales",
            "occurred_at": "2025-04-02T15:30:00+03:00",
            "content": "Discussed the spring order",
            "properties": {"minutes": 25},
        },
    )
    assert response.status_code == 201, response.content
    row = Touchpoint.objects.get(pk=response.json()["id"])
    assert (row.contact, row.account, row.actor, row.source) == (
        contact,
        contact.account,
        rep,
        "api",
    )
    assert row.occurred_at == dt.datetime(2025, 4, 2, 12, 30, tzinfo=dt.UTC)
    assert (row.kind, row.department, row.properties) == ("sales_call", "sales", {"minutes": 25})


def test_touchpoint_for_an_account_only(world):
    head = world.user("head")
    account = world.accounts[("field_rep", "north")]
    response = api_as(head).post(
        "/touchpoints",
        {
            "account_id": account.pk,
            "channel": "visit",
            "kind": "field_visit",
            "department": "field",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["account_id"], body["contact_id"], body["actor_id"]) == (account.pk, None, head.pk)
