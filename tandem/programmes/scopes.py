"""Who sees which programme records (registered with `tandem.core.access`).

- records bound to a customer account (trials, memberships, attendances, transfers of value,
  redemptions, points entries) follow the account: whoever sees the account sees them, and
  whoever may change it may change them;
- the catalogue of programmes (curricula, sessions, loyalty programmes, rules, tiers, rewards,
  compliance rules) is read by everyone holding `view_programmes`; changes go through services
  whose pages and endpoints ask the capabilities.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, can, register, scoped
from tandem.core.models import User
from tandem.crm.models import Account
from tandem.programmes.models import (
    Attendance,
    ComplianceRule,
    Curriculum,
    EarningRule,
    FieldTrial,
    LoyaltyProgramme,
    Membership,
    PointsEntry,
    Redemption,
    Reward,
    Tier,
    TrainingSession,
    TransferOfValue,
    TrialPlot,
)


def _by_account(path: str):  # type: ignore[no-untyped-def]
    def rule(user: User, action: Action) -> Q | _Everything:
        if not can(user, "view_programmes"):
            return NONE
        accounts = scoped(user, Account, "change" if action != "view" else "view")
        if can(user, "see_every_customer") and action == "view":
            return ALL
        return Q(**{f"{path}__in": accounts.values("pk")})

    return rule


def _catalogue(user: User, action: Action) -> Q | _Everything:
    return ALL if can(user, "view_programmes") and action == "view" else NONE


ACCOUNT_BOUND: dict[type[models.Model], str] = {
    FieldTrial: "account",
    TrialPlot: "trial__account",
    Membership: "account",
    PointsEntry: "membership__account",
    Redemption: "membership__account",
    Attendance: "account",
    TransferOfValue: "account",
}
CATALOGUE = [
    Curriculum,
    TrainingSession,
    LoyaltyProgramme,
    EarningRule,
    Tier,
    Reward,
    ComplianceRule,
]


def register_scopes() -> None:
    for model, path in ACCOUNT_BOUND.items():
        register(model, _by_account(path))
    for catalogue_model in CATALOGUE:
        register(catalogue_model, _catalogue)
