"""Customer-record pages through Django's test client: lists (search, filters, sort, keyset
paging, htmx partials), detail and timeline, forms and their errors, activity, duplicates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, ContactEmail, CustomAttribute, Touchpoint
from tandem.leads import services as leads
from tandem.tracking.services import consent_record


@pytest.fixture
def head(world: World) -> Client:
    client = Client()
    client.force_login(world.user("head", "north"))
    return client


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/crm/contacts/\d+/">([^<]+)</a>', html)


def _make_contacts(n: int, owner_id: int | None = None) -> list[Contact]:
    base = timezone.now() - dt.timedelta(days=1)
    made = []
    for i in range(n):
        c = crm.contact_create(
            actor=Actor.system(),
            first_name=f"P{i:03d}",
            last_name=f"Person{i:03d}",
            email=f"p{i}@bulk.example.com",
            owner_id=owner_id,
        )
        Contact.objects.filter(pk=c.pk).update(created_at=base + dt.timedelta(minutes=i))
        made.append(c)
    return made


# --- lists ----------------------------------------------------------------------------------


def test_keyset_paging_by_name_forwards_and_back(head: Client, world: World) -> None:
    _make_contacts(60)
    first = head.get("/crm/contacts/", {"q": "bulk", "sort": "name"})
    names1 = _names(first.content.decode())
    assert names1 == [f"P{i:03d} Person{i:03d}" for i in range(25)]
    assert "60 contacts" in first.content.decode()
    page = first.context["page"]
    assert page.prev_cursor is None
    second = head.get("/crm/contacts/", {"q": "bulk", "sort": "name", "cursor": page.next_cursor})
    assert _names(second.content.decode()) == [f"P{i:03d} Person{i:03d}" for i in range(25, 50)]
    third = head.get(
        "/crm/contacts/",
        {"q": "bulk", "sort": "name", "cursor": second.context["page"].next_cursor},
    )
    assert _names(third.content.decode()) == [f"P{i:03d} Person{i:03d}" for i in range(50, 60)]
    assert third.context["page"].next_cursor is None
    back = head.get(
        "/crm/contacts/", {"q": "bulk", "sort": "name", "cursor": third.context["page"].prev_cursor}
    )
    assert _names(back.content.decode()) == names1[:0] + [
        f"P{i:03d} Person{i:03d}" for i in range(25, 50)
    ]
    assert 'rel="next"' in back.content.decode()
    assert 'rel="prev"' in back.content.decode()


def test_newest_first_sort_and_no_offset(head: Client, world: World) -> None:
    _make_contacts(30)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = head.get("/crm/contacts/", {"q": "bulk", "sort": "created"})
    assert _names(response.content.decode())[:3] == [
        "P029 Person029",
        "P028 Person028",
        "P027 Person027",
    ]
    assert not any("OFFSET" in q["sql"] for q in queries.captured_queries)
    cursor = response.context["page"].next_cursor
    nxt = head.get("/crm/contacts/", {"q": "bulk", "sort": "created", "cursor": cursor})
    assert _names(nxt.content.decode()) == [f"P{i:03d} Person{i:03d}" for i in (4, 3, 2, 1, 0)]


def test_a_cursor_of_another_sort_or_forged_is_the_first_page(head: Client, world: World) -> None:
    _make_contacts(30)
    by_name = head.get("/crm/contacts/", {"q": "bulk", "sort": "name"})
    cursor = by_name.context["page"].next_cursor
    mixed = head.get("/crm/contacts/", {"q": "bulk", "sort": "created", "cursor": cursor})
    assert _names(mixed.content.decode())[0] == "P029 Person029"
    forged = head.get("/crm/contacts/", {"q": "bulk", "cursor": cursor[:-3] + "abc"})
    assert forged.status_code == 200
    assert _names(forged.content.decode())[0] == "P000 Person000"


def test_filters(head: Client, world: World) -> None:
    rep = world.user("sales_rep", "south")
    contact = world.contacts[("sales_rep", "south")]
    crm.contact_update(actor=Actor.system(), contact=contact, tags=["vip"])
    leads.lifecycle_move(actor=Actor.system(), contact=contact, stage="customer", reason="won")
    consent_record(contact=contact, purpose="newsletter", state="granted")
    crm.account_update(
        actor=Actor.system(), account=world.accounts[("sales_rep", "south")], industry="medical"
    )
    for params in (
        {"owner": rep.pk},
        {"lifecycle_stage": "customer"},
        {"consent": "granted"},
        {"tag": "vip"},
        {"industry": "medical"},
    ):
        html = head.get("/crm/contacts/", params).content.decode()
        assert _names(html) == ["south sales_rep customer"], params
        assert "1 contact<" in html or "1 contact\n" in html or ">1 contact" in html
    junk = head.get("/crm/contacts/", {"owner": "abc", "lifecycle_stage": "nope"})
    assert junk.status_code == 200
    assert len(_names(junk.content.decode())) == 4  # invalid filters are ignored


def test_htmx_search_returns_only_the_results(head: Client, world: World) -> None:
    response = head.get(
        "/crm/contacts/", {"q": "field_rep"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="contact-table"' in html
    assert sorted(_names(html)) == ["north field_rep customer", "south field_rep customer"]
    accounts = head.get(
        "/crm/accounts/", {"q": "south"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    ).content.decode()
    assert "<html" not in accounts
    assert 'id="account-table"' in accounts
    assert len(re.findall(r'href="/crm/accounts/\d+/"', accounts)) == 2


def test_counts_are_capped(head: Client, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tandem.core.paging import capped_count
    from tandem.crm import selectors

    monkeypatch.setattr(selectors, "page_count", lambda page, qs: capped_count(qs, 3))
    html = head.get("/crm/contacts/").content.decode()
    assert "3 contacts</" not in html
    assert re.search(r"3 contacts\s*\+", html)


def test_a_single_page_is_counted_without_a_count_query(head: Client, world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        html = head.get("/crm/contacts/?q=customer").content.decode()
    assert re.search(r"4 contacts", html)
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_user_text_is_escaped(head: Client, world: World) -> None:
    crm.contact_create(
        actor=Actor.system(), first_name="<script>alert(1)</script>", email="x@evil.example.com"
    )
    html = head.get("/crm/contacts/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- detail and timeline --------------------------------------------------------------------


def test_contact_detail_shows_the_record_and_timeline(head: Client, world: World) -> None:
    CustomAttribute.objects.create(
        target="contact", key="shoe_size", label="Shoe size", type="number"
    )
    contact = world.contacts[("sales_rep", "north")]
    crm.contact_update(
        actor=Actor.system(),
        contact=contact,
        phone="+7 495 000 00 00",
        emails=["second@north.example.com"],
        tags=["fair"],
        custom={"shoe_size": 44},
    )
    crm.touchpoint_record(
        channel="email",
        kind="email_open",
        department="marketing",
        contact=contact,
        occurred_at=timezone.now() - dt.timedelta(days=1),
        campaign="Spring",
    )
    crm.touchpoint_record(
        channel="website", kind="page_view", department="marketing", contact=contact, is_bot=True
    )
    html = head.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "buyer@north-sales-rep.example.com" in html
    assert "second@north.example.com" in html
    assert "+7 495 000 00 00" in html
    assert "north sales_rep account" in html
    assert ">fair<" in html
    assert "<dt>Shoe size</dt><dd>44</dd>" in html
    kinds = re.findall(r'class="tp-kind">([^<]+)<', html)
    assert kinds == ["Page view", "Email opened"]  # the bot's page view is hidden
    with_bots = head.get(f"/crm/contacts/{contact.pk}/timeline/", {"bots": "on"}).content.decode()
    assert re.findall(r'class="tp-kind">([^<]+)<', with_bots) == [
        "Page view",
        "Page view",
        "Email opened",
    ]
    email_only = head.get(
        f"/crm/contacts/{contact.pk}/timeline/", {"channel": "email"}
    ).content.decode()
    assert re.findall(r'class="tp-kind">([^<]+)<', email_only) == ["Email opened"]
    sales_only = head.get(
        f"/crm/contacts/{contact.pk}/timeline/", {"department": "sales"}
    ).content.decode()
    assert "Nothing on the timeline yet." in sales_only


def test_timeline_load_more_by_cursor(head: Client, world: World) -> None:
    contact = world.contacts[("field_rep", "north")]
    now = timezone.now()
    for i in range(25):
        crm.touchpoint_record(
            channel="email",
            kind=f"k{i:02d}",
            department="marketing",
            contact=contact,
            occurred_at=now - dt.timedelta(hours=i + 1),
        )
    first = head.get(f"/crm/contacts/{contact.pk}/")
    assert first.content.decode().count('class="tp ') == 20
    cursor = first.context["timeline"].next_cursor
    more = head.get(
        f"/crm/contacts/{contact.pk}/timeline/", {"cursor": cursor}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert re.findall(r'class="tp-kind">([^<]+)<', more) == [
        "k19",
        "k20",
        "k21",
        "k22",
        "k23",
        "k24",
    ]
    assert "load-more" not in more


def test_account_detail(head: Client, world: World) -> None:
    account = world.accounts[("sales_rep", "south")]
    crm.account_update(
        actor=Actor.system(),
        account=account,
        industry="agriculture",
        industry_attributes={"farm_area_ha": 1200, "crops": ["wheat", "barley"]},
    )
    html = head.get(f"/crm/accounts/{account.pk}/").content.decode()
    assert "<dt>Farm area, ha</dt><dd>1200</dd>" in html
    assert "<dt>Crops</dt><dd>wheat, barley</dd>" in html
    assert "south sales_rep customer" in html
    assert re.findall(r'class="tp-kind">([^<]+)<', html) == ["Page view"]


# --- create, edit, delete -------------------------------------------------------------------


def _contact_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Anna",
        "last_name": "Petrova",
        "email": "Anna@Agro.example.ru",
        "other_emails": "",
        "phone": "",
        "title": "Agronomist",
        "account": "",
        "owner": "",
        "lifecycle_stage": "lead",
        "tags": "a, b",
    }
    data.update(overrides)
    return data


def test_create_contact(world: World) -> None:
    rep = world.user("sales_rep", "north")
    client = Client()
    client.force_login(rep)
    account = world.accounts[("sales_rep", "north")]
    response = client.post("/crm/contacts/new/", _contact_form(account=account.pk, owner=rep.pk))
    assert response.status_code == 302
    contact = Contact.objects.get(last_name="Petrova")
    assert response["Location"] == f"/crm/contacts/{contact.pk}/"
    assert (contact.email, contact.account_id, contact.owner_id) == (
        "anna@agro.example.ru",
        account.pk,
        rep.pk,
    )
    assert sorted(contact.tags.values_list("name", flat=True)) == ["a", "b"]
    assert (
        AuditEntry.objects.filter(
            model="crm.Contact", object_id=str(contact.pk), action="create", actor=rep
        ).count()
        == 1
    )


def test_a_rep_cannot_attach_an_invisible_account(world: World) -> None:
    client = Client()
    client.force_login(world.user("sales_rep", "north"))
    foreign = world.accounts[("sales_rep", "south")]
    response = client.post("/crm/contacts/new/", _contact_form(account=foreign.pk))
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Contact.objects.filter(last_name="Petrova").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"first_name": "", "last_name": "", "email": ""},
            "a contact needs a name or an email address",
        ),
        ({"email": "not-an-email"}, "is not a valid email address"),
        ({"first_name": "x" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
        ({"lifecycle_stage": "king"}, "Select a valid choice. king is not one of the"),
        ({"account": "abc"}, "Select a valid choice. That choice is not one of the"),
        ({"first_name": "Ann\x00a"}, "Null characters are not allowed."),
        ({"title": "Agro\ufffdnomist"}, "This text is not valid UTF-8."),
    ],
)
def test_bad_contact_input_is_a_form_error_and_stores_nothing(
    head: Client, world: World, overrides: dict[str, object], message: str
) -> None:
    contacts, audit = Contact.objects.count(), AuditEntry.objects.count()
    response = head.post("/crm/contacts/new/", _contact_form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (Contact.objects.count(), AuditEntry.objects.count()) == (contacts, audit)


def test_bad_encoding_in_the_raw_body_is_refused(head: Client, world: World) -> None:
    body = b"first_name=Ann%FFa&last_name=X&lifecycle_stage=lead"
    response = head.post(
        "/crm/contacts/new/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "This text is not valid UTF-8." in response.content.decode()
    assert not Contact.objects.filter(last_name="X").exists()


def test_edit_contact_keeps_data_on_error(head: Client, world: World) -> None:
    contact = world.contacts[("field_rep", "south")]
    page = head.get(f"/crm/contacts/{contact.pk}/edit/").content.decode()
    assert 'value="buyer@south-field-rep.example.com"' in page
    bad = head.post(f"/crm/contacts/{contact.pk}/edit/", _contact_form(email="broken@"))
    assert bad.status_code == 400
    contact.refresh_from_db()
    assert contact.first_name == "south"
    good = head.post(f"/crm/contacts/{contact.pk}/edit/", _contact_form(tags=""))
    assert good.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "Anna"
    assert contact.tags.count() == 0


def test_custom_attributes_are_rendered_and_validated(head: Client, world: World) -> None:
    CustomAttribute.objects.create(
        target="contact", key="visits", label="Visits per year", type="number", required=True
    )
    CustomAttribute.objects.create(
        target="contact", key="segment", label="Segment", type="choice", choices=["A", "B"]
    )
    form = head.get("/crm/contacts/new/").content.decode()
    assert 'name="custom_visits"' in form
    assert '<option value="B">B</option>' in form
    missing = head.post("/crm/contacts/new/", _contact_form(custom_segment="A"))
    assert missing.status_code == 400
    assert "This field is required." in missing.content.decode()
    wrong = head.post("/crm/contacts/new/", _contact_form(custom_visits="many"))
    assert "Enter a number." in wrong.content.decode()
    ok = head.post("/crm/contacts/new/", _contact_form(custom_visits="12", custom_segment="B"))
    assert ok.status_code == 302
    assert Contact.objects.get(last_name="Petrova").custom == {"visits": 12.0, "segment": "B"}


def _account_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Green Fields",
        "domains": "greenfields.example.com",
        "industry": "agriculture",
        "region": "Volga",
        "owner": "",
        "tags": "",
        "ind_farm_area_ha": "350.5",
        "ind_crops": "wheat, rye",
        "ind_livestock": "",
    }
    data.update(overrides)
    return data


def test_create_account_with_industry_attributes(head: Client, world: World) -> None:
    response = head.post("/crm/accounts/new/", _account_form())
    assert response.status_code == 302
    account = Account.objects.get(name="Green Fields")
    assert account.industry_attributes == {"farm_area_ha": 350.5, "crops": ["wheat", "rye"]}
    assert account.domains == ["greenfields.example.com"]


def test_account_form_errors(head: Client, world: World) -> None:
    accounts = Account.objects.count()
    bad_domain = head.post("/crm/accounts/new/", _account_form(domains="not a domain"))
    assert bad_domain.status_code == 400
    assert "is not a valid domain" in bad_domain.content.decode()
    negative = head.post("/crm/accounts/new/", _account_form(ind_farm_area_ha="-3"))
    assert "Ensure this value is greater than or equal to 0." in negative.content.decode()
    assert Account.objects.count() == accounts


def test_industry_fields_follow_the_industry(head: Client, world: World) -> None:
    medical = head.get("/crm/accounts/industry-fields/", {"industry": "medical"}).content.decode()
    assert 'name="ind_clinic_type"' in medical
    assert 'name="ind_beds"' in medical
    assert "ind_crops" not in medical
    other = head.get("/crm/accounts/industry-fields/", {"industry": "other"}).content.decode()
    assert "ind_" not in other


def test_delete_with_confirmation(head: Client, world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    page = head.get(f"/crm/contacts/{contact.pk}/delete/")
    assert "Delete north sales_rep customer?" in page.content.decode()
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert head.post(f"/crm/contacts/{contact.pk}/delete/").status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEntry.objects.filter(model="crm.Contact", action="delete").count() == 1


# --- activity -------------------------------------------------------------------------------


def test_log_activity_with_the_users_department(world: World) -> None:
    rep = world.user("field_rep", "south")
    contact = world.contacts[("field_rep", "south")]
    client = Client()
    client.force_login(rep)
    response = client.post(
        f"/crm/contacts/{contact.pk}/activity/",
        {"kind": "field_visit", "occurred_at": "2026-03-02T10:30", "note": "Walked the fields."},
    )
    assert response.status_code == 302
    tp = Touchpoint.objects.get(kind="field_visit")
    assert (tp.contact_id, tp.account_id, tp.department, tp.channel, tp.actor_id) == (
        contact.pk,
        contact.account_id,
        "field",
        "field_visit",
        rep.pk,
    )
    assert tp.properties == {"note": "Walked the fields."}
    assert tp.occurred_at.date() == dt.date(2026, 3, 2)


def test_bad_activity_is_refused(head: Client, world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    before = Touchpoint.objects.count()
    for data in (
        {"kind": "party"},
        {"kind": "note", "occurred_at": "yesterday"},
        {"kind": "note", "note": "x" * 2001},
    ):
        assert head.post(f"/crm/contacts/{contact.pk}/activity/", data).status_code == 400
    assert Touchpoint.objects.count() == before


# --- duplicates and merge -------------------------------------------------------------------


def test_duplicates_are_scoped_and_merge_needs_the_right(world: World) -> None:
    rep = world.user("sales_rep", "north")
    own = world.contacts[("sales_rep", "north")]
    twin = crm.contact_create(
        actor=Actor.system(), first_name="Twin", email=own.email, owner_id=rep.pk
    )
    foreign = crm.contact_create(
        actor=Actor.system(),
        first_name="Foreign",
        email=own.email,
        owner_id=world.user("sales_rep", "south").pk,
    )
    rep_client = Client()
    rep_client.force_login(rep)
    page = rep_client.get("/crm/duplicates/").content.decode()
    assert "Twin" in page
    assert "Foreign" not in page
    assert 'name="survivor"' not in page  # reps may not merge
    assert (
        rep_client.post(
            "/crm/duplicates/merge/", {"survivor": own.pk, "merged": twin.pk}
        ).status_code
        == 403
    )

    marketer = Client()
    marketer.force_login(world.user("marketer", "north"))
    page = marketer.get("/crm/duplicates/").content.decode()
    assert page.count('name="survivor"') == 3
    response = marketer.post(
        "/crm/duplicates/merge/", {"survivor": own.pk, "merged": [twin.pk, foreign.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/crm/contacts/{own.pk}/"
    assert not Contact.objects.filter(pk__in=[twin.pk, foreign.pk]).exists()
    assert AuditEntry.objects.filter(action="merge").count() == 2


def test_a_rep_sees_their_own_duplicates_however_many_other_groups_rank_above(
    world: World, django_assert_max_num_queries: Any
) -> None:
    """Visibility narrows before the top 100 groups are picked: 101 larger groups of another
    rep's contacts do not push the rep's own pair off the page."""
    south = world.user("sales_rep", "south")
    ContactEmail.objects.bulk_create(
        ContactEmail(
            contact=Contact.objects.create(
                first_name=f"Other{n}", owner=south, email=f"shared{n // 3}@elsewhere.example"
            ),
            email=f"shared{n // 3}@elsewhere.example",
        )
        for n in range(303)
    )
    rep = world.user("sales_rep", "north")
    own = world.contacts[("sales_rep", "north")]
    crm.contact_create(actor=Actor.system(), first_name="Twin", email=own.email, owner_id=rep.pk)
    client = Client()
    client.force_login(rep)
    page = client.get("/crm/duplicates/").content.decode()
    assert "Twin" in page
    assert "Other1" not in page
    head = Client()
    head.force_login(world.user("head", "north"))
    with django_assert_max_num_queries(12):
        seen = head.get("/crm/duplicates/").content.decode()
    assert seen.count("@elsewhere.example") == 300  # the top 100 groups: the triples
    assert "Twin" not in seen


def test_merge_with_a_missing_contact_is_404_and_merges_nothing(world: World) -> None:
    client = Client()
    client.force_login(world.user("head", "south"))
    own = world.contacts[("sales_rep", "north")]
    response = client.post("/crm/duplicates/merge/", {"survivor": own.pk, "merged": [999999]})
    assert response.status_code == 404
    assert Contact.objects.filter(pk=own.pk).exists()


@pytest.mark.parametrize(
    "merged", [["x1"], ["-4"], ["99999999999999999999"], [], ["{own}"]], ids=str
)
def test_merge_with_unusable_ids_is_refused_with_a_message_and_merges_nothing(
    world: World, merged: list[str]
) -> None:
    client = Client()
    client.force_login(world.user("head", "south"))
    own = world.contacts[("sales_rep", "north")]
    before = Contact.objects.count()
    data = {"survivor": own.pk, "merged": [m.format(own=own.pk) for m in merged]}
    response = client.post("/crm/duplicates/merge/", data, follow=True)
    assert response.status_code == 200
    assert "Choose the contact to keep and at least one other." in response.content.decode()
    assert Contact.objects.count() == before


# --- Russian --------------------------------------------------------------------------------


def test_pages_render_in_russian(head: Client, world: World) -> None:
    head.post("/language/", {"language": "ru"})
    contact = world.contacts[("sales_rep", "north")]
    listing = head.get("/crm/contacts/").content.decode()
    assert "<h1>Контакты</h1>" in listing
    assert "4 контакта" in listing
    assert "Сначала новые" in listing
    detail = head.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "Хронология" in detail
    assert "Записать событие" in detail
    assert 'class="tp-kind">Просмотр страницы<' in detail
    assert "Лид</span>" in detail
    accounts = head.get("/crm/accounts/").content.decode()
    assert "4 компании" in accounts
    form = head.get("/crm/accounts/new/").content.decode()
    assert "Веб-домены" in form  # noqa: RUF001
