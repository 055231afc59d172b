"""Picking contacts by name: the suggestions endpoint offers only contacts the viewer sees,
matched by name and shown by name, and a form with a contact picker refuses an id outside the
viewer's scope."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.test import Client

from tandem.core.access import scoped
from tandem.core.pickers import SearchPickField
from tandem.crm.models import Contact
from tandem.crm.selectors import contact_pick_label

pytestmark = pytest.mark.django_db
OPTION = re.compile(
    r'<input type="(radio|checkbox)" name="contact" value="(\d+)"( checked)?> ([^<]*)'
)


def _options(client: Client, **params: object) -> list[tuple[int, bool, str]]:
    query = {"field": "contact", "multiple": "0", **params}
    response = client.get("/crm/contacts/pick/", query)
    assert response.status_code == 200
    return [
        (int(pk), bool(checked), label)
        for _kind, pk, checked, label in OPTION.findall(response.content.decode())
    ]


def test_suggestions_are_the_visible_contacts_matching_every_word_by_name(world):  # type: ignore[no-untyped-def]
    rep = Client()
    rep.force_login(world.user("sales_rep", "north"))
    mine = world.contacts[("sales_rep", "north")]
    found = _options(rep, contact__search="North customer")
    assert found == [
        (mine.pk, False, f"north sales_rep customer · north sales_rep account · {mine.email}")
    ]
    assert _options(rep, contact__search="south") == []  # the south contacts exist, unseen
    head = Client()
    head.force_login(world.user("head"))
    assert len(_options(head, contact__search="customer")) == 4
    assert len(_options(head, contact__search="south customer")) == 2


def test_a_chosen_contact_comes_back_ticked_and_an_unseen_one_is_dropped(world):  # type: ignore[no-untyped-def]
    rep = Client()
    rep.force_login(world.user("sales_rep", "north"))
    mine = world.contacts[("sales_rep", "north")]
    theirs = world.contacts[("sales_rep", "south")]
    assert _options(rep, contact=str(mine.pk), contact__search="")[0][:2] == (mine.pk, True)
    assert _options(rep, contact=str(theirs.pk), contact__search="") == []


def test_a_bad_field_name_is_refused(world):  # type: ignore[no-untyped-def]
    rep = Client()
    rep.force_login(world.user("sales_rep", "north"))
    assert rep.get("/crm/contacts/pick/", {"field": '"><script>'}).status_code == 400
    assert Client().get("/crm/contacts/pick/", {"field": "contact"}).status_code == 302


class _PickForm(forms.Form):
    contact = SearchPickField(search_url="/crm/contacts/pick/", label_of=contact_pick_label)
    many = SearchPickField(
        search_url="/crm/contacts/pick/", multiple=True, required=False, max_choices=2
    )


def test_the_form_refuses_an_id_outside_the_viewers_scope(world):  # type: ignore[no-untyped-def]
    rep = world.user("sales_rep", "north")
    mine = world.contacts[("sales_rep", "north")]
    theirs = world.contacts[("sales_rep", "south")]

    def form(data: dict[str, object]) -> _PickForm:
        f = _PickForm(data)
        f.fields["contact"].queryset = scoped(rep, Contact)  # type: ignore[attr-defined]
        f.fields["many"].queryset = scoped(rep, Contact)  # type: ignore[attr-defined]
        return f

    good = form({"contact": str(mine.pk)})
    assert good.is_valid(), good.errors
    assert good.cleaned_data == {"contact": mine.pk, "many": []}
    outside = form({"contact": str(theirs.pk)})
    assert not outside.is_valid()
    assert outside.errors["contact"] == ["Choose from the suggestions: search by name."]
    assert not form({"contact": "1 OR 1=1"}).is_valid()
    assert not form({"contact": ""}).is_valid()
    several = form({"contact": str(mine.pk), "many": [str(mine.pk), str(theirs.pk)]})
    assert not several.is_valid()
    assert "many" in several.errors
    # shown again, the chosen contact is a ticked box with its name, and no id is typed
    html = str(form({"contact": str(mine.pk)})["contact"])
    assert f'value="{mine.pk}" checked> north sales_rep customer' in html
    assert 'type="search"' in html
    assert 'name="contact__search"' in html
    assert Contact.objects.filter(pk=theirs.pk).exists()
