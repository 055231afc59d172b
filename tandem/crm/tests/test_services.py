"""The customer record's services: validation, duplicates, custom attributes, and the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import ApiToken, AuditEntry, User, hash_token
from tandem.crm import selectors, services
from tandem.crm.models import Account, AccountDomain, Contact, CustomAttribute, Touchpoint

pytestmark = pytest.mark.django_db
system = Actor.system()


def test_account_industry_attributes_follow_the_industry_schema():
    farm = services.account_create(
        actor=system,
        name="Green Fields",
        industry="agriculture",
        industry_attributes={"farm_area_ha": "1200.5", "crops": ["wheat", "barley"]},
    )
    assert farm.industry_attributes == {"farm_area_ha": 1200.5, "crops": ["wheat", "barley"]}
    with pytest.raises(InvalidInput) as err:
        services.account_create(
            actor=system,
            name="Clinic",
            industry="medical",
            industry_attributes={"clinic_type": "spa"},
        )
    assert "industry_attributes" in err.value.errors
    with pytest.raises(InvalidInput) as err:  # a field of another industry is refused
        services.account_create(
            actor=system,
            name="Chips",
            industry="electronics",
            industry_attributes={"crops": ["corn"]},
        )
    assert "crops" in err.value.errors["industry_attributes"][0]
    assert Account.objects.count() == 1


def test_changing_industry_drops_attributes_of_the_old_one():
    account = services.account_create(
        actor=system, name="Mixed", industry="agriculture", industry_attributes={"crops": ["rye"]}
    )
    services.account_update(
        actor=system,
        account=account,
        industry="electronics",
        industry_attributes={"business_type": "oem"},
    )
    account.refresh_from_db()
    assert account.industry_attributes == {"business_type": "oem"}


def _groups(model: type[Any]) -> list[list[int]]:
    """Duplicate groups as someone who sees every record finds them."""
    head, _new = User.objects.get_or_create(username="head-sees-all", defaults={"role": "head"})
    return [[r.pk for r in group] for group in selectors.duplicate_groups(head, model)]


def test_domains_are_normalised_and_duplicates_detected():
    a = services.account_create(actor=system, name="A", domains=["https://www.Agro.example.com/"])
    b = services.account_create(actor=system, name="B", domains=["agro.example.com", "b.io"])
    assert a.domains == ["agro.example.com"]
    assert _groups(Account) == [[a.pk, b.pk]]
    with pytest.raises(InvalidInput) as err:
        services.account_create(actor=system, name="C", domains=["not a domain"])
    assert "domains" in err.value.errors
    services.account_update(actor=system, account=b, domains=["b.io"])
    assert _groups(Account) == []
    assert set(AccountDomain.objects.values_list("domain", flat=True)) == {
        "agro.example.com",
        "b.io",
    }


def test_contact_emails_are_lowercased_and_duplicates_found():
    first = services.contact_create(actor=system, first_name="Ann", email="Ann@Clinic.Example.com")
    second = services.contact_create(
        actor=system, last_name="A.", emails=["x@y.com", "ann@clinic.example.com"]
    )
    assert first.email == "ann@clinic.example.com"
    assert second.email == "x@y.com"
    assert _groups(Contact) == [[first.pk, second.pk]]
    assert services.contact_duplicates_of(
        email=" ANN@clinic.example.com ", exclude_id=first.pk
    ) == [second.pk]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "__all__"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": "A", "lifecycle_stage": "king"}, "lifecycle_stage"),
        ({"first_name": "A", "consent": "maybe"}, "consent"),
        ({"first_name": "A", "owner_id": 999_999}, "owner_id"),
        ({"first_name": "A", "account_id": 999_999}, "account_id"),
        ({"first_name": "A", "shoe_size": 42}, "shoe_size"),
    ],
)
def test_bad_contact_input_is_refused_and_nothing_is_stored(data, field):
    with pytest.raises(InvalidInput) as err:
        services.contact_create(actor=system, **data)
    assert field in err.value.errors
    assert Contact.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_custom_attributes_are_validated_against_their_definitions():
    CustomAttribute.objects.create(
        target="contact", key="herd_size", label="Herd size", type="number"
    )
    CustomAttribute.objects.create(
        target="contact",
        key="tier",
        label="Tier",
        type="choice",
        choices=["gold", "silver"],
        required=True,
    )
    with pytest.raises(InvalidInput) as err:
        services.contact_create(actor=system, first_name="A", custom={"herd_size": "many"})
    assert set(err.value.errors) == {"custom.herd_size", "custom.tier"}
    contact = services.contact_create(
        actor=system, first_name="A", custom={"herd_size": "250", "tier": "gold"}
    )
    assert contact.custom == {"herd_size": 250.0, "tier": "gold"}
    with pytest.raises(InvalidInput):
        services.contact_update(actor=system, contact=contact, custom={"tier": "bronze"})
    contact.refresh_from_db()
    assert contact.custom["tier"] == "gold"


def test_every_change_is_audited_with_before_and_after(django_user_model):
    user = django_user_model.objects.create_user(username="editor", role="marketer")
    token = ApiToken.objects.create(
        user=user, name="t", prefix="tdm_x", token_hash=hash_token("secret")
    )
    actor = Actor(user=user, token=token)
    contact = services.contact_create(actor=actor, first_name="Olga", title="Agronomist")
    services.contact_update(actor=actor, contact=contact, title="Head agronomist", tags=["vip"])
    services.contact_update(actor=actor, contact=contact, title="Head agronomist")  # no change
    services.contact_delete(actor=actor, contact=contact)

    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.actor == user and e.token == token for e in entries)
    assert entries[0].changes["first_name"] == [None, "Olga"]
    assert entries[1].changes == {"title": ["Agronomist", "Head agronomist"], "tags": [[], ["vip"]]}
    assert entries[2].changes["title"] == ["Head agronomist", None]


def _create_then_fail() -> None:
    with transaction.atomic():
        services.account_create(actor=system, name="Doomed")
        raise RuntimeError("the request failed after the write")


def test_audit_entry_rolls_back_with_the_change():
    with pytest.raises(RuntimeError):
        _create_then_fail()
    assert Account.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_audit_refuses_to_write_outside_a_transaction():
    account = Account(pk=1, name="x")
    with pytest.raises(RuntimeError):
        record_change(actor=system, action="create", instance=account, changes={})


def test_touchpoint_takes_the_contacts_account_and_needs_a_subject():
    account = services.account_create(actor=system, name="Acme")
    contact = services.contact_create(actor=system, first_name="A", account_id=account.pk)
    tp = services.touchpoint_record(
        channel="sales_call", kind="call", department="sales", contact=contact
    )
    assert tp.account_id == account.pk
    with pytest.raises(InvalidInput):
        services.touchpoint_record(channel="x", kind="y", department="marketing")
    with pytest.raises(InvalidInput):
        services.touchpoint_record(channel="x", kind="y", department="finance", contact=contact)
    assert Touchpoint.objects.count() == 1
