"""Sequence rules and pages: what a step must hold, enrolling in the sequence's flow (visible
contacts only, once while running, not into a paused sequence), stopping by hand or by a known
reason, the enrol form's limits, the pages showing the flow's enrolments, and the self-service
price request's refusals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tandem.automation.models import Enrolment, Flow
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Contact
from tandem.sales import selfservice, sequences
from tandem.sales.models import Deal, Sequence

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
    assert not Flow.objects.exists()


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
    sequences.sequence_set_active(actor=rep, sequence=sequence, active=False)
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
    manual = Enrolment.objects.get(flow=first.flow)
    assert sequences.enrolment_stop(actor=rep, enrolment=manual) == 1
    assert sequences.sequence_stop_for_contact(contact.pk, "replied") == 1
    assert sequences.sequence_stop_for_contact(contact.pk, "replied") == 0
    assert sorted(Enrolment.objects.values_list("status", "exit_reason")) == [
        ("exited", "stopped by a rep"),
        ("exited", "stopped: replied"),
    ]


def test_only_the_owner_or_a_head_enrols_in_a_sequence(client, world, rep):
    cadence = sequences.sequence_create(actor=rep, name="Owned", steps=[EMAIL])
    owner = world.user("sales_rep")
    teammate = User.objects.create_user(
        username="mate_north", password="x", role="sales_rep", team=owner.team
    )
    contact = world.contacts[("sales_rep", "north")]
    with pytest.raises(InvalidInput) as refused:
        sequences.sequence_enrol(
            actor=Actor(user=teammate), sequence=cadence, contact_ids=[contact.pk]
        )
    assert refused.value.code == "forbidden"
    client.force_login(teammate)
    url = reverse("sales:sequence_detail", args=[cadence.pk])
    assert client.get(url).status_code == 200  # a teammate still sees it
    page = client.post(url, {"contact_ids": [contact.pk]})
    assert page.status_code == 403
    assert "only the sequence&#x27;s owner" in page.content.decode()
    assert client.post(reverse("sales:sequence_pause", args=[cadence.pk])).status_code == 404
    assert Enrolment.objects.count() == 0
    head = world.user("head")
    created = sequences.sequence_enrol(
        actor=Actor(user=head), sequence=cadence, contact_ids=[contact.pk]
    )
    assert [e.contact_id for e in created] == [contact.pk]
    client.force_login(owner)
    sequences.sequence_stop_for_contact(contact.pk, "manual")
    assert client.post(url, {"contact_ids": [contact.pk]}).status_code == 302
    assert Enrolment.objects.filter(status="active").count() == 1


def test_the_sequence_page_shows_the_flow_enrolments_and_stops_one(client, world, rep):
    sequence = sequences.sequence_create(actor=rep, name="Page", steps=[EMAIL])
    contact = world.contacts[("sales_rep", "north")]
    (enrolment,) = sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk])
    client.force_login(world.user("sales_rep"))
    url = reverse("sales:sequence_detail", args=[sequence.pk])
    page = client.get(url).content.decode()
    assert reverse("automation:enrolment", args=[enrolment.pk]) in page
    assert reverse("automation:flow", args=[sequence.flow_id]) in page
    listing = client.get(reverse("sales:sequence_list")).content.decode()
    assert "Page" in listing
    client.force_login(world.user("sales_rep", "south"))
    stop = reverse("sales:enrolment_stop", args=[enrolment.pk])
    assert client.post(stop).status_code == 404  # another side's sequence and contact
    client.force_login(world.user("sales_rep"))
    assert client.post(stop).status_code == 302
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.exit_reason) == ("exited", "stopped by a rep")
    assert client.post(reverse("sales:sequence_pause", args=[sequence.pk])).status_code == 302
    sequence.refresh_from_db()
    assert sequence.active is False
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    russian = client.get(url).content.decode()
    assert "Возобновить" in russian


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


def test_sequence_form_rejects_bad_steps(client, world):
    client.force_login(world.user("sales_rep"))
    response = client.post(
        reverse("sales:sequence_list"), {"name": "Bad", "steps": "email: no body\nfax: hello"}
    )
    assert response.status_code == 400
    good = client.post(
        reverse("sales:sequence_list"),
        {"name": "Good", "steps": "email: Hi | Text\nwait: 3\ncall: ring"},
    )
    assert good.status_code == 302
    assert Sequence.objects.get(name="Good").flow.status == "active"


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


def test_a_successor_takes_the_sequence_and_its_flow(world, rep):
    from django.db import transaction

    from tandem.sales import ownership

    sequence = sequences.sequence_create(actor=rep, name="Handed", steps=[EMAIL])
    successor = world.user("head")
    with transaction.atomic():
        moved = ownership.sequences_reassign(
            actor=Actor.system(), source=world.user("sales_rep"), target=successor
        )
    assert moved == 1
    sequence.refresh_from_db()
    assert sequence.owner == successor
    assert Flow.objects.get(pk=sequence.flow_id).owner == successor


def test_the_owner_edits_the_steps_on_the_page_as_a_new_version(client, world, rep):
    sequence = sequences.sequence_create(
        actor=rep,
        name="Edited",
        steps=[
            {"kind": "email", "subject": "Hi", "body": "Line one\nline two"},
            {"kind": "wait", "wait_days": 2},
            {"kind": "call", "body": "ring"},
        ],
    )
    client.force_login(world.user("sales_rep"))
    page = client.get(reverse("sales:sequence_detail", args=[sequence.pk])).content.decode()
    assert "email: Hi | Line one\\nline two\nwait: 2\ncall: ring" in page
    url = reverse("sales:sequence_steps", args=[sequence.pk])
    bad = client.post(url, {"steps": "fax: hello"}, follow=True)
    assert "Line 1: unknown step kind." in bad.content.decode()
    assert client.post(url, {"steps": "email: New | Text\nlinkedin: hi"}).status_code == 302
    assert [s.kind for s in sequence.steps.order_by("position")] == ["email", "linkedin"]
    sequence.refresh_from_db()
    assert sequence.flow.live_version.number == 2
    client.force_login(world.user("sales_rep", "south"))
    assert client.post(url, {"steps": "call: x"}).status_code == 404
