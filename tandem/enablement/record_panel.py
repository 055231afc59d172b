"""Enablement's panel on an account's page (crm's record panels): what marketers learned there
(insight notes), the customer's voice heard there (confirmed themes) and joint touches; on a
contact's page, the assets shared with the contact and a link to share one.

Invariants: everything goes through `scoped` for the viewer (an invisible record shows nothing);
"" when there is nothing to show, so the page shows no empty card.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string

from tandem.core.access import can, request_user, scoped
from tandem.crm.models import Account, Contact
from tandem.enablement.models import InsightNote, JointTouch, Share, TagStatus, VocTag

LIMIT = 20


def enablement_panel(request: HttpRequest, record: Model) -> str:
    user = request_user(request)
    if isinstance(record, Account):
        notes = list(
            scoped(user, InsightNote).filter(account=record).select_related("author")[:LIMIT]
        )
        tags = list(
            scoped(user, VocTag)
            .filter(account=record, status=TagStatus.CONFIRMED)
            .select_related("theme")[:LIMIT]
        )
        joint = list(
            scoped(user, JointTouch)
            .filter(account=record)
            .select_related("marketer", "rep")[:LIMIT]
        )
        if not (notes or tags or joint):
            return ""
        context = {"notes": notes, "tags": tags, "joint": joint, "contact": None}
    elif isinstance(record, Contact):
        shares = list(
            scoped(user, Share)
            .filter(contact=record)
            .select_related("asset", "rep", "version")[:LIMIT]
        )
        if not shares and not can(user, "share_collateral"):
            return ""
        context = {"shares": shares, "contact": record}
    else:
        return ""
    return render_to_string("enablement/_record_panel.html", context, request=request)
