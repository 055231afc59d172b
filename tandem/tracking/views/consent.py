"""A contact's consent: the ledger rows (newest first, with what was agreed, where it came from
and the evidence: time, IP, browser) and the current state per purpose (the subscriptions).

Read-only (the ledger only grows through `consent.consent_record`). Whoever may see the contact
may see its consent, the same scope as the record page that links here; a contact outside the
caller's scope is answered like a missing one (404).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tandem.core.access import get_scoped, request_user
from tandem.crm.models import Contact
from tandem.tracking import selectors


@login_required
@require_GET
def contact_consent(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_scoped(request_user(request), Contact, pk)
    return render(
        request,
        "tracking/contact_consent.html",
        {"contact": contact, "history": selectors.consent_history(contact.pk)},
    )
