"""The consent ledger is append-only: no change or delete through the ORM, but merges move it."""

from __future__ import annotations

import pytest

from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.tracking.models import AppendOnly, ConsentRecord

pytestmark = pytest.mark.django_db


def _record(contact_id: int, state: str = "granted") -> ConsentRecord:
    return ConsentRecord.objects.create(
        contact_id=contact_id, purpose="newsletter", wording="Send me news", state=state
    )


def test_a_stored_record_cannot_be_changed_or_deleted() -> None:
    contact = crm.contact_create(actor=Actor.system(), first_name="Ann", email="ann@x.test")
    record = _record(contact.pk)
    record.state = "withdrawn"
    with pytest.raises(AppendOnly):
        record.save()
    with pytest.raises(AppendOnly):
        record.delete()
    with pytest.raises(AppendOnly):
        ConsentRecord.objects.filter(pk=record.pk).update(state="withdrawn")
    with pytest.raises(AppendOnly):
        ConsentRecord.objects.filter(pk=record.pk).delete()
    stored = ConsentRecord.objects.get(pk=record.pk)
    assert (stored.state, stored.wording) == ("granted", "Send me news")


def test_withdrawal_is_a_new_record_and_merge_moves_the_ledger() -> None:
    system = Actor.system()
    ann = crm.contact_create(actor=system, first_name="Ann", email="ann@x.test")
    twin = crm.contact_create(actor=system, first_name="Ann", email="ann@y.test")
    _record(ann.pk)
    _record(twin.pk)
    _record(twin.pk, state="withdrawn")
    crm.contacts_merge(actor=system, survivor=ann, merged=twin)
    assert ConsentRecord.objects.filter(contact_id=ann.pk).count() == 3


def test_erasing_the_contact_takes_its_records() -> None:
    system = Actor.system()
    ann = crm.contact_create(actor=system, first_name="Ann", email="ann@x.test")
    _record(ann.pk)
    crm.contact_delete(actor=system, contact=ann)
    assert not ConsentRecord.objects.filter(contact_id=ann.pk).exists()
