"""The export of a segment's members (thin: check, read through `scoped`, hand to the writer).

Invariants:
- only people who may see marketing pages (marketers, the head, admins) reach it; anyone else
  gets the same 404 as for the segment's page;
- the rows are the members the segment page lists (`segment_members_for`: the segment's rule
  within the contacts the user may see), every one of them rather than the page's first 100,
  newest first like the page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tandem.core import exports
from tandem.core.access import get_scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.crm.models import ConsentState, Contact, LifecycleStage
from tandem.marketing.models import Segment
from tandem.marketing.scopes import marketer
from tandem.marketing.segments import services as seg

CHUNK = 2000


def member_columns() -> list[exports.Column[Contact]]:
    # labels looked up once per export: get_FOO_display costs a lot per row on long lists
    stages = {str(k): str(v) for k, v in LifecycleStage.choices}
    consents = {str(k): str(v) for k, v in ConsentState.choices}
    return [
        exports.Column(_("Record ID"), lambda c: c.pk),
        exports.Column(_("First Name"), lambda c: c.first_name),
        exports.Column(_("Last Name"), lambda c: c.last_name),
        exports.Column(_("Email"), lambda c: c.email),
        exports.Column(_("Phone Number"), lambda c: c.phone),
        exports.Column(_("Job Title"), lambda c: c.title),
        exports.Column(_("Company Name"), lambda c: c.account.name if c.account else ""),
        exports.Column(_("Lifecycle Stage"), lambda c: stages.get(c.lifecycle_stage)),
        exports.Column(_("Marketing consent"), lambda c: consents.get(c.consent)),
        exports.Column(
            _("Contact Owner"), lambda c: (c.owner.email or c.owner.username) if c.owner else ""
        ),
        exports.Column(_("Create Date"), lambda c: c.created_at),
    ]


@login_required
@require_GET
def segment_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk)
    try:
        fmt = exports.page_format(user, request.GET.get("format"))
        members = (
            seg.segment_members_for(user, segment)
            .select_related("account", "owner")
            .order_by("-created_at", "-id")
        )
        return exports.respond(
            actor=Actor(user=user),
            fmt=fmt,
            filename=f"segment-{segment.pk}",
            sheet=segment.name,
            columns=member_columns(),
            records=members.iterator(chunk_size=CHUNK),
            model=Contact,
            source=segment,
        )
    except InvalidInput as exc:
        return exports.refused(exc)
