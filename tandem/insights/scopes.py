"""Who sees and changes goals (registered with `tandem.core.access`).

Goals are shared: every active staff member sees every goal (each role's home page shows them);
only those holding the `manage_goals` capability change them.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register
from tandem.core.models import User
from tandem.insights.models import Goal


def goal_rule(user: User, action: Action) -> Q | _Everything:
    if action == "view":
        return ALL
    return ALL if can(user, "manage_goals") else NONE


def register_scopes() -> None:
    register(Goal, goal_rule)
