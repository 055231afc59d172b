"""Who may see and edit channel rules and their reclassification runs (registered with
`tandem.core.access`); fails closed.

The channel rules decide every report's channels and departments, so they are an organisation
setting: whoever may manage settings (head, admin, superuser) may edit them, see their runs and
cancel or restart a reclassification; everyone else gets nothing (the page answers 403).
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register
from tandem.core.models import User
from tandem.tracking.models import ChannelRuleSet, ReclassifyRun


def may_edit_channel_rules(user: object) -> bool:
    return isinstance(user, User) and can(user, "manage_settings")


def rules_rule(user: User, action: Action) -> Q | _Everything:
    if action == "delete":
        return NONE
    return ALL if may_edit_channel_rules(user) else NONE


def register_scopes() -> None:
    register(ChannelRuleSet, rules_rule)
    register(ReclassifyRun, rules_rule)
