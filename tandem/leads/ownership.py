"""The open hand-offs a rep holds and the territories a person heads or belongs to, as kinds of
owned records (`core.owned_records`): counted on the people pages and handed to a successor when
the person is deactivated.

Invariants: an open hand-off moves through `leads.services.handoff_assign` (the one home of
putting a hand-off on a rep: seats, a fresh acceptance clock, the rep's notification, audit), so
its successor must be an active sales rep; closed hand-offs keep their rep (history); a
territory the person belongs to gets the successor as a member instead, audited.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import Role, User
from tandem.core.owned_records import OwnedKind, owned_kind_register
from tandem.leads.models import OPEN_HANDOFF, Handoff, Territory
from tandem.leads.services import handoff_assign


def handoffs_reassign(*, actor: Actor, source: User, target: User) -> int:
    handoffs = list(
        Handoff.objects.filter(assigned_to=source, status__in=OPEN_HANDOFF).order_by("pk")
    )
    if handoffs and (not target.is_active or target.role != Role.SALES_REP):
        message = _("%(name)s has open hand-offs: choose an active sales rep to take them over")
        raise InvalidInput(
            {"successor": [message % {"name": source.get_full_name() or source.username}]}
        )
    for handoff in handoffs:
        handoff_assign(actor=actor, handoff=handoff, rep=target)
    return len(handoffs)


def _territories_of(user: User) -> Q:
    return Q(head=user) | Q(members=user)


def territories_reassign(*, actor: Actor, source: User, target: User) -> int:
    territories = list(Territory.objects.filter(_territories_of(source)).distinct().order_by("pk"))
    for territory in territories:
        changes: dict[str, list[object]] = {}
        if territory.head_id == source.pk:
            Territory.objects.filter(pk=territory.pk).update(head=target)
            changes["head"] = [source.pk, target.pk]
        if territory.members.filter(pk=source.pk).exists():
            territory.members.remove(source)
            territory.members.add(target)
            changes["members"] = [[source.pk], [target.pk]]
        record_change(actor=actor, action="update", instance=territory, changes=changes)
    return len(territories)


def register_owned_kinds() -> None:
    owned_kind_register(
        OwnedKind(
            key="leads.handoff",
            label=gettext_lazy("Open hand-offs"),
            count=lambda user: Handoff.objects.filter(
                assigned_to=user, status__in=OPEN_HANDOFF
            ).count(),
            reassign=handoffs_reassign,
        )
    )
    owned_kind_register(
        OwnedKind(
            key="leads.territory",
            label=gettext_lazy("Territories"),
            count=lambda user: Territory.objects.filter(_territories_of(user)).distinct().count(),
            reassign=territories_reassign,
        )
    )
