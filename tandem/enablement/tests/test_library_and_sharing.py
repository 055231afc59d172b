"""The collateral library: assets with versions and expiry, search in both languages, sharing
with a buyer through a tracked link, and the buyer's views as touchpoints for rep and asset."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.enablement import services
from tandem.enablement.models import Asset, ShareView, ShareViewPage

pytestmark = pytest.mark.django_db


def test_a_new_asset_has_version_one_and_the_next_version_is_two(
    world: World, asset: Asset
) -> None:
    version = services.version_add(
        actor=Actor(user=world.user("marketer")),
        asset=asset,
        url="https://files.example.com/dairy-v2.pdf",
        pages=4,
        note="new prices",
    )
    assert list(asset.versions.values_list("number", flat=True)) == [2, 1]
    assert version.number == 2
    assert services.current_version(asset) == version
    assert AuditEntry.objects.filter(model="enablement.AssetVersion").count() == 2


def test_search_finds_other_forms_of_words_in_english_and_russian(
    world: World, asset: Asset
) -> None:
    marketer = Actor(user=world.user("marketer"))
    ru = services.asset_create(
        actor=marketer,
        title="Кейс молочной фермы",
        kind="case_study",
        language="ru",
        key="dairy-ru",
        url="https://files.example.com/dairy-ru.pdf",
        description="Как кооператив снизил затраты на корма",
    )
    rep = world.user("sales_rep")
    assert list(services.library(rep, q="dairies")) == [asset]
    assert list(services.library(rep, q="молочные фермы")) == [ru]
    assert list(services.library(rep, q="кормов")) == [ru]
    assert list(services.library(rep, q="feed cost")) == [asset]
    assert list(services.library(rep, q="tractor")) == []


def test_filters_keep_assets_for_every_industry(world: World, asset: Asset) -> None:
    general = services.asset_create(
        actor=Actor(user=world.user("marketer")),
        title="Company deck",
        kind="deck",
        language="en",
        url="https://files.example.com/deck.pdf",
    )
    rep = world.user("sales_rep")
    assert set(services.library(rep, industry="agriculture")) == {asset, general}
    assert set(services.library(rep, industry="medical")) == {general}


def test_an_expired_price_list_cannot_be_shared(world: World) -> None:
    prices = services.asset_create(
        actor=Actor(user=world.user("marketer")),
        title="Price list 2025",
        kind="price_list",
        language="en",
        url="https://files.example.com/prices.pdf",
        expires_on=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2),
    )
    rep = world.user("sales_rep")
    with pytest.raises(InvalidInput) as caught:
        services.share_create(
            actor=Actor(user=rep), asset=prices, contact=world.contacts[("sales_rep", "north")]
        )
    assert caught.value.code == "expired"
    assert not Touchpoint.objects.filter(kind="collateral_shared").exists()


def test_a_rep_cannot_share_with_a_contact_they_cannot_see(world: World, asset: Asset) -> None:
    with pytest.raises(InvalidInput):
        services.share_create(
            actor=Actor(user=world.user("sales_rep", "north")),
            asset=asset,
            contact=world.contacts[("sales_rep", "south")],
        )


def test_a_buyer_view_is_a_touchpoint_credited_to_the_rep_and_the_asset(
    world: World, asset: Asset
) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    share = services.share_create(actor=Actor(user=rep), asset=asset, contact=contact)
    shared = Touchpoint.objects.get(kind="collateral_shared")
    assert (shared.actor, shared.contact, shared.content) == (rep, contact, asset.key)
    assert "/enablement/s/" in services.share_url(share)

    view = services.view_open(
        token=share.token, ip="10.0.0.1", user_agent="Mozilla/5.0 (X11)", meta={}
    )
    assert view is not None
    touch = Touchpoint.objects.get(kind="collateral_viewed")
    assert (touch.actor, touch.contact, touch.content, touch.department) == (
        rep,
        contact,
        asset.key,
        "sales",
    )
    assert touch.properties["view"] == view.pk

    assert services.view_ping(visit=view.visit, page=1, seconds=12)
    assert services.view_ping(visit=view.visit, page=1, seconds=500)  # capped at 60
    assert services.view_ping(visit=view.visit, page=2, seconds=5)
    assert not services.view_ping(visit=view.visit, page=9, seconds=5)  # the version has 3
    assert not services.view_ping(visit="forged", page=1, seconds=5)
    pages = dict(ShareViewPage.objects.filter(view=view).values_list("page", "seconds"))
    assert pages == {1: 72, 2: 5}
    assert ShareView.objects.get(pk=view.pk).seconds == 77


def test_an_unknown_token_opens_nothing(world: World) -> None:
    assert services.view_open(token="nope", ip="10.0.0.1", user_agent="x", meta={}) is None
    assert not Touchpoint.objects.filter(kind="collateral_viewed").exists()


def test_a_share_shows_the_version_current_when_it_was_made(world: World, asset: Asset) -> None:
    rep = Actor(user=world.user("sales_rep"))
    share = services.share_create(
        actor=rep, asset=asset, contact=world.contacts[("sales_rep", "north")]
    )
    services.version_add(
        actor=Actor(user=world.user("marketer")),
        asset=asset,
        url="https://files.example.com/v2.pdf",
    )
    share.refresh_from_db()
    assert share.version.number == 1


def test_pings_beyond_the_limit_of_a_minute_are_not_counted(world: World, asset: Asset) -> None:
    share = services.share_create(
        actor=Actor(user=world.user("sales_rep")),
        asset=asset,
        contact=world.contacts[("sales_rep", "north")],
    )
    view = services.view_open(token=share.token, ip="10.0.0.2", user_agent="Mozilla/5.0", meta={})
    assert view is not None
    counted = [
        services.view_ping(visit=view.visit, page=1, seconds=1)
        for _ in range(services.PINGS_PER_MINUTE + 5)
    ]
    assert counted.count(True) == services.PINGS_PER_MINUTE
    assert ShareView.objects.get(pk=view.pk).seconds == services.PINGS_PER_MINUTE
