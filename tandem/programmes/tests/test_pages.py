"""The programmes pages: each answers its user, forms show errors (never a 500), capabilities
hold (compliance is the head's), and records follow the visibility of their account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import AuditEntry
from tandem.programmes import loyalty, trials
from tandem.programmes.models import FieldTrial, Membership, Redemption, TransferOfValue

from .conftest import Loyalty

pytestmark = pytest.mark.django_db


def test_every_page_answers_the_head_in_english_and_russian(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    head = world.user("head")
    account = world.accounts[("field_rep", "north")]
    membership = loyalty.member_enrol(
        actor=Actor.system(), programme=programme.programme, account=account, country="DE"
    )
    trial = trials.trial_create(
        actor=Actor.system(), account=account, product=programme.product, crop="wheat", season=2026
    )
    client.force_login(head)
    pages = [
        "/programmes/",
        "/programmes/trainings/",
        "/programmes/trials/",
        f"/programmes/trials/{trial.pk}/",
        "/programmes/loyalty/",
        f"/programmes/loyalty/{programme.programme.pk}/",
        f"/programmes/loyalty/members/{membership.pk}/",
        "/programmes/compliance/",
    ]
    for language in ("en", "ru"):
        client.cookies["django_language"] = language
        for page in pages:
            response = client.get(page, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, page
    export = client.get(f"/programmes/trials/products/{programme.product.pk}/results.csv")
    assert export.status_code == 200
    assert b"difference t/ha" in export.content


def test_compliance_is_the_heads_and_a_marketer_cannot_open_it(world, client: Client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(world.user("marketer"))
    assert client.get("/programmes/compliance/").status_code == 403
    assert client.get("/programmes/compliance/efpia.csv").status_code == 403
    assert client.get("/programmes/").status_code == 200


def test_a_rep_sees_only_the_trials_of_accounts_they_see(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    south = world.accounts[("field_rep", "south")]
    trial = trials.trial_create(
        actor=Actor.system(), account=south, product=programme.product, crop="maize", season=2026
    )
    client.force_login(world.user("field_rep", "north"))
    assert client.get(f"/programmes/trials/{trial.pk}/").status_code == 404
    client.force_login(world.user("field_rep", "south"))
    assert client.get(f"/programmes/trials/{trial.pk}/").status_code == 200


def test_a_rep_files_a_trial_with_a_bad_plot_and_sees_the_error(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    rep = world.user("field_rep")
    account = world.accounts[("field_rep", "north")]
    client.force_login(rep)
    response = client.post(
        "/programmes/trials/new/",
        {"account": account.pk, "product": programme.product.pk, "crop": "wheat", "season": 2026},
    )
    assert response.status_code == 302
    trial = FieldTrial.objects.get(account=account)
    bad = client.post(
        f"/programmes/trials/{trial.pk}/plots/",
        {
            "arm": "product",
            "area_ha": "1",
            "sown_on": "2026-05-01",
            "harvested_on": "2026-04-01",
            "yield_t": "3",
        },
    )
    assert bad.status_code == 400
    assert "Harvest comes after sowing." in bad.content.decode()


def test_a_rep_asks_for_a_trip_and_the_head_approves_it_on_the_pages(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    account = world.accounts[("field_rep", "north")]
    person = world.contacts[("field_rep", "north")]
    system = Actor.system()
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="IT"
    )
    loyalty.points_earn(
        actor=system,
        membership_id=membership.pk,
        source="purchase",
        source_key="deal_line:1",
        amount=Decimal(400),
    )
    client.force_login(world.user("field_rep"))
    asked = client.post(
        f"/programmes/loyalty/members/{membership.pk}/redeem/",
        {"reward": programme.trip.pk, "quantity": 1, "travellers": str(person.pk)},
    )
    assert asked.status_code == 302
    redemption = Redemption.objects.get(membership=membership)
    assert (
        client.post(f"/programmes/loyalty/redemptions/{redemption.pk}/approve/").status_code == 403
    )
    client.force_login(world.user("head"))
    client.post(f"/programmes/loyalty/redemptions/{redemption.pk}/approve/")
    redemption.refresh_from_db()
    assert redemption.status == "approved"
    membership = Membership.objects.get(pk=membership.pk)
    assert membership.balance == 100
    assert not TransferOfValue.objects.exists()  # not a medical account
    assert AuditEntry.objects.filter(model="programmes.Redemption", action="update").exists()


def test_a_blocked_transfer_on_the_compliance_page_names_the_rule(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    account = world.accounts[("sales_rep", "north")]
    client.force_login(world.user("head"))
    response = client.post(
        "/programmes/compliance/",
        {
            "form": "transfer",
            "transfer-account": account.pk,
            "transfer-country": "RU",
            "transfer-nature": "leisure_travel",
            "transfer-value": "900",
            "transfer-currency": "RUB",
            "transfer-occurred_on": dt.date(2026, 5, 1).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "323-FZ" in response.content.decode()


def test_the_cockpit_shows_the_programmes_card_to_the_head(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(world.user("head"))
    page = client.get("/insights/")
    assert page.status_code == 200
    assert 'id="programmes-summary"' in page.content.decode()
