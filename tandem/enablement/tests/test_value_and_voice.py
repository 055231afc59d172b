"""Usage and value (influenced revenue, linear credit, matched win rates with their interval),
the voice of the customer (suggestions in both languages, confirmation, ranking, rising alert,
answered themes) and joint touches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.enablement import joint, selectors, services, voc
from tandem.enablement.models import Asset, JointStatus, TagStatus, Theme, VocTag
from tandem.sales import services as sales
from tandem.sales.models import Deal

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _deal(
    pk: int, won: bool, stratum: tuple[str, int, int] = ("agriculture", 0, 1)
) -> selectors.ClosedDeal:
    return selectors.ClosedDeal(pk, pk, won, Decimal("1000"), stratum, NOW, NOW)


def test_matched_win_rate_compares_within_strata_and_gives_an_interval() -> None:
    # stratum A: used 3 (2 won), not used 4 (1 won); stratum B: used 1 (1 won), no comparison
    a, b = ("agriculture", 0, 1), ("medical", 2, 2)
    deals = [
        _deal(i, won, a) for i, won in enumerate([True, True, False, True, False, False, False])
    ]
    deals.append(_deal(99, True, b))
    used = {0: {7}, 1: {7}, 2: {7}, 99: {7}}
    win = selectors.matched_win_rates(deals, used, [7, 8])
    w = win[7]
    assert (w.used, w.used_won) == (4, 3)
    assert w.rate == pytest.approx(0.75)
    assert w.matched_rate == pytest.approx(0.25)  # only stratum A has comparison deals
    assert w.lift == pytest.approx(2 / 3 - 0.25)
    assert w.lift_low is not None
    assert w.lift_high is not None
    assert w.lift_low < w.lift < w.lift_high
    assert w.rate_low is not None
    assert w.rate_low < 0.75 < (w.rate_high or 0)
    assert win[8].rate is None
    assert win[8].lift is None


def test_wilson_interval_stays_inside_zero_and_one() -> None:
    assert selectors.wilson(0, 0) == (0.0, 0.0)
    low, high = selectors.wilson(10, 10)
    assert 0.6 < low < 1.0
    assert high == pytest.approx(1.0)


@pytest.mark.django_db
def test_influence_counts_won_deals_that_used_the_asset_and_credit_splits_linearly(
    world: World, asset: Asset, make_deal: Callable[..., Deal]
) -> None:
    marketer = Actor(user=world.user("marketer"))
    deck = services.asset_create(
        actor=marketer, title="Deck", kind="deck", language="en", url="https://e.example.com/d"
    )
    rep = Actor(user=world.user("sales_rep"))
    contact = world.contacts[("sales_rep", "north")]
    open_deal = make_deal(amount="8000")
    for item in (asset, deck):
        services.share_create(actor=rep, asset=item, contact=contact)
    sales.deal_win(actor=Actor(user=world.user("head")), deal=open_deal)
    make_deal(side="south", amount="3000", outcome="lost")
    usage = selectors.asset_usage(world.user("head"), [asset, deck])
    assert usage[asset.pk].influenced == Decimal("8000")
    assert usage[asset.pk].credit == Decimal("4000")
    assert usage[deck.pk].credit == Decimal("4000")
    assert (usage[asset.pk].shares, usage[asset.pk].win.used, usage[asset.pk].win.used_won) == (
        1,
        1,
        1,
    )


@pytest.mark.django_db
def test_suggestions_in_english_and_russian_count_only_once_confirmed(world: World) -> None:
    marketer = Actor(user=world.user("marketer"))
    price = voc.theme_save(
        actor=marketer,
        kind="objection",
        name="Too expensive",
        keywords="too expensive, дорого, цена",
    )
    rival = voc.theme_save(
        actor=marketer, kind="competitor", name="AgroRival", keywords="agrorival"
    )
    contact = world.contacts[("sales_rep", "north")]
    rep = world.user("sales_rep")
    for note in (
        "They say it is too expensive",
        "Клиент говорит: дорого, цены выше",
        "Uses AgroRival now",
    ):
        crm.touchpoint_record(
            channel="phone",
            kind="sales_call",
            department="sales",
            contact=contact,
            actor=rep,
            properties={"note": note},
        )
    assert voc.tags_suggest(since=timezone.now() - dt.timedelta(days=1)) == 3
    assert voc.tags_suggest(since=timezone.now() - dt.timedelta(days=1)) == 0  # never twice
    assert VocTag.objects.filter(theme=price).count() == 2
    ranked = selectors.themes_ranked(world.user("head"))
    assert all(r.count == 0 for r in ranked)  # suggestions do not count
    for tag in VocTag.objects.filter(theme=price):
        voc.tag_decide(actor=Actor(user=rep), tag=tag, confirm=True)
    voc.tag_decide(actor=Actor(user=rep), tag=VocTag.objects.get(theme=rival), confirm=False)
    ranked = selectors.themes_ranked(world.user("head"))
    assert [(r.theme.name, r.count) for r in ranked] == [("Too expensive", 2), ("AgroRival", 0)]
    assert not ranked[0].answered
    assert VocTag.objects.get(theme=rival).status == TagStatus.REJECTED


@pytest.mark.django_db
def test_a_theme_rises_against_its_history_and_shows_the_asset_that_answers_it(
    world: World, asset: Asset, make_deal: Callable[..., Deal]
) -> None:
    theme = Theme.objects.create(kind="pain", name="Feed costs", keywords="feed")
    account = world.accounts[("sales_rep", "north")]
    make_deal(amount="12000")  # open: at stake
    now = timezone.now()
    for i, days in enumerate([1, 2, 3, 4, 70]):
        VocTag.objects.create(
            theme=theme,
            source_kind="note",
            source_id=i + 1,
            account=account,
            excerpt="feed",
            said_at=now - dt.timedelta(days=days),
            status=TagStatus.CONFIRMED,
        )
    voc.theme_answer(actor=Actor(user=world.user("marketer")), theme=theme, asset_ids=[asset.pk])
    row = selectors.themes_ranked(world.user("head"), now=now)[0]
    assert (row.count, row.recent, row.rising) == (5, 4, True)
    assert row.at_stake == Decimal("12000")
    assert row.answered_by == [asset]
    by_revenue = selectors.themes_ranked(world.user("head"), now=now, by="revenue")
    assert by_revenue[0].theme == theme


@pytest.mark.django_db
def test_a_joint_touch_is_asked_accepted_and_lands_on_the_timeline_for_both(world: World) -> None:
    marketer, rep = world.user("marketer"), world.user("sales_rep")
    account = world.accounts[("sales_rep", "north")]
    when = timezone.now() + dt.timedelta(days=2)
    with pytest.raises(InvalidInput):
        joint.joint_request(
            actor=Actor(user=rep), account=account, rep=rep, kind="meeting", planned_at=when
        )
    with pytest.raises(InvalidInput):  # the south rep does not own the account
        joint.joint_request(
            actor=Actor(user=marketer),
            account=account,
            rep=world.user("sales_rep", "south"),
            kind="meeting",
            planned_at=when,
        )
    item = joint.joint_request(
        actor=Actor(user=marketer), account=account, rep=rep, kind="meeting", planned_at=when
    )
    assert rep.lead_notifications.filter(kind="joint_request").count() == 1
    with pytest.raises(InvalidInput):  # only the rep answers
        joint.joint_answer(actor=Actor(user=marketer), joint=item, accept=True)
    joint.joint_answer(actor=Actor(user=rep), joint=item, accept=True)
    joint.joint_done(actor=Actor(user=marketer), joint=item, note="They fear the price of feed")
    with pytest.raises(InvalidInput):  # never twice
        joint.joint_done(actor=Actor(user=marketer), joint=item)
    item.refresh_from_db()
    assert item.status == JointStatus.DONE
    touches = Touchpoint.objects.filter(properties__joint=item.pk)
    assert sorted(touches.values_list("department", flat=True)) == ["marketing", "sales"]
    assert item.insights.get().text == "They fear the price of feed"
    health = selectors.loop_health(world.user("head"))
    assert [j["n"] for j in health["joint"]] == [1]


def test_a_field_visit_report_is_read_for_the_voice_of_the_customer(world: World) -> None:
    from tandem.field import services as field
    from tandem.field.models import Visit

    marketer = Actor(user=world.user("marketer"))
    price = voc.theme_save(
        actor=marketer, kind="objection", name="Too expensive", keywords="too expensive, дорого"
    )
    rep = world.user("field_rep")
    account = world.accounts[("field_rep", "north")]
    start = timezone.now() - dt.timedelta(hours=2)
    visit, _created = field.visit_create(
        actor=Actor(user=rep),
        account=account,
        rep=rep,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=1),
    )
    field.visit_check_out(actor=Actor(user=rep), visit=visit, at=timezone.now())
    visit = Visit.objects.get(pk=visit.pk)
    field.visit_report_save(
        actor=Actor(user=rep),
        visit=visit,
        base_version=visit.version,
        notes="Агроном говорит: дорого для их площади",
    )
    assert voc.tags_suggest(since=timezone.now() - dt.timedelta(days=1)) == 1
    tag = VocTag.objects.get(theme=price)
    said = voc.source_of(tag.source_kind, tag.source_id)
    assert said is not None
    assert said.text.startswith("Агроном говорит")
    assert said.account_id == account.pk
