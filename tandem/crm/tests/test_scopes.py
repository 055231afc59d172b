"""Who sees which records through `scoped`: the model-level half of the access matrix."""

from __future__ import annotations

import pytest
from django.http import Http404

from tandem.core.access import get_scoped, scoped
from tandem.crm.models import Account, Contact, Touchpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["head", "admin", "marketer"])
def test_head_admin_and_marketer_see_every_customer(world, role):
    user = world.user(role, "south")
    assert scoped(user, Contact).count() == Contact.objects.count() == 4
    assert scoped(user, Account).count() == 4
    assert scoped(user, Touchpoint).count() == 4


@pytest.mark.parametrize("role", ["sales_rep", "field_rep"])
def test_rep_sees_own_records_only(world, role):
    user = world.user(role, "north")
    assert list(scoped(user, Contact)) == [world.contacts[(role, "north")]]
    assert list(scoped(user, Account)) == [world.accounts[(role, "north")]]
    assert scoped(user, Touchpoint).count() == 1
    other = world.contacts[(role, "south")]
    with pytest.raises(Http404):
        get_scoped(user, Contact, other.pk)


def test_rep_sees_teammates_records_and_shared_ones(world, django_user_model):
    rep = world.user("sales_rep", "north")
    mate = django_user_model.objects.create_user(username="mate", role="sales_rep", team=rep.team)
    assert scoped(mate, Contact).get() == world.contacts[("sales_rep", "north")]
    shared = world.contacts[("field_rep", "south")]
    shared.shared_with.add(rep)
    assert set(scoped(rep, Contact)) == {world.contacts[("sales_rep", "north")], shared}
    assert shared.pk in set(scoped(rep, Touchpoint).values_list("contact_id", flat=True))


def test_scope_fails_closed(world, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    assert scoped(AnonymousUser(), Contact).count() == 0
    inactive = world.user("head", "north")
    inactive.is_active = False
    assert scoped(inactive, Contact).count() == 0
    stranger = django_user_model.objects.create_user(username="x", role="unknown-role")
    assert scoped(stranger, Contact).count() == 0
    assert scoped(world.user("head"), django_user_model).count() == 0  # no rule: nothing


def test_only_head_and_admin_may_delete_customers(world):
    assert scoped(world.user("marketer"), Contact, "delete").count() == 0
    assert scoped(world.user("admin"), Contact, "delete").count() == 4
    rep = world.user("sales_rep")
    assert scoped(rep, Contact, "delete").count() == 1
    assert scoped(world.user("head"), Touchpoint, "change").count() == 0
