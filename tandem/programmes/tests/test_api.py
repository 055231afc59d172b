"""The programmes API with real tokens: a trial with plots, a training to a certificate, a
refused trip naming its rule, a refund's reversal, statements, disclosure CSV and the head's
figures; read tokens and missing capabilities are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.core.tokens import token_create
from tandem.crm import services as crm
from tandem.programmes import loyalty
from tandem.programmes.models import Nature, PointsEntry

from .conftest import Loyalty

pytestmark = pytest.mark.django_db


def _auth(user: User, scope: str = "write") -> dict[str, str]:
    secret = token_create(actor=Actor(user=user), user=user, name="t", scope=scope).secret
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _post(client: Client, path: str, body: dict[str, Any], auth: dict[str, str]) -> Any:
    return client.post(f"/api/v1/programmes{path}", body, content_type="application/json", **auth)


def test_a_rep_runs_a_trial_and_a_training_through_the_api(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    rep = world.user("field_rep")
    auth = _auth(rep)
    account = world.accounts[("field_rep", "north")]
    contact = world.contacts[("field_rep", "north")]
    trial = _post(
        client,
        "/trials",
        {
            "account_id": account.pk,
            "product_id": programme.product.pk,
            "crop": "wheat",
            "season": 2026,
        },
        auth,
    )
    assert trial.status_code == 201, trial.content
    trial_id = trial.json()["id"]
    for arm, area, tonnes in (("product", "2", "13.2"), ("usual", "1", "6.0")):
        plot = _post(
            client,
            f"/trials/{trial_id}/plots",
            {
                "arm": arm,
                "area_ha": area,
                "sown_on": "2026-04-01",
                "harvested_on": "2026-08-01",
                "yield_t": tonnes,
            },
            auth,
        )
        assert plot.status_code == 201, plot.content
    got = client.get(f"/api/v1/programmes/trials/{trial_id}", **auth).json()
    assert got["difference_t_ha"] == pytest.approx(0.6)
    results = client.get("/api/v1/programmes/trial-results", **auth).json()
    assert results[0]["harvested"] == 1

    head_auth = _auth(world.user("head"))
    curriculum = _post(
        client, "/curricula", {"product_id": programme.product.pk, "name": "Basics"}, head_auth
    ).json()
    start = timezone.now() - dt.timedelta(days=1)
    session = _post(
        client,
        "/sessions",
        {
            "curriculum_id": curriculum["id"],
            "mode": "online",
            "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
        },
        auth,
    ).json()
    attendance = _post(
        client, f"/sessions/{session['id']}/attendees", {"contact_id": contact.pk}, auth
    ).json()
    _post(client, f"/attendances/{attendance['id']}/attendance", {"attended": True}, auth)
    passed = _post(client, f"/attendances/{attendance['id']}/assessment", {"score": 95}, auth)
    assert passed.status_code == 200
    assert passed.json()["certificate_url"].startswith("/programmes/certificates/")
    bad = _post(client, f"/attendances/{attendance['id']}/assessment", {"score": 101}, auth)
    assert bad.status_code == 400


def test_a_read_token_and_a_rep_without_the_capability_are_refused(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    read = _auth(world.user("head"), scope="read")
    assert _post(client, "/loyalty/programmes", {"name": "X"}, read).status_code == 403
    rep = _auth(world.user("sales_rep"))
    assert _post(client, "/loyalty/programmes", {"name": "X"}, rep).status_code == 403
    assert (
        client.get("/api/v1/programmes/compliance/reports/efpia?year=2026", **rep).status_code
        == 403
    )
    assert client.get("/api/v1/programmes/loyalty/programmes", **read).status_code == 200


def test_a_trip_for_a_russian_clinic_is_refused_and_a_refund_reverses_points(
    world, programme: Loyalty, client: Client
) -> None:  # type: ignore[no-untyped-def]
    system = Actor.system()
    head = _auth(world.user("head"))
    clinic = crm.account_create(actor=system, name="Клиника", industry="medical")
    doctor = crm.contact_create(actor=system, first_name="Анна", account_id=clinic.pk)
    enrolled = _post(
        client,
        f"/loyalty/programmes/{programme.programme.pk}/members",
        {"account_id": clinic.pk, "country": "RU"},
        head,
    )
    assert enrolled.status_code == 201
    membership_id = enrolled.json()["id"]
    loyalty.points_earn(
        actor=system,
        membership_id=membership_id,
        source="purchase",
        source_key="deal_line:42",
        amount=Decimal(700),
    )
    refused = _post(
        client,
        f"/loyalty/members/{membership_id}/redemptions",
        {"reward_id": programme.trip.pk, "traveller_ids": [doctor.pk]},
        head,
    )
    assert refused.status_code == 400
    assert "323-FZ" in refused.content.decode()
    check = _post(
        client,
        "/compliance/check",
        {"country": "RU", "nature": Nature.LEISURE_TRAVEL, "recipient_kind": "hcp"},
        head,
    ).json()
    assert check["allowed"] is False
    assert check["rule"] == "No gifts or leisure travel to healthcare workers"
    refund = _post(client, "/loyalty/refunds", {"deal_line_id": 42}, head)
    assert refund.status_code == 200
    assert [e["points"] for e in refund.json()] == [-700]
    today = timezone.localdate().isoformat()
    statement = client.get(
        f"/api/v1/programmes/loyalty/members/{membership_id}/statement?start=2020-01-01&end={today}",
        **head,
    ).json()
    assert (statement["opening"], statement["closing"]) == (0, 0)
    assert PointsEntry.objects.filter(membership_id=membership_id).count() == 2
    report = client.get("/api/v1/programmes/compliance/reports/open-payments?year=2026", **head)
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    overview = client.get("/api/v1/programmes/overview", **head).json()
    assert overview["loyalty_members"] == 1
