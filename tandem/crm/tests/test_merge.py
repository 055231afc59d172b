"""Merging two contacts keeps every related row of both (a Hypothesis property test)."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, User
from tandem.crm import services
from tandem.crm.models import Contact, ContactEmail, ContactPhone, Identity, Touchpoint

pytestmark = pytest.mark.django_db

emails = st.lists(
    st.sampled_from(["a@x.com", "b@x.com", "c@y.org", "shared@z.net", "d@w.io"]),
    max_size=4,
    unique=True,
)
side = st.fixed_dictionaries(
    {
        "first_name": st.sampled_from(["", "Ivan", "Anna"]),
        "emails": emails,
        "phones": st.lists(st.sampled_from(["+7 900", "+49 30", "+1 212"]), max_size=3),
        "identities": st.lists(
            st.text("abcdef0123", min_size=1, max_size=6), max_size=3, unique=True
        ),
        "tags": st.lists(
            st.sampled_from(["vip", "farm", "clinic", "oem"]), max_size=3, unique=True
        ),
        "touchpoints": st.integers(min_value=0, max_value=4),
        "shared": st.booleans(),
    }
)


def _make(data: dict, prefix: str, reader: User) -> Contact:
    contact = services.contact_create(
        actor=Actor.system(),
        first_name=data["first_name"] or prefix,
        emails=data["emails"],
        tags=data["tags"],
    )
    for phone in data["phones"]:
        ContactPhone.objects.create(contact=contact, phone=phone)
    for value in data["identities"]:
        Identity.objects.create(kind="user_id", value=f"{prefix}-{value}", contact=contact)
    for i in range(data["touchpoints"]):
        services.touchpoint_record(
            channel="website", kind=f"view{i}", department="marketing", contact=contact
        )
    if data["shared"]:
        contact.shared_with.add(reader)
    return contact


def _related(contact: Contact) -> dict[str, set]:
    return {
        "emails": set(contact.emails.values_list("email", flat=True)),
        "phones": set(contact.phones.values_list("id", flat=True)),
        "identities": set(contact.identities.values_list("id", flat=True)),
        "touchpoints": set(contact.touchpoints.values_list("id", flat=True)),
        "tags": set(contact.tags.values_list("name", flat=True)),
        "shared": set(contact.shared_with.values_list("id", flat=True)),
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(left=side, right=side)
def test_merge_keeps_every_related_row_of_both(django_user_model, left, right):
    with transaction.atomic():  # each example starts from an empty database
        _check_merge(django_user_model, left, right)
        transaction.set_rollback(True)


def _check_merge(django_user_model, left, right):
    reader, _ = django_user_model.objects.get_or_create(username="reader")
    survivor = _make(left, "left", reader)
    merged = _make(right, "right", reader)
    before_left, before_right = _related(survivor), _related(merged)
    audit_before = AuditEntry.objects.count()

    result = services.contacts_merge(actor=Actor.system(), survivor=survivor, merged=merged)

    after = _related(result)
    for key in before_left:
        assert after[key] == before_left[key] | before_right[key], key
    assert not Contact.objects.filter(pk=merged.pk).exists()
    primary = ContactEmail.objects.filter(contact=result, is_primary=True)
    assert primary.count() == (1 if result.email else 0)
    if result.email:
        assert primary.get().email == result.email
    assert AuditEntry.objects.count() == audit_before + 2
    # nothing left pointing at the merged record
    assert not Touchpoint.objects.filter(contact_id=merged.pk).exists()
    assert not Identity.objects.filter(contact_id=merged.pk).exists()


def test_merge_fills_blanks_from_the_merged_record_but_keeps_the_survivors_values(db):
    survivor = services.contact_create(actor=Actor.system(), first_name="Anna", title="")
    merged = services.contact_create(
        actor=Actor.system(), first_name="Hanna", title="CTO", email="anna@farm.example.com"
    )
    result = services.contacts_merge(actor=Actor.system(), survivor=survivor, merged=merged)
    assert (result.first_name, result.title, result.email) == (
        "Anna",
        "CTO",
        "anna@farm.example.com",
    )


def test_a_contact_cannot_be_merged_with_itself(db):
    contact = services.contact_create(actor=Actor.system(), first_name="Solo")
    with pytest.raises(InvalidInput):
        services.contacts_merge(actor=Actor.system(), survivor=contact, merged=contact)
    assert Contact.objects.filter(pk=contact.pk).exists()
