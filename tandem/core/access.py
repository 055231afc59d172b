"""One scoped query helper for every read: lists, details, counts, search and exports.

    scoped(user, Contact)            -> the contacts this user may see
    scoped(user, Contact, "change")  -> the contacts this user may change

Each app registers a rule per model (`register`); a rule maps (user, action) to a `Q` filter, or
to `ALL`. It fails closed: an anonymous or inactive user, a model with no rule, or a rule that
returns `NONE` yields an empty queryset. A record outside the scope is answered like a missing one
(404), so it never shows in counts or search either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from tandem.core.models import Role, User

Action = Literal["view", "change", "delete"]
M = TypeVar("M", bound=models.Model)


class _Everything:
    def __repr__(self) -> str:
        return "ALL"


ALL = _Everything()
NONE = Q(pk__in=[])
Rule = Callable[[User, Action], "Q | _Everything"]

_rules: dict[type[models.Model], Rule] = {}


def register(model: type[models.Model], rule: Rule) -> None:
    _rules[model] = rule


def scoped(
    user: object, model_or_qs: type[M] | QuerySet[M], action: Action = "view"
) -> QuerySet[M]:
    qs: QuerySet[M] = (
        model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    )
    if not isinstance(user, User) or not user.is_active:
        return qs.none()
    rule = _rules.get(qs.model)
    if rule is None:
        return qs.none()
    condition = rule(user, action)
    if condition is ALL:
        return qs
    assert isinstance(condition, Q)
    if condition == NONE:
        return qs.none()
    return qs.filter(condition)


def get_scoped(user: object, model: type[M], pk: object, action: Action = "view") -> M:
    """The record if the user may see (or change) it, else Http404 — the same as missing."""
    try:
        return scoped(user, model, action).get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404 from exc


def teammate_ids(user: User) -> list[int]:
    """The user and, if in a team, its members: whose records a rep sees.

    Remembered on the user object for as long as it lives (one request), keyed by its team, so
    the several scope rules a page applies cost one query between them.
    """
    if user.team_id is None:
        return [user.pk]
    cached: tuple[int, list[int]] | None = getattr(user, "_tandem_teammates", None)
    if cached is None or cached[0] != user.team_id:
        ids = list(User.objects.filter(team_id=user.team_id).values_list("pk", flat=True))
        cached = (user.team_id, ids)
        user._tandem_teammates = cached  # type: ignore[attr-defined]
    return list(cached[1])


# The one permission model: every capability that is not about one record, by role. Pages,
# navigation and the API all ask `can()`; no other module keeps a list of roles.
EVERYONE = frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER, Role.SALES_REP, Role.FIELD_REP})
CAPABILITIES: dict[str, frozenset[str]] = {
    # record tiers, which the scope rules ask: every record of every app (`User.sees_everything`),
    # every customer record, or (reps) what they or a teammate own and what is shared with them
    "see_every_record": frozenset({Role.ADMIN, Role.HEAD}),
    "see_every_customer": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    "see_team_records": frozenset({Role.SALES_REP, Role.FIELD_REP}),
    # customer records
    "view_records": EVERYONE,
    "create_records": EVERYONE,
    "merge_records": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # a person's privacy rights: the full export of their data and its erasure (crm.privacy)
    "handle_privacy_requests": frozenset({Role.ADMIN, Role.HEAD}),
    "export": EVERYONE,
    "use_api_tokens": EVERYONE,
    # marketing: segments, email, subscriptions, campaigns, events, social, imports
    "use_marketing": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # automation flows (journeys and the automated sales process): marketing and the head build
    # them, sales reps follow their contacts through them
    "view_automation": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER, Role.SALES_REP}),
    "manage_automation": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    "import_records": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # tracking set-up: sources and write keys, website forms, tracked links
    "manage_tracking": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # social network connections: credentials (stored encrypted), tests, disconnection
    "manage_social": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # the content library is read by sales too
    "read_content": EVERYONE,
    # lead hand-off, disputes and lead quality
    "use_handoffs": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER, Role.SALES_REP}),
    # hand a contact to sales by hand, from its record ("Hand off to sales")
    "hand_off_leads": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    "view_lead_quality": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # score groups, their rules, rescoring and predictive training (/leads/scoring/)
    "manage_scoring": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    "open_disputes": EVERYONE,
    # sales work: pipeline, forecast, tasks
    "use_pipeline": EVERYONE,
    "use_tasks": frozenset({Role.ADMIN, Role.HEAD, Role.SALES_REP, Role.FIELD_REP}),
    # create and work deals, quotes and sequences (marketing sees deals, does not sell)
    "sell": frozenset({Role.ADMIN, Role.HEAD, Role.SALES_REP, Role.FIELD_REP}),
    "view_attribution": EVERYONE,
    # settings and administration
    "manage_settings": frozenset({Role.ADMIN, Role.HEAD}),
    "manage_users": frozenset({Role.ADMIN}),
    "manage_attributes": frozenset({Role.ADMIN}),
    "view_audit": frozenset({Role.ADMIN, Role.HEAD}),
    # products and price lists (currency, tax, validity) that deals, quotes and self-service use
    "manage_catalogue": frozenset({Role.ADMIN, Role.HEAD}),
    # lead routing and the hand-off agreement: territories, rep capacity (round-robin pools),
    # the SLA on each side and marketing's MQL targets
    "manage_lead_routing": frozenset({Role.ADMIN, Role.HEAD}),
    # the health of background work: failed tasks, retries, workers
    "manage_background_work": frozenset({Role.ADMIN}),
    # shared goals of the revenue team (revenue, pipeline, MQLs)
    "manage_goals": frozenset({Role.ADMIN, Role.HEAD}),
    # whose home page is the cockpit (everyone else gets their role's home page)
    "cockpit_home": frozenset({Role.HEAD}),
    # the monthly board report (PDF) of the cockpit's numbers
    "board_report": frozenset({Role.ADMIN, Role.HEAD}),
    # who carries a personal revenue quota (a goal with a user)
    "carry_quota": frozenset({Role.SALES_REP, Role.FIELD_REP}),
    # enablement: add and version collateral, triage content requests, keep voice-of-customer
    # themes (everyone reads the library, shares, rates, asks for content and confirms tags)
    "manage_collateral": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    "share_collateral": EVERYONE,
    # a marketer asks to join a rep's call, meeting or visit
    "join_sales_meetings": frozenset({Role.ADMIN, Role.HEAD, Role.MARKETER}),
    # the health of the marketing-sales loop (the head's page)
    "view_loop_health": frozenset({Role.ADMIN, Role.HEAD}),
    # field work: visiting accounts (calendar, check-in/out, reports, routes, the offline app),
    # key accounts' visit plans and tiers, and the head's field page (visits per rep, coverage)
    "visit_accounts": frozenset({Role.ADMIN, Role.HEAD, Role.FIELD_REP, Role.SALES_REP}),
    "manage_visit_plans": frozenset({Role.ADMIN, Role.HEAD}),
    "view_field_overview": frozenset({Role.ADMIN, Role.HEAD}),
    # programmes: trainings, field trials, loyalty, transfers of value. Everyone reads them;
    # reps run trainings and trials, enrol members and ask for rewards; the head sets up loyalty
    # (rules, tiers, rewards), approves rewards and keeps the compliance rules and reports
    "view_programmes": EVERYONE,
    "run_programmes": frozenset({Role.ADMIN, Role.HEAD, Role.SALES_REP, Role.FIELD_REP}),
    "manage_loyalty": frozenset({Role.ADMIN, Role.HEAD}),
    "manage_compliance": frozenset({Role.ADMIN, Role.HEAD}),
}


def roles_with(permission: str) -> frozenset[str]:
    """The roles that hold a capability, for a query over users ("the reps who may carry a
    quota"); empty for an unknown capability."""
    return CAPABILITIES.get(permission, frozenset())


def can(user: object, permission: str) -> bool:
    """Whether `user` holds a capability that is not about one record (see CAPABILITIES).

    Fails closed: an anonymous or inactive user, or an unknown capability, gets False.
    """
    if not isinstance(user, User) or not user.is_active:
        return False
    roles = CAPABILITIES.get(permission)
    if roles is None:
        return False
    return user.is_superuser or user.role in roles


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a login-required view or an authenticated API
    operation handles; anything else is a programming error."""
    user = request.user
    assert isinstance(user, User), "request_user() is for views behind sign-in"
    return user
