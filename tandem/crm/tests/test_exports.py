"""Exports of the contact and account lists, from the pages and the API: scoped like the list,
with its filters, search and sort; formula text neutralised; bad formats refused; audited;
long lists streamed."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client

from conftest import ROLES, SIDES, World
from tandem.core.audit import Actor
from tandem.core.exports import CSV_FLUSH_ROWS
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact, CustomAttribute
from tandem.crm.tests.api_client import api_as
from tandem.leads import services as leads

PERSONAS = [(role, side) for role in ROLES for side in SIDES]
OWNERS = [(role, side) for side in SIDES for role in ("sales_rep", "field_rep")]
HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", "  =1+1"]


def sees(viewer: tuple[str, str], owner: tuple[str, str]) -> bool:
    return viewer[0] in ("head", "admin", "marketer") or viewer == owner


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8")[1:], newline="")))


def _xlsx(response: Any) -> list[list[Any]]:
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws is not None
    return [[c.value for c in row] for row in ws.iter_rows()]


def _page_ids(html: str, kind: str) -> set[int]:
    return {int(pk) for pk in re.findall(rf'href="/crm/{kind}/(\d+)/"', html)}


# --- pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_page_exports_hold_exactly_what_the_list_shows(
    world: World, persona: tuple[str, str]
) -> None:
    client = _client(world, *persona)
    for kind, records in (("contacts", world.contacts), ("accounts", world.accounts)):
        expected = {records[o].pk for o in OWNERS if sees(persona, o)}
        page = client.get(f"/crm/{kind}/").content.decode()
        assert _page_ids(page, kind) == expected
        rows = _csv(client.get(f"/crm/{kind}/export/", {"format": "csv"}))
        assert {int(r["Record ID"]) for r in rows} == expected
        assert len(rows) == len(expected)
        sheet = _xlsx(client.get(f"/crm/{kind}/export/", {"format": "xlsx"}))
        assert {r[0] for r in sheet[1:]} == expected
        for owner in OWNERS:  # an invisible record leaves no trace, not even its name
            if not sees(persona, owner):
                assert records[owner].pk not in {r[0] for r in sheet[1:]}


def test_a_rep_exports_only_their_teams_contacts(world: World) -> None:
    rep = world.user("sales_rep", "south")
    teammate = world.users[("head", "south")]  # sits in the South sales team
    crm.contact_create(
        actor=Actor.system(), first_name="Team", last_name="Mate", owner_id=teammate.pk
    )
    client = _client(world, "sales_rep", "south")
    rows = _csv(client.get("/crm/contacts/export/"))
    page = client.get("/crm/contacts/").content.decode()
    assert {int(r["Record ID"]) for r in rows} == _page_ids(page, "contacts")
    names = {(r["First Name"], r["Last Name"]) for r in rows}
    assert ("south", "sales_rep customer") in names
    assert ("north", "sales_rep customer") not in names
    count = re.search(r'id="result-count">(\d+) contact', page)
    assert count is not None
    assert int(count.group(1)) == len(rows)
    assert all(r["Contact Owner"] in (rep.email, teammate.email) for r in rows)


def test_the_list_page_offers_export_links_with_its_filters(world: World) -> None:
    client = _client(world, "head")
    page = client.get("/crm/contacts/", {"q": "customer", "cursor": "x", "sort": "created"})
    html = page.content.decode()
    assert 'href="/crm/contacts/export/?q=customer&amp;sort=created&amp;format=csv"' in html
    assert 'href="/crm/contacts/export/?q=customer&amp;sort=created&amp;format=xlsx"' in html
    html = client.get("/crm/accounts/").content.decode()
    assert 'href="/crm/accounts/export/?format=xlsx"' in html


def test_filters_search_and_sort_are_honoured(world: World) -> None:
    client = _client(world, "head")
    contact = world.contacts[("field_rep", "south")]
    leads.lifecycle_move(actor=Actor.system(), contact=contact, stage="customer", reason="won")
    rows = _csv(client.get("/crm/contacts/export/", {"lifecycle_stage": "customer"}))
    assert [int(r["Record ID"]) for r in rows] == [contact.pk]
    assert rows[0]["Lifecycle Stage"] == "Customer"
    rows = _csv(client.get("/crm/contacts/export/", {"q": "field_rep"}))
    assert {r["Last Name"] for r in rows} == {"field_rep customer"}
    owner = world.user("sales_rep", "north")
    rows = _csv(client.get("/crm/contacts/export/", {"owner": owner.pk}))
    assert [int(r["Record ID"]) for r in rows] == [world.contacts[("sales_rep", "north")].pk]
    by_name = _csv(client.get("/crm/contacts/export/", {"sort": "name"}))
    assert [r["Last Name"] for r in by_name] == sorted(r["Last Name"] for r in by_name)
    newest = _csv(client.get("/crm/contacts/export/", {"sort": "created"}))
    created = sorted(Contact.objects.all(), key=lambda c: (c.created_at, c.pk), reverse=True)
    assert [int(r["Record ID"]) for r in newest] == [c.pk for c in created]
    accounts = _csv(client.get("/crm/accounts/export/", {"q": "north-field-rep.example.com"}))
    assert [r["Company Name"] for r in accounts] == ["north field_rep account"]
    assert accounts[0]["Company Domain Name"] == "north-field-rep.example.com"


def test_hostile_text_is_neutralised_and_numbers_stay_numbers(world: World) -> None:
    CustomAttribute.objects.create(target="contact", key="score", label="Score", type="number")
    owner = world.user("marketer")
    for n, text in enumerate(HOSTILE):
        crm.contact_create(
            actor=Actor.system(),
            first_name=text,
            last_name="hostile",
            title=text,
            owner_id=owner.pk,
            custom={"score": n - 2},
        )
    stored = sorted(
        Contact.objects.filter(last_name="hostile").values_list("first_name", flat=True)
    )
    assert all(s.lstrip().startswith(("=", "+", "-", "@")) for s in stored)
    client = _client(world, "marketer")
    rows = _csv(client.get("/crm/contacts/export/", {"q": "hostile", "sort": "created"}))
    assert sorted(r["First Name"] for r in rows) == ["'" + s for s in stored]
    assert all(r["Job Title"].startswith("'") for r in rows)
    assert sorted(r["Score"] for r in rows) == sorted(str(n - 2) for n in range(len(HOSTILE)))
    sheet = _xlsx(client.get("/crm/contacts/export/", {"q": "hostile", "format": "xlsx"}))
    header, body = sheet[0], sheet[1:]
    first, score = header.index("First Name"), header.index("Score")
    assert sorted(r[first] for r in body) == ["'" + s for s in stored]
    assert sorted(r[score] for r in body) == list(range(-2, len(HOSTILE) - 2))
    whole: Any = client.get("/crm/contacts/export/", {"format": "xlsx"})
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(whole.streaming_content))).active
    assert ws is not None
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


@pytest.mark.parametrize("fmt", ["pdf", "xls", "CSV;", "=1+1"])
def test_a_bad_format_is_a_400_with_a_reason(world: World, fmt: str) -> None:
    client = _client(world, "head")
    for kind in ("contacts", "accounts"):
        response = client.get(f"/crm/{kind}/export/", {"format": fmt})
        assert response.status_code == 400
        assert "use csv or xlsx" in response.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()


def test_each_export_writes_an_audit_entry(world: World) -> None:
    user = world.user("head")
    client = _client(world, "head")
    _csv(client.get("/crm/contacts/export/", {"q": "customer", "lifecycle_stage": "lead"}))
    _xlsx(client.get("/crm/accounts/export/", {"format": "xlsx", "sort": "created"}))
    contacts, accounts = AuditEntry.objects.filter(action="export").order_by("id")
    assert (contacts.actor, contacts.model, contacts.object_id) == (user, "crm.Contact", "")
    assert contacts.changes == {
        "format": "csv",
        "rows": 4,
        "filters": {"q": "customer", "lifecycle_stage": "lead", "sort": "name"},
    }
    assert (accounts.model, accounts.changes["format"], accounts.changes["rows"]) == (
        "crm.Account",
        "xlsx",
        4,
    )
    assert accounts.changes["filters"] == {"sort": "created"}


def test_a_role_without_the_export_capability_gets_a_403(world: World) -> None:
    from tandem.core.models import User

    nobody = User.objects.create_user(username="nobody", role="")
    client = Client()
    client.force_login(nobody)
    for url in ("/crm/contacts/export/", "/crm/accounts/export/"):
        assert client.get(url).status_code == 403
    assert not AuditEntry.objects.filter(action="export").exists()


def test_anonymous_is_sent_to_sign_in(client: Client, db: None) -> None:
    for url in ("/crm/contacts/export/", "/crm/accounts/export/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_a_big_export_streams(world: World, django_assert_max_num_queries: Any) -> None:
    owner = world.user("marketer")
    n = 3 * CSV_FLUSH_ROWS + 7
    Contact.objects.bulk_create(
        [Contact(first_name=f"Bulk{i:05d}", last_name="bulk", owner=owner) for i in range(n)]
    )
    client = _client(world, "marketer")
    response = client.get("/crm/contacts/export/", {"q": "bulk"})
    assert isinstance(response, StreamingHttpResponse)
    assert not response.has_header("Content-Length")
    with django_assert_max_num_queries(12):  # a few per chunk of 2000, not per row
        chunks = list(response.streaming_content)
    assert len(chunks) >= 4
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8")[1:], newline="")))
    assert len(rows) == n
    assert [r["First Name"] for r in rows[:2]] == ["Bulk00000", "Bulk00001"]
    assert AuditEntry.objects.get(action="export").changes["rows"] == n
    xlsx = client.get("/crm/contacts/export/", {"q": "bulk", "format": "xlsx"})
    assert isinstance(xlsx, FileResponse)
    assert len(_xlsx(xlsx)) == n + 1


def test_a_russian_user_gets_russian_headers(world: World) -> None:
    client = _client(world, "head")
    ru = {"accept-language": "ru"}
    rows = _csv(client.get("/crm/contacts/export/", headers=ru))
    assert list(rows[0])[:3] == ["ID записи", "Имя", "Фамилия"]
    page = client.get("/crm/contacts/", headers=ru).content.decode()
    assert "Выгрузить" in page
    bad = client.get("/crm/accounts/export/", {"format": "pdf"}, headers=ru)
    assert bad.status_code == 400
    assert "используйте csv или xlsx" in bad.content.decode()


# --- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_api_exports_follow_the_scope(world: World, persona: tuple[str, str]) -> None:
    api = api_as(world.user(*persona), scope="read")
    for kind, records in (("contacts", world.contacts), ("accounts", world.accounts)):
        expected = {records[o].pk for o in OWNERS if sees(persona, o)}
        listed = {item["id"] for item in api.get(f"/{kind}").json()["items"]}
        assert listed == expected
        rows = _csv(api.get(f"/{kind}/export", data={"format": "csv"}))
        assert {int(r["Record ID"]) for r in rows} == expected
        sheet = _xlsx(api.get(f"/{kind}/export", data={"format": "xlsx"}))
        assert {r[0] for r in sheet[1:]} == expected


def test_api_export_filters_and_audit_names_the_token(world: World) -> None:
    api = api_as(world.user("admin"), scope="read")
    rows = _csv(api.get("/contacts/export", data={"q": "field_rep", "limit": 1}))
    assert {r["Last Name"] for r in rows} == {"field_rep customer"}
    assert len(rows) == 2  # every match: `limit` pages the list, not the export
    created = [int(r["Record ID"]) for r in _csv(api.get("/contacts/export"))]
    assert created == sorted(created, reverse=True)  # newest first, like the list
    entry = AuditEntry.objects.filter(action="export").order_by("id").first()
    assert entry is not None
    assert entry.token is not None
    assert entry.changes["filters"] == {"q": "field_rep", "sort": "created"}  # newest first


def test_api_bad_format_is_a_json_400(world: World) -> None:
    api = api_as(world.user("admin"))
    for kind in ("contacts", "accounts"):
        response = api.get(f"/{kind}/export", data={"format": "pdf"})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "bad_format"
        assert "use csv or xlsx" in body["details"]["format"][0]
    # the export path does not shadow records, nor the other way round
    contact = world.contacts[("sales_rep", "north")]
    assert api.get(f"/contacts/{contact.pk}").status_code == 200
