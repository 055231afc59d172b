"""Checks every marketing form and service applies to what people type or post.

Invariants:
- a reference to another record (`owner_id`, `campaign_id`) is a whole number in the database's
  id range that names a record the acting user may see (`scoped`, "view"); the system actor
  (no user) sees everything. Anything else is an `InvalidInput` on that field — never a
  ValueError/OverflowError from the database (a 500);
- text is a string without NUL characters (PostgreSQL refuses them) and without U+FFFD (what a
  request body in a wrong encoding decodes to), within the field's limit: oversize text is an
  error, not silently cut.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.db import models
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput

M = TypeVar("M", bound=models.Model)
MAX_ID = 2**63 - 1  # BigAutoField, and SQLite's INTEGER


def record_id(value: Any, *, field: str) -> int:
    """A positive whole number that fits an id column, else InvalidInput on `field`."""
    if isinstance(value, bool):
        raise InvalidInput({field: [_("Choose a record from the list.")]})
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise InvalidInput({field: [_("Choose a record from the list.")]})
    if not 1 <= number <= MAX_ID:
        raise InvalidInput({field: [_("Choose a record from the list.")]})
    return number


def visible_ref(
    actor: Actor,
    model: type[M],
    value: Any,
    *,
    field: str,
    missing: str,
    queryset: models.QuerySet[M] | None = None,
    scope: bool = True,
) -> int | None:
    """The id of a record the actor may see (None for an empty value), else InvalidInput.

    `missing` is the message for an id that does not exist or is not visible (the same message
    for both: no probing of what exists); `queryset` narrows the candidates further; `scope=False`
    for models without a scope rule (users: the candidates are then `queryset`).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    pk = record_id(value, field=field)
    qs = queryset if queryset is not None else model._default_manager.all()
    if scope and actor.user is not None:
        qs = scoped(actor.user, qs)
    if not qs.filter(pk=pk).exists():
        raise InvalidInput({field: [missing]})
    return pk


def clean_text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    """Stripped text within `limit` characters; `required` is the message when it is empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput({field: [_("Enter text.")]})
    text = value.strip()
    if "\x00" in text or "\ufffd" in text:
        raise InvalidInput(
            {field: [_("The text has characters that could not be read (check the encoding).")]}
        )
    if len(text) > limit:
        raise InvalidInput({field: [_("At most %(n)s characters.") % {"n": limit}]})
    if required and not text:
        raise InvalidInput({field: [required]})
    return text


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """A Django form's errors as the marketing pages list them (field -> messages)."""
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}
