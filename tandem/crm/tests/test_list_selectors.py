"""The contact and account lists have one selector each: the page and the API, given the same
filters, list the same records, for a rep and for the head; and each list page or API page costs
at most 12 queries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.crm.tests.api_client import api_as

QUERY_BUDGET = 12

CONTACT_FILTERS: list[dict[str, Any]] = [
    {},
    {"q": "ada"},
    {"q": "  BUYER  "},
    {"lifecycle_stage": "customer"},
    {"q": "buyer", "lifecycle_stage": "lead"},
    {"consent": "granted"},
    {"tag": "vip"},
    {"tag": "vip", "lifecycle_stage": "customer"},
    {"q": "nothing matches this"},
]
ACCOUNT_FILTERS: list[dict[str, Any]] = [
    {},
    {"q": "north"},  # the region matches too, on the page and in the API alike
    {"q": "LOWER.example"},
    {"industry": "medical"},
    {"q": "account", "industry": "other"},
    {"tag": "vip"},
    {"q": "nothing matches this"},
]


@pytest.fixture
def lists(world: World) -> World:
    """Beside the world's records: contacts in several stages, tagged, with consent, and
    accounts whose region alone matches a search."""
    system = Actor.system()
    rep = world.user("sales_rep")
    region_only = crm.account_create(
        actor=system, name="Polar Ltd", region="north coast", industry="medical", owner_id=rep.pk
    )
    crm.account_create(
        actor=system, name="Far Away", region="north", domains=["lower.example.org"], tags=["vip"]
    )
    for i, (first, stage) in enumerate(
        [("Ada", "customer"), ("Adam", "lead"), ("Bea", "customer"), ("Cy", "subscriber")]
    ):
        crm.contact_create(
            actor=system,
            first_name=first,
            last_name="Buyer" if i % 2 else "Seller",
            email=f"{first.lower()}@polar.example.com",
            account_id=region_only.pk if i < 3 else None,
            owner_id=rep.pk if i % 2 == 0 else world.user("sales_rep", "south").pk,
            lifecycle_stage=stage,
            tags=["vip"] if i < 2 else [],
        )
    Contact.objects.filter(first_name__in=["Ada", "Cy"]).update(consent="granted")
    return world


def _page_ids(user: User, path: str, filters: dict[str, Any]) -> set[int]:
    client = Client()
    client.force_login(user)
    response = client.get(path, filters)
    assert response.status_code == 200
    html = response.content.decode()
    return {int(pk) for pk in re.findall(rf'<a href="{path}(\d+)/">', html)}


def _api_ids(user: User, path: str, filters: dict[str, Any]) -> set[int]:
    response = api_as(user, "read").get(path, data={**filters, "limit": 100})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_cursor"] is None
    return {item["id"] for item in body["items"]}


@pytest.mark.parametrize("role", ["head", "sales_rep"])
def test_the_contact_page_and_api_list_the_same_contacts(lists: World, role: str) -> None:
    user = lists.user(role)
    seen = 0
    for filters in CONTACT_FILTERS:
        on_page = _page_ids(user, "/crm/contacts/", filters)
        assert on_page == _api_ids(user, "/contacts", filters), filters
        seen += len(on_page)
    assert seen > 10  # the filters do select something
    assert _page_ids(user, "/crm/contacts/", {"q": "ada"}) == set(
        Contact.objects.filter(first_name__in=["Ada", "Adam"])
        .filter(pk__in=[c.pk for c in _visible(user, Contact)])
        .values_list("pk", flat=True)
    )


@pytest.mark.parametrize("role", ["head", "sales_rep"])
def test_the_account_page_and_api_list_the_same_accounts(lists: World, role: str) -> None:
    user = lists.user(role)
    for filters in ACCOUNT_FILTERS:
        assert _page_ids(user, "/crm/accounts/", filters) == _api_ids(user, "/accounts", filters), (
            filters
        )
    # A search by region finds the account on both (the API used to search name and domain).
    polar = Account.objects.get(name="Polar Ltd")
    assert polar.pk in _api_ids(user, "/accounts", {"q": "north coast"})
    far = Account.objects.get(name="Far Away").pk
    assert (far in _api_ids(user, "/accounts", {"q": "north"})) is (role == "head")


def _visible(user: User, model: type[Any]) -> list[Any]:
    from tandem.core.access import scoped

    return list(scoped(user, model))


def _queries(run: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured.captured_queries)


@pytest.mark.parametrize("role", ["head", "sales_rep"])
def test_a_list_page_and_an_api_page_stay_within_the_query_budget(lists: World, role: str) -> None:
    user = lists.user(role)
    client = Client()
    assert (
        client.post(
            "/login/", {"username": user.username, "password": "correct-horse-battery-staple-42"}
        ).status_code
        == 302
    )
    api = api_as(user, "read")
    pages = {
        "contact page": lambda: client.get("/crm/contacts/"),
        "contact search": lambda: client.get("/crm/contacts/", {"q": "buyer", "tag": "vip"}),
        "account page": lambda: client.get("/crm/accounts/"),
        "contact API page": lambda: api.get("/contacts", data={"limit": 25}),
        "account API page": lambda: api.get("/accounts", data={"limit": 25}),
    }
    for name, run in pages.items():
        run()  # session, language and caches settled as on any later request
        assert _queries(run) <= QUERY_BUDGET, name
        assert run().status_code == 200
