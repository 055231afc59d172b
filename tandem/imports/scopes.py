"""Who sees which import jobs (registered with `tandem.core.access`); fails closed.

- head and admin: every job;
- marketer: the jobs they started;
- everyone else (sales and field reps): none — an import page is a 404 for them.
"""

from __future__ import annotations

from django.db.models import Q

from tandem.core.access import ALL, NONE, Action, _Everything, register
from tandem.core.models import Role, User
from tandem.imports.models import ImportJob, ImportRow


def job_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if user.role == Role.MARKETER:
        return Q(created_by_id=user.pk)
    return NONE


def row_rule(user: User, action: Action) -> Q | _Everything:
    if user.sees_everything:
        return ALL
    if user.role == Role.MARKETER:
        return Q(job__created_by_id=user.pk)
    return NONE


def register_scopes() -> None:
    register(ImportJob, job_rule)
    register(ImportRow, row_rule)
