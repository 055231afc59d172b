"""Medical compliance: a blocked benefit is refused with its rule named, allowed ones are recorded
as transfers of value and reported (EFPIA per recipient, Open Payments categories)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact
from tandem.programmes import compliance, loyalty
from tandem.programmes.models import (
    EntryKind,
    Membership,
    PointsEntry,
    RedemptionStatus,
    TransferOfValue,
)

from .conftest import Loyalty

pytestmark = pytest.mark.django_db


def _clinic(programme: Loyalty, country: str) -> tuple[Membership, Account, Contact]:
    system = Actor.system()
    account = crm.account_create(actor=system, name=f"Clinic {country}", industry="medical")
    doctor = crm.contact_create(
        actor=system, first_name="Anna", last_name="Petrova", account_id=account.pk
    )
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country=country
    )
    loyalty.points_earn(
        actor=system,
        membership_id=membership.pk,
        source="purchase",
        source_key="deal_line:1",
        amount=Decimal(1000),
    )
    return membership, account, doctor


def test_a_trip_for_a_russian_doctor_is_refused_naming_federal_law_323_fz(
    programme: Loyalty,
) -> None:
    membership, _account, doctor = _clinic(programme, "RU")
    with pytest.raises(InvalidInput) as refused:
        loyalty.redemption_request(
            actor=Actor.system(),
            membership_id=membership.pk,
            reward_id=programme.trip.pk,
            travellers=[doctor],
        )
    assert refused.value.code == "compliance_blocked"
    assert "No gifts or leisure travel to healthcare workers" in refused.value.message
    assert "323-FZ" in refused.value.message
    membership.refresh_from_db()
    assert membership.balance == 1000
    assert not PointsEntry.objects.filter(membership=membership, kind=EntryKind.REDEEM).exists()


def test_an_approved_trip_in_germany_records_a_transfer_of_value_per_traveller(
    programme: Loyalty,
) -> None:
    membership, account, doctor = _clinic(programme, "DE")
    system = Actor.system()
    redemption = loyalty.redemption_request(
        actor=system, membership_id=membership.pk, reward_id=programme.trip.pk, travellers=[doctor]
    )
    assert redemption.points == 300
    loyalty.redemption_approve(actor=system, redemption_id=redemption.pk)
    transfer = TransferOfValue.objects.get(redemption=redemption)
    assert (transfer.contact, transfer.account, transfer.recipient_kind) == (doctor, account, "hcp")
    assert (transfer.nature, transfer.value, transfer.country) == (
        "leisure_travel",
        Decimal("1800.00"),
        "DE",
    )
    assert AuditEntry.objects.filter(model="programmes.TransferOfValue").count() == 1
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.APPROVED


def test_a_rule_added_after_the_request_stops_the_approval(programme: Loyalty) -> None:
    membership, _account, doctor = _clinic(programme, "FR")
    system = Actor.system()
    redemption = loyalty.redemption_request(
        actor=system, membership_id=membership.pk, reward_id=programme.trip.pk, travellers=[doctor]
    )
    compliance.rule_create(
        actor=system, name="Loi anti-cadeaux", country="FR", effect="block", nature="leisure_travel"
    )
    with pytest.raises(InvalidInput, match="Loi anti-cadeaux"):
        loyalty.redemption_approve(actor=system, redemption_id=redemption.pk)
    loyalty.redemption_reject(actor=system, redemption_id=redemption.pk, reason="not allowed")
    membership.refresh_from_db()
    assert membership.balance == 1000


def test_a_trip_holds_no_more_travellers_than_its_places(programme: Loyalty) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Big farm", industry="agriculture")
    people = [
        crm.contact_create(actor=system, first_name=f"P{i}", account_id=account.pk)
        for i in range(4)
    ]
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="RU"
    )
    loyalty.points_earn(
        actor=system,
        membership_id=membership.pk,
        source="purchase",
        source_key="deal_line:1",
        amount=Decimal(5000),
    )
    loyalty.redemption_request(
        actor=system,
        membership_id=membership.pk,
        reward_id=programme.trip.pk,
        travellers=people[:2],
    )
    with pytest.raises(InvalidInput) as full:
        loyalty.redemption_request(
            actor=system,
            membership_id=membership.pk,
            reward_id=programme.trip.pk,
            travellers=people[2:],
        )
    assert full.value.code == "no_places"


def test_disclosure_reports_sum_per_recipient_and_name_open_payments_categories(
    programme: Loyalty,
) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Mercy Hospital", industry="medical")
    doctor = crm.contact_create(
        actor=system, first_name="John", last_name="Doe", account_id=account.pk
    )
    day = dt.date(2026, 3, 1)
    for nature, value in (("meal", "40.00"), ("fee", "1500.00"), ("travel", "700.00")):
        compliance.transfer_record(
            actor=system,
            account=account,
            contact=doctor,
            country="US",
            nature=nature,
            value=Decimal(value),
            currency="USD",
            occurred_on=day,
        )
    compliance.transfer_record(
        actor=system,
        account=account,
        contact=None,
        country="US",
        nature="grant",
        value=Decimal("10000"),
        currency="USD",
        occurred_on=day,
    )
    efpia = compliance.efpia_rows(year=2026)
    assert len(efpia) == 3  # header, the doctor, the hospital
    doctor_row = next(row for row in efpia[1:] if row[3] == "John Doe")
    assert doctor_row[-1] == Decimal("2240.00")
    payments = compliance.open_payments_rows(year=2026)
    assert sorted(row[6] for row in payments[1:]) == [
        "Consulting Fee",
        "Food and Beverage",
        "Grant",
        "Travel and Lodging",
    ]
    assert compliance.efpia_rows(year=2025)[1:] == []


def test_a_gift_to_a_russian_doctor_is_refused_but_a_sample_is_recorded(
    programme: Loyalty,
) -> None:
    system = Actor.system()
    _membership, account, doctor = _clinic(programme, "RU")
    with pytest.raises(InvalidInput, match="323-FZ"):
        compliance.transfer_record(
            actor=system,
            account=account,
            contact=doctor,
            country="RU",
            nature="gift",
            value=Decimal("10"),
            currency="RUB",
            occurred_on=dt.date(2026, 3, 1),
        )
    sample = compliance.transfer_record(
        actor=system,
        account=account,
        contact=doctor,
        country="ru",
        nature="sample",
        value=Decimal("0"),
        currency="RUB",
        occurred_on=dt.date(2026, 3, 1),
    )
    assert sample.country == "RU"
