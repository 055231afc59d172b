"""The hand-offs panel on a contact's or an account's page (crm's record panels) and its
"Hand off to sales" action.

Invariants:
- the panel lists only hand-offs the viewer may see (`scoped`): a rep sees the ones assigned to
  them, marketing and the head see all; an account's panel shows its visible contacts' ones;
- the SLA clock is the one the hand-off pages show (`views.sla_left`: business hours of the
  rep's calendar), its deadline rendered in the viewer's time zone;
- the action is offered to holders of `hand_off_leads` on contacts they see; the hand-off is
  made by `services.handoff_by_hand`, which refuses a second open one and a customer with a
  reason (a form error, HTTP 400), so a stale page cannot hand a contact over twice.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import Account, Contact, LifecycleStage
from tandem.leads import services
from tandem.leads.forms import HandoffByHandForm
from tandem.leads.models import OPEN_HANDOFF, Handoff
from tandem.leads.sla import BusinessCalendar
from tandem.leads.views import sla_left

LIMIT = 20


def handoff_refusal(contact: Contact, open_handoff: Handoff | None) -> str:
    """Why "Hand off to sales" is not offered for the contact, "" when it is (the service
    checks the same again when the form is sent)."""
    if open_handoff is not None:
        return _("Already handed off: %(status)s.") % {"status": open_handoff.get_status_display()}
    if contact.lifecycle_stage == LifecycleStage.CUSTOMER:
        return _("A customer is not handed to sales.")
    return ""


def handoff_panel(request: HttpRequest, record: Model) -> str:
    """The "Hand-offs" card: each visible hand-off with its status, rep, SLA deadline and time
    left (or overdue), and on a contact the "Hand off to sales" form or why it is not offered."""
    if not isinstance(record, Contact | Account):
        return ""
    user = request_user(request)
    may_hand_off = isinstance(record, Contact) and can(user, "hand_off_leads")
    if not can(user, "use_handoffs") and not may_hand_off:
        return ""
    handoffs = scoped(user, Handoff).select_related("contact", "assigned_to")
    if isinstance(record, Contact):
        handoffs = handoffs.filter(contact=record)
    else:
        handoffs = handoffs.filter(contact__in=scoped(user, Contact).filter(account=record))
    now = timezone.now()
    calendars: dict[int | None, BusinessCalendar] = {}
    rows = [
        {"handoff": h, "sla": sla_left(h, now, calendars)}
        for h in handoffs.order_by("-created_at", "-id")[:LIMIT]
    ]
    refusal = ""
    if may_hand_off:
        assert isinstance(record, Contact)
        open_one = Handoff.objects.filter(contact=record, status__in=OPEN_HANDOFF).first()
        refusal = handoff_refusal(record, open_one)
    return render_to_string(
        "leads/_record_handoffs.html",
        {
            "rows": rows,
            "record": record,
            "show_contact": isinstance(record, Account),
            "may_hand_off": may_hand_off,
            "refusal": refusal,
            "form": HandoffByHandForm(),
        },
        request=request,
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_handoff(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand a contact the user sees to sales ("Hand off to sales" on its page), through
    `services.handoff_by_hand`; a refusal is shown on the form with its reason."""
    user = request_user(request)
    if not can(user, "hand_off_leads"):
        raise PermissionDenied
    contact = get_scoped(user, Contact, pk)
    form = HandoffByHandForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            handoff = services.handoff_by_hand(
                actor=Actor.of(request), contact=contact, note=form.cleaned_data["note"]
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            if handoff.assigned_to is None:
                messages.warning(request, _("Handed off to sales; no rep was available."))
            else:
                messages.success(request, _("Handed off to sales."))
            return HttpResponseRedirect(reverse("crm:contact_detail", args=[contact.pk]))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "leads/handoff_new.html", {"form": form, "contact": contact}, status=status
    )
