"""Accounts and contacts through the API: CRUD, PATCH, filters, pages, the token in the audit."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.core.audit import Actor
from tandem.core.models import ApiToken, AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.crm.tests.api_client import api_as
from tandem.tracking.services import consent_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def test_account_create_read_update_delete_with_token_in_audit(world):
    head = world.user("head")
    api = api_as(head)
    token = ApiToken.objects.get(user=head)
    response = api.post(
        "/accounts",
        {
            "name": " Agro Ltd ",
            "domains": ["https://www.Agro.example.com/"],
            "industry": "agriculture",
            "industry_attributes": {"farm_area_ha": 120},
            "tags": ["key", "north"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Agro Ltd"
    assert body["domains"] == ["agro.example.com"]
    assert body["industry_attributes"] == {"farm_area_ha": 120.0}
    assert body["tags"] == ["key", "north"]
    assert body["owner_id"] == head.pk  # defaults to the caller
    pk = body["id"]
    assert api.get(f"/accounts/{pk}").json() == body

    response = api.patch(f"/accounts/{pk}", {"region": "North", "owner_id": None})
    assert response.status_code == 200
    account = Account.objects.get(pk=pk)
    assert (account.name, account.region, account.owner_id) == ("Agro Ltd", "North", None)
    assert account.industry_attributes == {"farm_area_ha": 120.0}  # untouched by PATCH

    assert api.delete(f"/accounts/{pk}").status_code == 204
    assert not Account.objects.filter(pk=pk).exists()
    entries = AuditEntry.objects.filter(model="crm.Account", object_id=str(pk)).order_by("id")
    assert [(e.action, e.actor_id, e.token_id) for e in entries] == [
        ("create", head.pk, token.pk),
        ("update", head.pk, token.pk),
        ("delete", head.pk, token.pk),
    ]
    assert entries[1].changes == {"owner": [head.pk, None], "region": ["", "North"]}


def test_contact_create_read_update_delete_with_token_in_audit(world):
    marketer = world.user("marketer")
    api = api_as(marketer)
    account = world.accounts[("sales_rep", "north")]
    response = api.post(
        "/contacts",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ADA@Example.com",
            "emails": ["ada@work.example.com"],
            "account_id": account.pk,
            "lifecycle_stage": "mql",
            "tags": ["vip"],
            "owner_id": None,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["lifecycle_stage"], body["owner_id"], body["consent"]) == (
        "ada@example.com",
        "mql",
        None,
        "unknown",
    )
    pk = body["id"]
    contact = Contact.objects.get(pk=pk)
    assert sorted(contact.emails.values_list("email", flat=True)) == [
        "ada@example.com",
        "ada@work.example.com",
    ]
    response = api.patch(f"/contacts/{pk}", {"title": "CTO", "tags": []})
    assert response.status_code == 200
    assert response.json()["title"] == "CTO"
    assert response.json()["tags"] == []
    assert response.json()["email"] == "ada@example.com"
    update = AuditEntry.objects.get(model="crm.Contact", object_id=str(pk), action="update")
    assert update.token == ApiToken.objects.get(user=marketer)
    assert update.changes == {"tags": [["vip"], []], "title": ["", "CTO"]}
    # marketers may not delete
    assert api.delete(f"/contacts/{pk}").status_code == 403
    assert api_as(world.user("admin")).delete(f"/contacts/{pk}").status_code == 204
    assert not Contact.objects.filter(pk=pk).exists()


def test_empty_patch_changes_nothing(world):
    contact = world.contacts[("sales_rep", "north")]
    api = api_as(world.user("sales_rep"))
    before = AuditEntry.objects.count()
    response = api.patch(f"/contacts/{contact.pk}", {})
    assert response.status_code == 200
    assert response.json()["last_name"] == "sales_rep customer"
    assert AuditEntry.objects.count() == before


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_contact_filters(world):
    head = world.user("head")
    api = api_as(head)
    system = Actor.system()
    account = world.accounts[("field_rep", "south")]
    a = crm.contact_create(
        actor=system,
        first_name="Olga",
        last_name="Petrova",
        email="olga@farm.example.com",
        emails=["o.p@mail.example.com"],
        lifecycle_stage="customer",
        tags=["vip"],
        owner_id=head.pk,
        account_id=account.pk,
    )
    consent_record(contact=a, purpose="newsletter", state="granted")
    b = crm.contact_create(
        actor=system,
        first_name="Ivan",
        title="Agronomist",
        lifecycle_stage="customer",
        owner_id=head.pk,
    )
    assert _ids(api.get("/contacts?q=petro")) == [a.pk]
    assert _ids(api.get("/contacts?q=agronom")) == [b.pk]
    assert _ids(api.get("/contacts?lifecycle_stage=customer")) == [b.pk, a.pk]
    assert _ids(api.get(f"/contacts?owner_id={head.pk}")) == [b.pk, a.pk]
    assert _ids(api.get(f"/contacts?account_id={account.pk}")) == [
        a.pk,
        world.contacts[("field_rep", "south")].pk,
    ]
    assert _ids(api.get("/contacts?consent=granted")) == [a.pk]
    assert _ids(api.get("/contacts?tag=vip")) == [a.pk]
    assert _ids(api.get("/contacts?email=O.P@mail.example.com")) == [a.pk]
    assert _ids(api.get("/contacts?lifecycle_stage=customer&consent=unknown")) == [b.pk]
    assert _ids(api.get("/contacts?tag=")) == _ids(api.get("/contacts"))


def test_account_filters(world):
    head = world.user("head")
    api = api_as(head)
    a = crm.account_create(
        actor=Actor.system(),
        name="Clinic One",
        industry="medical",
        domains=["clinic-one.example.org"],
        tags=["hospital"],
        owner_id=head.pk,
    )
    assert _ids(api.get("/accounts?q=clinic")) == [a.pk]
    assert _ids(api.get("/accounts?q=one.example")) == [a.pk]  # by domain
    assert _ids(api.get("/accounts?industry=medical")) == [a.pk]
    assert _ids(api.get(f"/accounts?owner_id={head.pk}")) == [a.pk]
    assert _ids(api.get("/accounts?tag=hospital")) == [a.pk]
    assert _ids(api.get("/accounts?domain=WWW.clinic-one.example.org")) == [a.pk]
    rep_account = world.accounts[("sales_rep", "south")]
    assert _ids(api.get("/accounts?domain=south-sales-rep.example.com")) == [rep_account.pk]
    assert _ids(api.get("/accounts?industry=electronics")) == []


def test_cursor_pages_walk_every_row_once_in_order(world):
    head = world.user("head")
    for i in range(7):
        crm.contact_create(actor=Actor.system(), first_name=f"P{i}", owner_id=head.pk)
    expected = list(Contact.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    api = api_as(head)
    seen, cursor, pages = [], None, 0
    while True:
        response = api.get("/contacts?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        body = response.json()
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(expected) == 11
    assert pages == 4


def test_a_cursor_belongs_to_its_list(world):
    api = api_as(world.user("head"))
    cursor = api.get("/contacts?limit=1").json()["next_cursor"]
    assert cursor
    response = api.get(f"/accounts?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert api.get(f"/contacts?cursor={tampered}").json()["code"] == "invalid_cursor"


def test_contact_list_costs_the_same_queries_for_any_page_size_and_never_counts(world):
    head = world.user("head")
    for i in range(30):
        crm.contact_create(
            actor=Actor.system(),
            first_name=f"N{i}",
            owner_id=head.pk,
            tags=[f"t{i % 3}"],
            account_id=world.accounts[("sales_rep", "north")].pk,
        )
    api = api_as(head)
    api.get("/me")  # token last_used_at written now, not during the measured calls
    counts = []
    for limit in (2, 30):
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get(f"/contacts?limit={limit}").json()["items"]) == limit
        sql = " ".join(q["sql"].upper() for q in queries)
        assert "COUNT(" not in sql
        assert "OFFSET" not in sql
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 4  # token, page, tags (+ a savepoint-free read)
