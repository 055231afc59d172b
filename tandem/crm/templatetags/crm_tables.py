"""Filters the contact and account list rows need (`crm/_contact_rows.html`,
`crm/_account_rows.html`): the rows are named tuples of columns (`selectors.CONTACT_ROW`,
`selectors.ACCOUNT_ROW`), not model objects, so the names a model would give are worked out
here from those columns."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.core.templatetags.tandem import person_name
from tandem.crm.models import contact_label

register = template.Library()


@register.filter
def contact_name(row: Any) -> str:
    """A contact row's name, as `str(contact)` says it."""
    return contact_label(row.first_name, row.last_name, row.email, row.id)


@register.filter
def owner_name(row: Any) -> str:
    """The name of a row's owner (`owner__` columns); "" for no owner."""
    return person_name(row.owner__first_name, row.owner__last_name, row.owner__username)
