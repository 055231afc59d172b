"""The campaigns a person owns, as a kind of owned records (`core.owned_records`): counted on
the people pages and handed to a successor, audited, when the person is deactivated.

Invariant: campaigns go only to someone who may own one (`campaign_owners`: marketing), else the
whole deactivation is refused."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.owned_records import OwnedKind, owned_kind_register, owner_reassign
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.campaigns.services import campaign_owners


def campaigns_reassign(*, actor: Actor, source: User, target: User) -> int:
    held = Campaign.objects.filter(owner=source).exists()
    if held and not campaign_owners().filter(pk=target.pk).exists():
        message = _("%(name)s owns campaigns: choose someone in marketing to take them over")
        raise InvalidInput(
            {"successor": [message % {"name": source.get_full_name() or source.username}]}
        )
    return owner_reassign(
        actor=actor,
        records=Campaign.objects.all(),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("name",),
    )


def register_owned_kinds() -> None:
    owned_kind_register(
        OwnedKind(
            key="marketing.campaign",
            label=gettext_lazy("Campaigns"),
            count=lambda user: Campaign.objects.filter(owner=user).count(),
            reassign=campaigns_reassign,
        )
    )
