"""Consent lives on one ledger: `Contact.consent` is derived from its rows, written with them by
the ledger's one service, and nothing else (form, API, imports, other apps) writes either."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.test import Client

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing import consent as marketing_consent
from tandem.marketing.models import SubscriptionType
from tandem.tracking.models import ConsentRecord, Form
from tandem.tracking.services import (
    ConsentEntry,
    consent_derived,
    consent_record,
    consent_record_bulk,
)

pytestmark = pytest.mark.django_db
TANDEM = Path(__file__).resolve().parents[2]


def _contact(email: str = "ada@lab.example") -> Contact:
    return crm.contact_create(actor=Actor.system(), email=email)


def test_the_contacts_consent_is_derived_from_the_latest_row_of_each_purpose() -> None:
    contact = _contact()
    steps = [
        ("newsletter", "pending", "pending"),
        ("newsletter", "confirmed", "granted"),
        ("events", "withdrawn", "granted"),  # another purpose still granted
        ("newsletter", "withdrawn", "withdrawn"),
        ("events", "pending", "pending"),
        ("events", "granted", "granted"),
    ]
    assert consent_derived(contact.pk) == "unknown"
    for purpose, state, expected in steps:
        consent_record(contact=contact, purpose=purpose, state=state)
        contact.refresh_from_db()
        assert (contact.consent, consent_derived(contact.pk)) == (expected, expected), purpose
    audited = AuditEntry.objects.filter(
        model="crm.Contact", object_id=str(contact.pk), action="update"
    ).order_by("id")
    assert [e.changes["consent"] for e in audited] == [
        ["unknown", "pending"],
        ["pending", "granted"],
        ["granted", "withdrawn"],
        ["withdrawn", "pending"],
        ["pending", "granted"],
    ]


def test_the_bulk_ledger_stores_what_recording_the_rows_one_by_one_stores() -> None:
    plans = [
        [],
        [("newsletter", "granted")],
        [("newsletter", "pending")],
        [("newsletter", "withdrawn")],
        [("newsletter", "pending"), ("newsletter", "confirmed")],
        [("events", "granted"), ("newsletter", "withdrawn")],
        [("newsletter", "granted"), ("newsletter", "withdrawn"), ("events", "pending")],
    ]
    one_by_one = [_contact(f"one{i}@lab.example") for i in range(len(plans))]
    at_once = [_contact(f"bulk{i}@lab.example") for i in range(len(plans))]
    consent_record(contact=at_once[2], purpose="events", state="granted")  # a row from before
    consent_record(contact=one_by_one[2], purpose="events", state="granted")
    for contact, plan in zip(one_by_one, plans, strict=True):
        for purpose, state in plan:
            consent_record(contact=contact, purpose=purpose, state=state)
    entries = [
        ConsentEntry(contact.pk, purpose, state)
        for contact, plan in zip(at_once, plans, strict=True)
        for purpose, state in plan
    ]
    assert consent_record_bulk(entries=entries) == len(entries)

    def stored(contacts: list[Contact]) -> list[tuple[str, list[tuple[str, str]]]]:
        out = []
        for contact in contacts:
            contact.refresh_from_db()
            rows = ConsentRecord.objects.filter(contact=contact).order_by("at", "id")
            out.append((contact.consent, list(rows.values_list("purpose", "state"))))
        return out

    assert stored(at_once) == stored(one_by_one)
    assert [c.consent for c in at_once] == [
        "unknown", "granted", "granted", "withdrawn", "granted", "granted", "pending",
    ]  # fmt: skip
    # one audit entry per contact whose consent changed: from before the bulk to after it
    audited = AuditEntry.objects.filter(
        model="crm.Contact", action="update", object_id__in=[str(c.pk) for c in at_once[3:]]
    ).order_by("object_id")
    assert [e.changes["consent"] for e in audited] == [
        ["unknown", "withdrawn"],
        ["unknown", "granted"],
        ["unknown", "granted"],
        ["unknown", "pending"],
    ]
    assert audited[0].object_repr == "one3@lab.example".replace("one", "bulk")


def test_a_bulk_with_an_unknown_state_or_contact_stores_nothing() -> None:
    contact = _contact()
    for entries in (
        [ConsentEntry(contact.pk, "newsletter", "granted"), ConsentEntry(contact.pk, "x", "maybe")],
        [
            ConsentEntry(contact.pk, "newsletter", "granted"),
            ConsentEntry(0, "newsletter", "granted"),
        ],
    ):
        with pytest.raises(InvalidInput):
            consent_record_bulk(entries=entries)
    assert not ConsentRecord.objects.exists()
    contact.refresh_from_db()
    assert contact.consent == "unknown"
    assert consent_record_bulk(entries=[]) == 0


def test_a_merge_rederives_the_survivors_consent_from_the_rows_it_gained() -> None:
    survivor = _contact("keep@lab.example")
    merged = _contact("fold@lab.example")
    consent_record(contact=merged, purpose="newsletter", state="granted")
    assert survivor.consent == "unknown"
    survivor = crm.contacts_merge(actor=Actor.system(), survivor=survivor, merged=merged)
    survivor.refresh_from_db()
    assert ConsentRecord.objects.filter(contact=survivor).count() == 1
    assert survivor.consent == consent_derived(survivor.pk) == "granted"
    # and a merge that changes nothing on the ledger leaves the consent as it was
    other = _contact("other@lab.example")
    crm.contacts_merge(actor=Actor.system(), survivor=survivor, merged=other)
    survivor.refresh_from_db()
    assert survivor.consent == "granted"


def test_a_website_form_and_its_confirmation_go_through_the_ledger() -> None:
    form = Form.objects.create(
        name="Report", consent_purpose="report_news", consent_wording="Yes", double_opt_in=False
    )
    response = Client().post(f"/f/{form.key}/submit", {"email": "bo@lab.example", "consent": "on"})
    assert response.status_code in (200, 201), response.content
    contact = Contact.objects.get(email="bo@lab.example")
    assert contact.consent == "granted"
    assert list(ConsentRecord.objects.filter(contact=contact).values_list("state", "form")) == [
        ("granted", form.pk)
    ]


def test_unsubscribing_from_everything_withdraws_every_purpose_on_the_ledger() -> None:
    contact = _contact()
    consent_record(contact=contact, purpose="a_form_purpose", state="granted")
    newsletter = SubscriptionType.objects.get(key="newsletter")
    marketing_consent.subscribe(contact=contact, subscription=newsletter, source="api")
    contact.refresh_from_db()
    assert contact.consent == "granted"
    # leaving the only subscription is leaving marketing: the form's purpose goes too (the
    # record once went on saying "granted")
    marketing_consent.unsubscribe(contact=contact, subscriptions=[newsletter], source="link")
    contact.refresh_from_db()
    assert contact.consent == "withdrawn"
    consent_record(contact=contact, purpose="a_form_purpose", state="granted")
    marketing_consent.unsubscribe(contact=contact, source="link")
    contact.refresh_from_db()
    assert contact.consent == "withdrawn"
    assert marketing_consent.consent_state(contact_id=contact.pk, purpose="a_form_purpose") == (
        "withdrawn"
    )


def test_the_contact_page_shows_the_consent_the_ledger_states(world: World) -> None:
    contact = world.contacts[("sales_rep", "north")]
    client = Client()
    client.force_login(world.user("head"))
    consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    page = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert 'title="From the consent ledger">Withdrawn</dd>' in page


def test_creating_a_contact_with_consent_is_refused() -> None:
    with pytest.raises(crm.InvalidInput) as refused:
        crm.contact_create(actor=Actor.system(), email="c@lab.example", consent="granted")
    assert refused.value.code == "owned_elsewhere"
    assert not Contact.objects.filter(email="c@lab.example").exists()


# --- who may write what -------------------------------------------------------------------


def _calls(name: str) -> set[str]:
    """The modules (outside tests and migrations) that call or create `name`."""
    found: set[str] = set()
    for path in TANDEM.rglob("*.py"):
        parts = path.relative_to(TANDEM.parent).parts
        if "tests" in parts or "migrations" in parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute | ast.Name):
                ident = node.attr if isinstance(node, ast.Attribute) else node.id
                if ident == name:
                    found.add("/".join(parts))
    return found


def test_only_the_ledger_writes_consent_and_only_leads_writes_the_stage() -> None:
    assert _calls("contact_consent_write") == {"tandem/tracking/consent.py"}
    assert _calls("contacts_consent_write") == {"tandem/tracking/consent.py"}
    assert _calls("contact_stage_write") == {"tandem/leads/lifecycle.py"}
    writes = re.compile(r"ConsentRecord\.objects\.(bulk_)?create\b|insert_rows\(\s*ConsentRecord\b")
    creators = {
        path
        for path in _calls("ConsentRecord")
        if writes.search((TANDEM.parent / path).read_text(encoding="utf-8"))
    }
    assert creators == {"tandem/tracking/consent.py"}


def test_tracking_does_not_import_marketing() -> None:
    importers = set()
    for path in (TANDEM / "tracking").rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "tandem.marketing"
            ):
                importers.add(path.name)
            if isinstance(node, ast.Import) and any(
                a.name.startswith("tandem.marketing") for a in node.names
            ):
                importers.add(path.name)
    assert importers == set()
