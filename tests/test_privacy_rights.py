"""A person's privacy rights: the full export (every model that refers to a contact, found by
introspection), erasure that leaves none of their personal data in a database dump while campaign
totals and attribution credit stay the same, and a suppression that keeps them from coming back
through imports, Segment identify, website forms, subscriptions and contact creation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from conftest import World
from tandem.attribution.tests.test_journeys import build_timeline, linear, paths
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact, Identity, Suppression, Touchpoint
from tandem.crm.tests.api_client import ApiClient, token_for
from tandem.imports import services as imports
from tandem.imports.models import ImportStatus
from tandem.marketing.subscriptions import services as subscriptions
from tandem.tracking import services as tracking
from tandem.tracking.consent import consent_record
from tandem.tracking.models import ConsentRecord, Form

EMAIL = "ann.private@erase-me.example"
LAST_NAME = "Ершова"
PHONE = "+49 30 5550199"
USER_ID = "ann-user-77"
ANON_ID = "ann-anon-77"
SEGMENT_IP = "203.0.113.77"
FORM_IP = "198.51.100.23"
PERSONAL = [EMAIL, LAST_NAME, "5550199", USER_ID, ANON_ID, SEGMENT_IP, FORM_IP]


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _segment(key: str, *events: dict[str, Any]) -> None:
    response = Client().post(
        "/v1/batch",
        data=json.dumps({"writeKey": key, "batch": events}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def _identify(key: str, message_id: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": USER_ID,
        "anonymousId": ANON_ID,
        "messageId": message_id,
        "context": {"ip": SEGMENT_IP, "userAgent": "Firefox/130"},
        "traits": {"email": EMAIL, **traits},
    }


def _form() -> Form:
    return Form.objects.create(
        name="Newsletter",
        campaign="spring",
        fields=[{"name": "last_name", "label": "Last name"}],
        consent_purpose="newsletter",
        consent_wording="Send me the newsletter.",
        consent_version="v1",
    )


def _submit(form: Form, **values: Any) -> Any:
    return Client().post(
        f"/f/{form.key}/submit",
        data=json.dumps({"email": EMAIL, "last_name": LAST_NAME, "consent": True, **values}),
        content_type="application/json",
        REMOTE_ADDR=FORM_IP,
        HTTP_USER_AGENT="Firefox/130",
    )


def _person(world: World) -> tuple[Contact, Form, str]:
    """Ann of the attribution timeline, made a real person: an address, a Cyrillic surname, a
    phone, a Segment identity with an IP address, a website form with consent, audit entries."""
    ann = build_timeline(world)["ann"]
    ann = crm.contact_update(
        actor=Actor(user=world.user("marketer")),
        contact=ann,
        email=EMAIL,
        last_name=LAST_NAME,
        phone=PHONE,
        title="Chief agronomist",
    )
    _source, key = tracking.source_create(actor=Actor.system(), name="Website", kind="website")
    _segment(key, _identify(key, "i-1", firstName="Ann"))
    form = _form()
    assert _submit(form).status_code == 200
    assert Identity.objects.filter(contact=ann).count() == 2
    assert ConsentRecord.objects.filter(contact=ann, ip=FORM_IP).exists()
    return ann, form, key


def _dump() -> str:
    """The whole database as text: SQLite's iterdump, or pg_dump of the test database."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for the PostgreSQL leg"
    s = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    args = [pg_dump, "--data-only", "-h", s.get("HOST") or "127.0.0.1", "-U", s.get("USER") or ""]
    args += ["-p", str(s.get("PORT") or 5432), s["NAME"]]
    return subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout


def _found_in(dump: str) -> list[str]:
    lowered = dump.lower()
    return [
        value
        for value in PERSONAL
        for form in {value, json.dumps(value)[1:-1]}
        if form.lower() in lowered
    ]


def _campaign_figures(user: Any) -> tuple[Any, ...]:
    spring = Touchpoint.objects.filter(campaign="spring", is_bot=False)
    return (
        spring.count(),
        spring.values("contact_id").distinct().count(),
        sorted(spring.values_list("kind", "channel", "content")),
        Touchpoint.objects.count(),
    )


