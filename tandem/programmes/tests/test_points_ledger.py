"""The points ledger: any sequence of earnings, redemptions, expiries and reversals keeps the
balance equal to the sum of the entries, never negative, and the caps per period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm import services as crm
from tandem.programmes import loyalty
from tandem.programmes.models import EntryKind, Membership, PointsEntry, Redemption

from .conftest import Loyalty

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

operation = st.one_of(
    st.tuples(st.just("purchase"), st.integers(min_value=1, max_value=900)),
    st.tuples(st.just("training"), st.integers(min_value=0, max_value=0)),
    st.tuples(st.just("redeem"), st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("reject"), st.integers(min_value=0, max_value=10)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("refund"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("expire"), st.integers(min_value=0, max_value=0)),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=400)),
)


def _check(membership: Membership, programme: Loyalty) -> None:
    membership.refresh_from_db()
    entries = list(PointsEntry.objects.filter(membership=membership).order_by("id"))
    assert membership.balance == sum(e.points for e in entries)
    running = 0
    for entry in entries:
        running += entry.points
        assert entry.balance_after == running
        assert entry.balance_after >= 0
    # the training rule's cap: at most 100 points per calendar month, net of reversals
    by_id = {entry.pk: entry for entry in entries}
    per_month: dict[tuple[int, int], int] = {}
    for entry in entries:
        earning = by_id[entry.reverses_id] if entry.reverses_id else entry
        if earning.kind == EntryKind.EARN and earning.rule_id == programme.training.pk:
            key = (earning.occurred_at.year, earning.occurred_at.month)
            per_month[key] = per_month.get(key, 0) + entry.points
    assert all(total <= 100 for total in per_month.values())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=20))
def test_any_sequence_of_operations_keeps_the_ledger_balanced_and_never_negative(
    programme: Loyalty, operations: list[tuple[str, int]]
) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Farm", industry="agriculture")
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="DE"
    )
    at = START
    for serial, (name, value) in enumerate(operations):
        if name == "purchase":
            loyalty.points_earn(
                actor=system,
                membership_id=membership.pk,
                source="purchase",
                source_key=f"deal_line:{serial}",
                amount=Decimal(value),
                at=at,
            )
        elif name == "training":
            loyalty.points_earn(
                actor=system,
                membership_id=membership.pk,
                source="training",
                source_key=f"certificate:{serial}",
                at=at,
            )
        elif name == "redeem":
            membership.refresh_from_db()
            if membership.balance >= 20 * value:
                loyalty.redemption_request(
                    actor=system,
                    membership_id=membership.pk,
                    reward_id=programme.mug.pk,
                    quantity=value,
                    at=at,
                )
            else:
                with pytest.raises(InvalidInput) as refused:
                    loyalty.redemption_request(
                        actor=system,
                        membership_id=membership.pk,
                        reward_id=programme.mug.pk,
                        quantity=value,
                        at=at,
                    )
                assert refused.value.code == "insufficient_points"
        elif name == "reject":
            pending = Redemption.objects.filter(membership=membership, status="requested")
            if pending.exists():
                loyalty.redemption_reject(
                    actor=system, redemption_id=pending[value % pending.count()].pk, reason="no"
                )
        elif name in ("reverse", "refund"):
            earned = PointsEntry.objects.filter(
                membership=membership, kind=EntryKind.EARN, reversals__isnull=True
            ).order_by("id")
            if earned.exists():
                entry = earned[value % earned.count()]
                if name == "refund" and entry.source_key.startswith("deal_line:"):
                    loyalty.purchase_refund(
                        actor=system, deal_line_id=int(entry.source_key.split(":")[1])
                    )
                else:
                    loyalty.points_reverse(actor=system, entry_id=entry.pk, at=at)
        elif name == "expire":
            loyalty.points_expire(actor=system, membership_id=membership.pk, at=at)
        else:
            at += dt.timedelta(days=value)
        _check(membership, programme)


def test_an_earning_counts_once_per_source(programme: Loyalty) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Farm")
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="DE"
    )
    for _ in range(3):
        loyalty.points_earn(
            actor=system,
            membership_id=membership.pk,
            source="purchase",
            source_key="deal_line:7",
            amount=Decimal("250.90"),
        )
    membership.refresh_from_db()
    assert membership.balance == 250
    assert PointsEntry.objects.filter(membership=membership).count() == 1


def test_points_expire_first_in_first_out_after_their_validity(programme: Loyalty) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Farm")
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="DE"
    )
    for key, day in (("a", START), ("b", START + dt.timedelta(days=400))):
        loyalty.points_earn(
            actor=system,
            membership_id=membership.pk,
            source="purchase",
            source_key=key,
            amount=Decimal(100),
            at=day,
        )
    loyalty.redemption_request(
        actor=system,
        membership_id=membership.pk,
        reward_id=programme.mug.pk,
        quantity=2,
        at=START + dt.timedelta(days=401),
    )
    # two years after the first earning: its 100 points less the 40 redeemed expire
    entry = loyalty.points_expire(
        actor=system, membership_id=membership.pk, at=START + dt.timedelta(days=731)
    )
    assert entry is not None
    assert entry.points == -60
    membership.refresh_from_db()
    assert membership.balance == 100
    assert (
        loyalty.points_expire(
            actor=system, membership_id=membership.pk, at=START + dt.timedelta(days=732)
        )
        is None
    )


def test_a_tier_is_reached_at_its_threshold_and_expires(programme: Loyalty) -> None:
    system = Actor.system()
    account = crm.account_create(actor=system, name="Farm")
    membership = loyalty.member_enrol(
        actor=system, programme=programme.programme, account=account, country="DE"
    )
    loyalty.points_earn(
        actor=system,
        membership_id=membership.pk,
        source="purchase",
        source_key="x",
        amount=Decimal(600),
        at=START,
    )
    membership.refresh_from_db()
    assert loyalty.tier_of(membership, START.date()) == programme.silver
    assert loyalty.tier_of(membership, dt.date(2027, 1, 5)) is None
    total = PointsEntry.objects.filter(membership=membership).aggregate(n=Sum("points"))["n"]
    assert total == 600


def test_a_referral_earns_once_and_only_for_the_member_who_referred(programme: Loyalty) -> None:
    system = Actor.system()
    loyalty.earning_rule_create(
        actor=system, programme=programme.programme, source="referral", points=300
    )
    members = [
        loyalty.member_enrol(
            actor=system,
            programme=programme.programme,
            account=crm.account_create(actor=system, name=f"Farm {i}"),
            country="DE",
        )
        for i in range(2)
    ]
    newcomer = crm.account_create(actor=system, name="New farm")
    entry = loyalty.referral_record(actor=system, membership_id=members[0].pk, referred=newcomer)
    assert entry is not None
    assert entry.points == 300
    again = loyalty.referral_record(actor=system, membership_id=members[0].pk, referred=newcomer)
    assert again == entry
    with pytest.raises(InvalidInput, match="Another member referred this account"):
        loyalty.referral_record(actor=system, membership_id=members[1].pk, referred=newcomer)
