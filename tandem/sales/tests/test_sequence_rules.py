"""Sequence rules and pages: what a step must hold, enrolling (visible contacts only, once per
sequence, not into a paused sequence), stopping by hand or by a known reason, the enrol form's
limits, and the self-service price request's refusals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.sales import selfservice, sequences
from tandem.sales.models import Deal, Enrolment, Sequence

EMAIL = {"kind": "email", "subject": "Hi {first_name}", "body": "Text"}


@pytest.fixture
def rep(world):  # type: ignore[no-untyped-def]
    return Actor(user=world.user("sales_rep"))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"kind": "fax"}, "step 1: unknown kind"),
        ({"kind": "wait", "wait_days": 0}, "step 1: a wait needs at least one day"),
        ({"kind": "wait", "wait_days": 366}, "step 1: wait 0 to 365 business days"),
        ({"kind": "wait", "wait_days": "2"}, "step 1: wait 0 to 365 business days"),
        ({"kind": "email", "subject": "Hi"}, "step 1: an email needs a subject and a text"),
        ({"kind": "call", "body": "x" * 20001}, "step 1: subject or text too long"),
    ],
)
def test_a_bad_step_is_refused_with_its_number(db, rep, step, message):
    with pytest.raises(InvalidInput) as refused:
        sequences.sequence_create(actor=rep, name="Cold", steps=[step])
    assert refused.value.errors["steps"] == [message]
    assert not Sequence.objects.exists()


def test_a_sequence_needs_a_name_and_1_to_the_most_steps(db, rep):
    with pytest.raises(InvalidInput):
        sequences.sequence_create(actor=rep, name=" ", steps=[EMAIL])
    with pytest.raises(InvalidInput):
        sequences.sequence_create(actor=rep, name="Empty", steps=[])
    with pytest.raises(InvalidInput):
        sequences.sequence_create(actor=rep, name="Long", steps=[EMAIL] * (sequences.MAX_STEPS + 1))
    made = sequences.sequence_create(
        actor=rep, name="Ok", steps=[EMAIL, {"kind": "wait", "wait_days": 2, "subject": "x"}]
    )
    assert [(s.kind, s.wait_days, s.position) for s in made.steps.order_by("position")] == [
        ("email", 0, 0),
        ("wait", 2, 1),
    ]


def test_enrolling_twice_keeps_one_enrolment_and_paused_sequences_refuse(world, rep):
    contact = world.contacts[("sales_rep", "north")]
    sequence = sequences.sequence_create(actor=rep, name="Warm", steps=[EMAIL])
    assert (
        len(sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk])) == 1
    )
    assert sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk]) == []
    assert Enrolment.objects.filter(contact=contact).count() == 1
    Sequence.objects.filter(pk=sequence.pk).update(active=False)
    sequence.refresh_from_db()
    with pytest.raises(InvalidInput) as paused:
        sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk])
    assert list(paused.value.errors) == ["sequence"]


def test_stopping_by_hand_or_by_reason_ends_every_active_enrolment(world, rep):
    contact = world.contacts[("sales_rep", "north")]
    first = sequences.sequence_create(actor=rep, name="One", steps=[EMAIL])
    second = sequences.sequence_create(actor=rep, name="Two", steps=[EMAIL])
    for sequence in (first, second):
        sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk])
    with pytest.raises(InvalidInput):
        sequences.sequence_stop_for_contact(contact.pk, "bored")
    manual = Enrolment.objects.get(sequence=first)
    assert sequences.enrolment_stop(actor=rep, enrolment=manual) == 1
    assert sequences.sequence_stop_for_contact(contact.pk, "replied") == 1
    assert sequences.sequence_stop_for_contact(contact.pk, "replied") == 0
    assert sorted(Enrolment.objects.values_list("status", "stop_reason")) == [
        ("stopped", "manual"),
        ("stopped", "replied"),
    ]


def test_the_enrol_form_takes_1_to_500_contacts_the_rep_sees(client, world, rep):
    sequence = sequences.sequence_create(actor=rep, name="Form", steps=[EMAIL])
    client.force_login(world.user("sales_rep"))
    url = reverse("sales:sequence_detail", args=[sequence.pk])
    form = client.get(url).content.decode()
    assert 'name="contact_ids__search"' in form  # searched by name, no id to type
    assert 'hx-get="/crm/contacts/pick/"' in form
    letters = client.post(url, {"contact_ids": ["12", "abc"]})
    assert letters.status_code == 400
    assert "Choose from the suggestions: search by name." in letters.content.decode()
    many = [str(n) for n in range(1, 502)]
    assert client.post(url, {"contact_ids": many}).status_code == 400
    south = world.contacts[("sales_rep", "south")]
    hidden = client.post(url, {"contact_ids": [str(south.pk)]})
    assert hidden.status_code == 400
    assert "Choose from the suggestions: search by name." in hidden.content.decode()
    north = world.contacts[("sales_rep", "north")]
    assert client.post(url, {"contact_ids": [str(north.pk)]}).status_code == 302
    assert list(Enrolment.objects.values_list("contact_id", flat=True)) == [north.pk]


def test_another_sides_sequence_is_404(client, world, rep):
    sequence = sequences.sequence_create(actor=rep, name="North only", steps=[EMAIL])
    client.force_login(world.user("sales_rep", "south"))
    assert client.get(reverse("sales:sequence_detail", args=[sequence.pk])).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "100001"}, "quantity"),
        ({"message": "x" * 2001}, "message"),
        ({"currency": "GBP"}, "product_id"),  # no price in that currency
    ],
)
def test_a_bad_price_request_is_refused_and_stores_nothing(sales, fields, field):
    data = {"email": "buyer@farm.test", "product_id": sales.widget.pk, **fields}
    with pytest.raises(InvalidInput) as refused:
        selfservice.price_request(**data)
    assert list(refused.value.errors) == [field]
    assert not Deal.objects.exists()
    assert not Contact.objects.filter(email="buyer@farm.test").exists()


def test_a_product_not_offered_online_is_refused(sales):
    with pytest.raises(InvalidInput) as refused:
        selfservice.price_request(email="buyer@farm.test", product_id=sales.gadget.pk)
    assert list(refused.value.errors) == ["product_id"]


def test_a_known_buyer_is_reused_and_each_request_is_its_own_deal(world, sales):
    contact = world.contacts[("sales_rep", "north")]
    first, handed = selfservice.price_request(
        email=contact.email.upper(), product_id=sales.widget.pk, quantity="2"
    )
    second, _handed = selfservice.price_request(email=contact.email, product_id=sales.widget.pk)
    assert handed is False
    assert first.pk != second.pk
    assert [c.contact_id for c in first.deal_contacts.all()] == [contact.pk]
    assert [c.contact_id for c in second.deal_contacts.all()] == [contact.pk]
    assert (first.amount, first.source, first.owner_id) == (200, "self_service", None)
