"""The head's Field card on the cockpit: its numbers against the visits, key-account plans and
trials behind them; a rep does not see it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.field import services as field_services
from tandem.field.tests.conftest import Field, field  # noqa: F401  (the fixture)
from tandem.programmes import trials
from tandem.programmes.models import PlotArm
from tandem.sales import services as sales


def test_the_field_card_counts_visits_coverage_and_trials_for_the_head(
    client: Client,
    world: World,
    field: Field,  # noqa: F811
) -> None:
    rep, system = Actor(user=field.rep), Actor.system()
    # a visit done yesterday: the key account is within its 14-day interval again
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    visit, _ = field_services.visit_create(
        actor=rep,
        account=field.account,
        rep=field.rep,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=1),
    )
    field_services.visit_check_out(actor=rep, visit=visit, at=start + dt.timedelta(hours=1))
    product = sales.product_create(actor=system, sku="SEED-F", name="Seed F")
    with_result = trials.trial_create(
        actor=system, account=field.account, product=product, crop="wheat", season=2026
    )
    for arm, tonnes in ((PlotArm.PRODUCT, "9"), (PlotArm.USUAL, "8")):
        trials.plot_add(
            actor=system,
            trial=with_result,
            arm=arm,
            area_ha=Decimal("1"),
            sown_on=dt.date(2026, 4, 1),
            harvested_on=dt.date(2026, 8, 1),
            yield_t=Decimal(tonnes),
        )
    trials.trial_create(
        actor=system, account=field.account, product=product, crop="barley", season=2026
    )

    client.force_login(world.user("head"))
    today = timezone.now().date()
    period = {
        "period": "custom",
        "start": (today - dt.timedelta(days=10)).isoformat(),
        "end": (today + dt.timedelta(days=2)).isoformat(),
    }
    page = client.get("/insights/", period).content.decode()
    card = page[page.index('id="field-summary"') :]
    assert 'data-number="field_visits">1 / 1' in card  # one done by one rep (one planned)
    assert 'data-number="field_coverage">1 / 1' in card
    assert 'data-number="field_trials">1 / 2' in card
    assert "mean yield difference 1.00 t/ha" in card  # 9 t/ha against 8 t/ha

    client.force_login(field.rep)
    assert 'id="field-summary"' not in client.get("/insights/").content.decode()
