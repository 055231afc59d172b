"""Times of the past for rows whose service stamps "now" and takes no time: the one place where
the demo sets them, with one bulk UPDATE per table over the demo's own rows.

The services that record the demo's story take the time it happened where they can (`at=` or
`now=`: lifecycle moves, hand-offs, deals, quotes, touchpoints). Four do not, and the demo dates
their rows here right after writing them: `crm.contacts_bulk_create` and `crm.account_create`
(`created_at`: when the contact or account came to be known), `tracking.identity_link` (the
identity's `created_at`: when the visitor filled the form), and the dispute operations
(`opened_at`, `decided_at`, each message's `created_at`).

The demo sends no email: notifications of hand-offs and disputes are stored in the app, and their
emails go to a dummy backend while the demo loads (`no_email`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.db import models
from django.db.models import Case, DateTimeField, Value, When
from django.test.utils import override_settings

CHUNK = 500


def backdate(model: type[models.Model], field: str, times: Mapping[int, dt.datetime]) -> None:
    """Set `field` of the rows with these primary keys to the given times."""
    items = sorted(times.items())
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        model._default_manager.filter(pk__in=[pk for pk, _at in chunk]).update(
            **{
                field: Case(
                    *[When(pk=pk, then=Value(at)) for pk, at in chunk],
                    output_field=DateTimeField(),
                )
            }
        )


@contextmanager
def no_email() -> Iterator[None]:
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        yield