def _related_labels() -> set[str]:
    """Every model that can refer to a contact, found here independently of crm.privacy."""
    labels = set()
    for model in apps.get_models():
        for f in model._meta.get_fields():
            to_contact = f.concrete and f.is_relation and f.related_model is Contact
            generic = isinstance(f, GenericForeignKey)
            by_type = (
                f.concrete
                and f.is_relation
                and f.related_model is ContentType
                and any(g.name == "object_id" for g in model._meta.concrete_fields)
            )
            if (to_contact and not f.many_to_many) or generic or by_type:
                labels.add(model._meta.label)
    return labels - {"crm.Suppression"}


@pytest.mark.django_db
def test_the_export_holds_every_model_that_refers_to_a_contact(world: World) -> None:
    ann, _form, _key = _person(world)
    head = ApiClient(token_for(world.user("head")))
    response = head.get(f"/contacts/{ann.pk}/personal-data")
    assert response.status_code == 200, response.content
    data = response.json()
    missing = _related_labels() - set(data["rows"])
    assert not missing, f"models that refer to a contact but are not in the export: {missing}"
    for m2m in (f.name for f in Contact._meta.many_to_many):
        assert m2m in data["contact"]
    assert {"core.AuditEntry", "imports.ImportRow", "admin.LogEntry"} <= set(data["rows"])
    assert data["contact"]["email"] == EMAIL
    rows = data["rows"]
    assert {r["value"] for r in rows["crm.Identity"]} == {USER_ID, ANON_ID}
    assert [r["ip"] for r in rows["tracking.ConsentRecord"]] == [FORM_IP]
    kinds = {r["kind"] for r in rows["crm.Touchpoint"]}
    assert {"identify", "form_submitted", "ad_click"} <= kinds
    assert any(r["model"] == "crm.Contact" for r in rows["core.AuditEntry"])
    assert rows["sales.DealContact"]  # the won deal she is on
    assert AuditEntry.objects.filter(
        action="export", model="crm.Contact", object_id=str(ann.pk)
    ).exists()
    # the page gives the same file
    page = _signed_in(world.user("head")).get(f"/crm/contacts/{ann.pk}/personal-data/")
    assert page.status_code == 200
    assert json.loads(page.content)["rows"].keys() == data["rows"].keys()


@pytest.mark.django_db
def test_only_the_head_and_admins_export_or_erase(world: World) -> None:
    ann, _form, _key = _person(world)
    for role in ("marketer", "sales_rep"):
        client = ApiClient(token_for(world.user(role)))
        assert client.get(f"/contacts/{ann.pk}/personal-data").status_code in (403, 404)
        assert client.post(f"/contacts/{ann.pk}/erase", {"confirm": ann.pk}).status_code in (
            403,
            404,
        )
        page = _signed_in(world.user(role))
        assert page.get(f"/crm/contacts/{ann.pk}/privacy/").status_code in (403, 404)
    wrong = ApiClient(token_for(world.user("admin"))).post(
        f"/contacts/{ann.pk}/erase", {"confirm": ann.pk + 1}
    )
    assert wrong.status_code == 400
    assert "confirm" in wrong.json()["details"]
    ann.refresh_from_db()
    assert ann.erased_at is None
    assert ann.email == EMAIL


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_no_personal_data_in_a_dump_and_keeps_totals_and_credit(
    world: World,
) -> None:
    ann, _form, _key = _person(world)
    head = world.user("head")
    twin = crm.contact_create(actor=Actor.system(), first_name="A.", email=EMAIL.upper())
    assert _found_in(_dump())  # the dump does find them before
    credit = (linear(head), linear(head, "campaign"), paths(head))
    figures = _campaign_figures(head)

    page = _signed_in(head)
    shown = page.get(f"/crm/contacts/{ann.pk}/privacy/")
    assert shown.status_code == 200
    refused = page.post(f"/crm/contacts/{ann.pk}/privacy/", {"confirm": "1"})
    assert refused.status_code == 400
    erased = page.post(f"/crm/contacts/{ann.pk}/privacy/", {"confirm": str(ann.pk)})
    assert erased.status_code == 302

    ann.refresh_from_db()
    assert ann.erased_at is not None
    assert (ann.first_name, ann.last_name, ann.email, ann.phone, ann.title) == ("", "", "", "", "")
    # the ledger says why nothing may reach the person, whatever was queued for them
    assert ann.consent == "withdrawn"
    latest = ConsentRecord.objects.filter(contact=ann, purpose="newsletter").first()
    assert latest is not None
    assert (latest.state, latest.ip, latest.user_agent) == ("withdrawn", None, "")
    assert _found_in(_dump()) == []
    twin.refresh_from_db()
    assert twin.erased_at is not None  # the same address: the same person
    assert (linear(head), linear(head, "campaign"), paths(head)) == credit
    assert _campaign_figures(head) == figures
    assert Suppression.objects.count() == 4  # the address, the phone, the two Segment ids
    assert AuditEntry.objects.filter(
        model="crm.Contact", object_id=str(ann.pk), changes__has_key="erased_at"
    ).exists()
    assert "Ершова" not in page.get(f"/crm/contacts/{ann.pk}/").content.decode()
    # erasing again changes nothing
    again = ApiClient(token_for(head)).post(f"/contacts/{ann.pk}/erase", {"confirm": ann.pk})
    assert again.status_code == 200
    assert again.json()["erased_at"] is not None


