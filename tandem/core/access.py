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
from functools import cache
from typing import Literal, TypeVar

from django.db import connection, models
from django.db.models import Q, QuerySet
from django.http import Http404

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


@cache
def _teammates_sql() -> str:
    """SELECT the ids of a team's members (parameter: the team's id); written once, as the
    queryset compiled it, since building the queryset on every request cost more than running
    it."""
    sql, _params = User.objects.filter(team_id=0).values_list("pk").query.sql_with_params()
    return sql


def teammate_ids(user: User) -> list[int]:
    """The user and, if in a team, its members: whose records a rep sees.

    Remembered on the user object for as long as it lives (one request), keyed by its team, so
    the several scope rules a page applies cost one query between them.
    """
    if user.team_id is None:
        return [user.pk]
    cached: tuple[int, list[int]] | None = getattr(user, "_tandem_teammates", None)
    if cached is None or cached[0] != user.team_id:
        with connection.cursor() as cursor:
            cursor.execute(_teammates_sql(), [user.team_id])
            ids = [row[0] for row in cursor.fetchall()]
        cached = (user.team_id, ids)
        user._tandem_teammates = cached  # type: ignore[attr-defined]
    return list(cached[1])


def can(user: User, permission: str) -> bool:
    """Capabilities that are not about one record (admin pages, settings, tokens)."""
    if not user.is_active:
        return False
    by_role: dict[str, set[str]] = {
        Role.ADMIN: {
            "manage_settings",
            "manage_users",
            "manage_attributes",
            "view_audit",
            "merge_records",
            "export",
        },
        Role.HEAD: {"view_audit", "merge_records", "export", "manage_settings"},
        Role.MARKETER: {"export", "merge_records"},
        Role.SALES_REP: {"export"},
        Role.FIELD_REP: {"export"},
    }
    return user.is_superuser or permission in by_role.get(user.role, set())
