"""The sales panel on a contact's or an account's page (crm's record panels): the deals the
record is in and their quotes.

Invariants:
- only deals and quotes the viewer may see (`scoped`), so a rep never learns of a deal outside
  their team from a customer's page; a viewer who sees none gets no panel rows, not a count;
- a contact's deals are those whose buying group holds the contact; an account's, those of the
  account; at most `LIMIT` of each, newest first.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string

from tandem.core.access import can, request_user, scoped
from tandem.crm.models import Account, Contact
from tandem.sales.models import Deal, DealContact, Quote

LIMIT = 20


def sales_panel(request: HttpRequest, record: Model) -> str:
    """The "Deals and quotes" card: deals (stage, amount, owner, close date) and their quotes
    (number, status, total, viewed, accepted), each linked to its deal."""
    if not isinstance(record, Contact | Account):
        return ""
    user = request_user(request)
    if not user.is_authenticated or not can(user, "use_pipeline"):
        return ""
    deals = scoped(user, Deal)
    if isinstance(record, Contact):
        in_group = scoped(user, DealContact).filter(contact=record).values("deal_id")
        deals = deals.filter(pk__in=in_group)
    else:
        deals = deals.filter(account=record)
    found = list(deals.select_related("stage", "owner").order_by("-created_at", "-id")[:LIMIT])
    quotes = list(
        scoped(user, Quote)
        .filter(deal_id__in=[d.pk for d in found])
        .select_related("deal")
        .order_by("-created_at", "-id")[:LIMIT]
    )
    return render_to_string(
        "sales/_record_deals.html",
        {
            "deals": found,
            "quotes": quotes,
        },
        request=request,
    )