@pytest.mark.django_db
def test_an_erased_person_is_not_created_or_identified_again(
    world: World, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ann, form, key = _person(world)
    subscription = subscriptions.type_create(
        actor=Actor.system(), key="newsletter_b", name="Newsletter B", wording_version="v1"
    )
    crm.contact_erase(actor=Actor(user=world.user("admin")), contact=ann)
    contacts = Contact.objects.count()

    # Segment identify by address, by userId, by anonymousId: no contact, no identity, no row
    _segment(key, _identify(key, "i-2"))
    _segment(key, {**_identify(key, "i-3"), "traits": {"email": "new@other.example"}})
    _segment(key, {"type": "alias", "userId": USER_ID, "previousId": "x-1", "messageId": "a-1"})
    assert Contact.objects.count() == contacts
    assert not Identity.objects.filter(value__in=[USER_ID, ANON_ID]).exists()
    assert Touchpoint.objects.filter(message_id__endswith=":i-1").count() == 1  # before
    for dropped in ("i-2", "i-3", "a-1"):
        assert not Touchpoint.objects.filter(message_id__endswith=f":{dropped}").exists()
    # nor tracked: calls of the erased ids are dropped, other visitors' calls are kept
    _segment(
        key,
        {"type": "track", "event": "Seen", "anonymousId": ANON_ID, "messageId": "t-1"},
        {"type": "page", "userId": USER_ID, "messageId": "p-1"},
        {"type": "page", "anonymousId": "someone-else", "messageId": "p-2"},
    )
    assert not Touchpoint.objects.filter(message_id__endswith=":t-1").exists()
    assert not Touchpoint.objects.filter(message_id__endswith=":p-1").exists()
    assert Touchpoint.objects.filter(message_id__endswith=":p-2").count() == 1

    # a website form: accepted as usual, but nothing is stored
    tps = Touchpoint.objects.count()
    assert _submit(form).status_code == 200
    assert (Contact.objects.count(), Touchpoint.objects.count()) == (contacts, tps)

    # imports, both paths (a row of one address, another row with a new person)
    csv = f"Email,Last Name\r\n{EMAIL.upper()},X\r\nnew.person@other.example,Y\r\n".encode()
    job = imports.import_job_create(
        actor=world.user("marketer"),
        kind="contacts",
        upload=SimpleUploadedFile("people.csv", csv),
    )
    job = imports.import_run(actor=world.user("marketer"), job=job)
    assert (job.status, job.created_count, job.error_count) == (ImportStatus.DONE, 1, 1)
    assert job.report[0][:2] == [2, "email"]
    assert not Contact.objects.filter(email=EMAIL).exists()

    # by hand and through the API
    api = ApiClient(token_for(world.user("head")))
    created = api.post("/contacts", {"email": EMAIL, "first_name": "Ann"})
    assert created.status_code == 400
    assert "email" in created.json()["details"]
    page = _signed_in(world.user("marketer")).post(
        "/crm/contacts/new/", {"email": EMAIL, "first_name": "Ann", "lifecycle_stage": "lead"}
    )
    assert page.status_code == 400
    assert not Contact.objects.filter(email=EMAIL).exists()

    # nor filled again by a merge or an edit
    other = Contact.objects.exclude(pk=ann.pk).first()
    assert other is not None
    with pytest.raises(InvalidInput):
        crm.contacts_merge(actor=Actor.system(), survivor=ann, merged=other)
    edited = api.patch(f"/contacts/{ann.pk}", {"first_name": "Ann"})
    assert edited.status_code == 400

    # subscriptions: the erased contact cannot be subscribed (nor mailed: it has no address)
    subscribed = api.post(
        f"/marketing/subscriptions/{subscription.key}/subscribe",
        {"contact_id": ann.pk, "wording_version": "v1"},
    )
    assert subscribed.status_code == 400
    by_address = api.post(
        f"/marketing/subscriptions/{subscription.key}/subscribe",
        {"email": EMAIL, "wording_version": "v1"},
    )
    assert by_address.status_code == 404
    assert not ConsentRecord.objects.filter(contact=ann, purpose=subscription.key).exists()


@pytest.mark.django_db
def test_the_consent_ledger_is_shown_on_the_persons_record(world: World) -> None:
    ann, _form, _key = _person(world)
    consent_record(
        contact=ann,
        purpose="newsletter",
        state=ConsentRecord.State.WITHDRAWN,
        actor=Actor(user=world.user("marketer")),
    )
    client = _signed_in(world.user("head"))
    record = client.get(f"/crm/contacts/{ann.pk}/").content.decode()
    assert f"/tracking/contacts/{ann.pk}/consent/" in record
    assert f"/crm/contacts/{ann.pk}/privacy/" in record
    ledger = client.get(f"/tracking/contacts/{ann.pk}/consent/")
    assert ledger.status_code == 200
    shown = ledger.content.decode()
    assert FORM_IP in shown
    assert "Withdrawn" in shown


@pytest.mark.django_db
def test_the_privacy_page_and_its_refusals_read_in_russian(world: World) -> None:
    ann, _form, _key = _person(world)
    client = _signed_in(world.user("head"))
    page = client.get(f"/crm/contacts/{ann.pk}/privacy/", HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert "Удалить данные человека" in text
    assert "Erase the person" not in text
    refused = client.post(
        f"/crm/contacts/{ann.pk}/privacy/", {"confirm": "1"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert refused.status_code == 400
    assert "Это не номер этого контакта." in refused.content.decode()
    crm.contact_erase(actor=Actor(user=world.user("head")), contact=ann)
    api = ApiClient(token_for(world.user("head")))
    again = api.post("/contacts", {"email": EMAIL}, headers={"Accept-Language": "ru"})
    assert again.status_code == 400
    (message,) = again.json()["details"]["email"]
    assert message.startswith("Этот адрес принадлежит человеку, который попросил удалить")


def test_the_suppression_hash_is_keyed_and_normalised(settings: Any) -> None:
    from tandem.crm.privacy import suppression_digest

    settings.PRIVACY_SUPPRESSION_SECRET = ""
    by_secret_key = suppression_digest("email", EMAIL)
    settings.PRIVACY_SUPPRESSION_SECRET = "kept-from-before-a-rotation"
    keyed = suppression_digest("email", EMAIL)
    assert keyed != by_secret_key
    assert EMAIL not in keyed
    assert suppression_digest("email", f"  {EMAIL.upper()} ") == keyed
    assert suppression_digest("phone", "+49 (30) 555-0199") == suppression_digest(
        "phone", "+49305550199"
    )
    assert suppression_digest("user_id", EMAIL) != keyed  # each kind its own space
