"""The open deals, open tasks and sequences a person owns, as kinds of owned records
(`core.owned_records`): counted on the people pages and handed to a successor when the person
is deactivated.

Invariants: won and lost deals and done tasks keep their owner (they are history: who sold
what); each moved record gets an audit entry in the deactivation's transaction.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tandem.automation import services as automation
from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.core.owned_records import OwnedKind, owned_kind_register, owner_reassign
from tandem.sales.models import Deal, DealStatus, SalesTask, Sequence


def deals_reassign(*, actor: Actor, source: User, target: User) -> int:
    return owner_reassign(
        actor=actor,
        records=Deal.objects.filter(status=DealStatus.OPEN),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("name",),
    )


def tasks_reassign(*, actor: Actor, source: User, target: User) -> int:
    return owner_reassign(
        actor=actor,
        records=SalesTask.objects.filter(done_at__isnull=True),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("title",),
    )


def sequences_reassign(*, actor: Actor, source: User, target: User) -> int:
    """The person's sequences, and the flows that run them (whose owner sends their emails)."""
    flow_ids = list(
        Sequence.objects.filter(owner=source, flow__isnull=False).values_list("flow_id", flat=True)
    )
    automation.flows_owner_reassign(
        actor=actor, flow_ids=[f for f in flow_ids if f is not None], source=source, target=target
    )
    return owner_reassign(
        actor=actor,
        records=Sequence.objects.all(),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("name",),
    )


def register_owned_kinds() -> None:
    owned_kind_register(
        OwnedKind(
            key="sales.deal",
            label=_("Open deals"),
            count=lambda user: Deal.objects.filter(owner=user, status=DealStatus.OPEN).count(),
            reassign=deals_reassign,
        )
    )
    owned_kind_register(
        OwnedKind(
            key="sales.task",
            label=_("Open tasks"),
            count=lambda user: SalesTask.objects.filter(owner=user, done_at__isnull=True).count(),
            reassign=tasks_reassign,
        )
    )
    owned_kind_register(
        OwnedKind(
            key="sales.sequence",
            label=_("Sequences"),
            count=lambda user: Sequence.objects.filter(owner=user).count(),
            reassign=sequences_reassign,
        )
    )
