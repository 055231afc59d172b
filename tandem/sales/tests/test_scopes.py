"""Who sees and changes which deals: reps their team's and shared ones, marketers read only."""

from __future__ import annotations

import pytest

from tandem.core.access import scoped
from tandem.core.audit import Actor
from tandem.sales import services
from tandem.sales.models import Deal, Pipeline, Quote


@pytest.fixture
def deals(world, sales):  # type: ignore[no-untyped-def]
    out = {}
    for side in ("north", "south"):
        rep = world.user("sales_rep", side)
        out[side] = services.deal_create(
            actor=Actor(user=rep), name=f"{side} deal", owner_id=rep.pk, amount="10"
        )
    return out


def _names(user, action="view"):  # type: ignore[no-untyped-def]
    return sorted(scoped(user, Deal, action).values_list("name", flat=True))


def test_rep_sees_and_changes_own_team_only(world, deals):
    assert _names(world.user("sales_rep", "north")) == ["north deal"]
    assert _names(world.user("sales_rep", "north"), "change") == ["north deal"]
    assert _names(world.user("sales_rep", "north"), "delete") == []
    # the head of north sits in the north sales team, but sees everything by role
    assert _names(world.user("head", "south")) == ["north deal", "south deal"]
    assert _names(world.user("admin", "north"), "delete") == ["north deal", "south deal"]
    # field reps of another team see neither
    assert _names(world.user("field_rep", "north")) == []


def test_marketer_views_all_changes_none(world, deals):
    marketer = world.user("marketer", "south")
    assert _names(marketer) == ["north deal", "south deal"]
    assert _names(marketer, "change") == []
    assert scoped(marketer, Quote, "change").count() == 0


def test_sharing_gives_a_rep_one_deal(world, deals):
    south = world.user("sales_rep", "south")
    services.deal_share(actor=Actor.system(), deal=deals["north"], user_id=south.pk)
    assert _names(south) == ["north deal", "south deal"]


def test_inactive_user_sees_nothing_and_settings_are_read_only(world, deals):
    rep = world.user("sales_rep", "north")
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert _names(rep) == []
    marketer = world.user("marketer", "north")
    assert scoped(marketer, Pipeline).count() == 1
    assert scoped(marketer, Pipeline, "change").count() == 0
    assert scoped(world.user("admin"), Pipeline, "change").count() == 1
