"""Nobody types an id on the programmes pages: accounts and people are picked by name (suggestions
from crm's pickers, of the viewer's scope), products, curricula and rewards from lists; a record
outside the viewer's scope is a form error (400), never a 404 or a 500, and nothing is written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.pickers import SearchPickField
from tandem.programmes import forms, loyalty
from tandem.programmes.models import (
    Attendance,
    FieldTrial,
    Membership,
    PointsEntry,
    Redemption,
    TrainingSession,
    TransferOfValue,
)

from .conftest import Loyalty, training_session

pytestmark = pytest.mark.django_db
REFUSED = "Choose from the suggestions: search by name."
OPTION = re.compile(r'<input type="radio" name="account" value="(\d+)"> ([^<]*)')


def test_account_suggestions_are_the_viewers_accounts_matching_by_name(world: Any) -> None:
    client = Client()
    client.force_login(world.user("field_rep", "north"))
    mine = world.accounts[("field_rep", "north")]
    answer = client.get(
        "/crm/accounts/pick/", {"field": "account", "multiple": "0", "account__search": "account"}
    )
    assert answer.status_code == 200
    assert OPTION.findall(answer.content.decode()) == [(str(mine.pk), mine.name)]
    assert client.get("/crm/accounts/pick/", {"field": "a b"}).status_code == 400


def test_the_forms_show_pickers_and_lists_never_an_id_box(world: Any, programme: Loyalty) -> None:
    rep = world.user("field_rep", "north")
    membership = loyalty.member_enrol(
        actor=Actor.system(),
        programme=programme.programme,
        account=world.accounts[("field_rep", "north")],
        country="DE",
    )
    made = [
        forms.SessionForm(user=rep),
        forms.AttendeeForm(user=rep),
        forms.TrialForm(user=rep),
        forms.EnrolForm(user=rep),
        forms.RedeemForm(user=rep, programme=programme.programme, account_id=membership.account_id),
        forms.ReferralForm(user=rep),
        forms.TransferForm(user=rep),
        forms.CurriculumForm(user=rep),
    ]
    for form in made:
        html = str(form)
        assert " id" not in " ".join(str(f.label) for f in form.fields.values()), form
        for name, field in form.fields.items():
            if isinstance(field, SearchPickField):
                assert 'hx-get="/crm/' in html
                assert f'name="{name}__search"' in html
    assert '<option value="' + str(programme.product.pk) + '">Seed treatment</option>' in str(
        forms.TrialForm(user=rep)
    )


def test_a_trial_on_a_farm_the_rep_does_not_see_is_a_form_error(
    world: Any, programme: Loyalty, client: Client
) -> None:
    client.force_login(world.user("field_rep", "north"))
    south = world.accounts[("field_rep", "south")]
    data = {"product": programme.product.pk, "crop": "wheat", "season": 2026}
    answer = client.post("/programmes/trials/new/", {**data, "account": south.pk})
    assert answer.status_code == 400
    assert REFUSED in answer.content.decode()
    assert not FieldTrial.objects.exists()
    north = world.accounts[("field_rep", "north")]
    assert client.post("/programmes/trials/new/", {**data, "account": north.pk}).status_code == 302
    assert FieldTrial.objects.get().account == north


def test_a_session_hosted_by_an_unseen_account_is_a_form_error(
    world: Any, programme: Loyalty, client: Client
) -> None:
    curriculum = training_session(programme).curriculum
    client.force_login(world.user("field_rep", "north"))
    data = {
        "session-curriculum": curriculum.pk,
        "session-mode": "on_site",
        "session-starts_at": "2026-12-21T09:00",
        "session-ends_at": "2026-12-21T12:00",
        "session-capacity": "10",
        "session-host_account": world.accounts[("sales_rep", "south")].pk,
    }
    answer = client.post("/programmes/trainings/sessions/new/", data)
    assert answer.status_code == 400
    assert REFUSED in answer.content.decode()
    assert TrainingSession.objects.count() == 1


def test_an_attendee_the_rep_does_not_see_is_a_form_error(
    world: Any, programme: Loyalty, client: Client
) -> None:
    session = training_session(programme)
    client.force_login(world.user("field_rep", "north"))
    url = f"/programmes/trainings/sessions/{session.pk}/attendees/"
    answer = client.post(url, {"contact": world.contacts[("field_rep", "south")].pk})
    assert answer.status_code == 400
    assert REFUSED in answer.content.decode()
    assert not Attendance.objects.exists()
    mine = world.contacts[("field_rep", "north")]
    assert client.post(url, {"contact": mine.pk}).status_code == 302
    assert Attendance.objects.get().contact == mine


def test_enrolling_or_referring_an_unseen_account_is_a_form_error(
    world: Any, programme: Loyalty, client: Client
) -> None:
    north = world.accounts[("field_rep", "north")]
    south = world.accounts[("field_rep", "south")]
    membership = loyalty.member_enrol(
        actor=Actor.system(), programme=programme.programme, account=north, country="DE"
    )
    client.force_login(world.user("field_rep", "north"))
    enrol = client.post(
        f"/programmes/loyalty/{programme.programme.pk}/",
        {"form": "enrol", "enrol-account": south.pk, "enrol-country": "DE"},
    )
    assert enrol.status_code == 400
    assert REFUSED in enrol.content.decode()
    assert list(Membership.objects.values_list("account_id", flat=True)) == [north.pk]
    referral = client.post(
        f"/programmes/loyalty/members/{membership.pk}/referrals/", {"account": south.pk}
    )
    assert referral.status_code == 400
    assert REFUSED in referral.content.decode()
    assert not PointsEntry.objects.exists()


def test_a_traveller_from_another_account_is_a_form_error(
    world: Any, programme: Loyalty, client: Client
) -> None:
    membership = loyalty.member_enrol(
        actor=Actor.system(),
        programme=programme.programme,
        account=world.accounts[("field_rep", "north")],
        country="IT",
    )
    client.force_login(world.user("head"))  # sees every contact, still not a traveller here
    answer = client.post(
        f"/programmes/loyalty/members/{membership.pk}/redeem/",
        {
            "reward": programme.trip.pk,
            "quantity": 1,
            "travellers": [str(world.contacts[("sales_rep", "north")].pk)],
        },
    )
    assert answer.status_code == 400
    assert "Travellers are people of the member account." in answer.content.decode()
    assert not Redemption.objects.exists()


def test_a_reward_of_another_programme_is_refused(world: Any, programme: Loyalty) -> None:
    other = loyalty.programme_create(actor=Actor.system(), name="Other", currency="EUR")
    form = forms.RedeemForm(
        {"reward": programme.mug.pk, "quantity": 1},
        user=world.user("head"),
        programme=other,
        account_id=world.accounts[("field_rep", "north")].pk,
    )
    assert not form.is_valid()
    assert "reward" in form.errors


def test_a_transfer_names_a_seen_organisation_and_one_of_its_people(world: Any) -> None:
    rep = world.user("field_rep", "north")
    north = world.accounts[("field_rep", "north")]
    data = {
        "account": north.pk,
        "country": "DE",
        "nature": "education",
        "value": "100",
        "currency": "EUR",
        "occurred_on": "2026-05-01",
    }
    unseen = forms.TransferForm(
        {**data, "account": world.accounts[("field_rep", "south")].pk}, user=rep
    )
    assert not unseen.is_valid()
    assert unseen.errors["account"] == [REFUSED]
    head = world.user("head")
    stranger = forms.TransferForm(
        {**data, "contact": world.contacts[("sales_rep", "north")].pk}, user=head
    )
    assert not stranger.is_valid()
    assert stranger.errors["contact"] == ["The person does not belong to this organisation."]
    mine = world.contacts[("field_rep", "north")]
    ok = forms.TransferForm({**data, "contact": mine.pk}, user=rep)
    assert ok.is_valid(), ok.errors
    assert (ok.cleaned_data["account"], ok.cleaned_data["contact"]) == (north, mine)
    assert not TransferOfValue.objects.exists()
