"""Pages: my hand-offs (accept/reject with SLA countdown), the dispute queue and threads, lead
quality for marketing, notifications. Thin: read through `scoped`, call a service, render."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation, Role, User
from tandem.crm.models import Contact
from tandem.leads import disputes, selectors, services
from tandem.leads.models import (
    OPEN_HANDOFF,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    DisputeSubject,
    Handoff,
    HandoffStatus,
    Notification,
    RejectionOutcome,
    RejectionReason,
)
from tandem.leads.sla import BusinessCalendar, calendar_for


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=_user(request))


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render with times shown in the viewer's time zone (else the organisation's)."""
    user = _user(request)
    tzname = user.time_zone or Organisation.current().time_zone or "UTC"
    return render(request, template, {**context, "tzname": tzname})


def sla_left(
    handoff: Handoff, now: dt.datetime, calendars: dict[int | None, BusinessCalendar] | None = None
) -> dict[str, Any] | None:
    """Business hours left on the running clock (negative when overdue), for the countdown."""
    due = (
        handoff.accept_due_at
        if handoff.status == HandoffStatus.PENDING
        else (handoff.first_contact_due_at if handoff.status == HandoffStatus.ACCEPTED else None)
    )
    if due is None:
        return None
    calendars = {} if calendars is None else calendars
    if handoff.assigned_to_id not in calendars:
        calendars[handoff.assigned_to_id] = calendar_for(handoff.assigned_to)
    calendar = calendars[handoff.assigned_to_id]
    if due >= now:
        hours = calendar.business_hours_between(now, due)
    else:
        hours = -calendar.business_hours_between(due, now)
    return {
        "due_at": due,
        "hours": round(hours, 2),
        "overdue": due < now,
        "minutes": round(hours * 60),
    }


@login_required
def handoff_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    show = request.GET.get("show", "open")
    handoffs = scoped(user, Handoff).select_related("contact", "assigned_to")
    if show == "open":
        handoffs = handoffs.filter(status__in=OPEN_HANDOFF)
    now = timezone.now()
    calendars: dict[int | None, BusinessCalendar] = {}
    rows = [{"handoff": h, "sla": sla_left(h, now, calendars)} for h in handoffs[:200]]
    return _page(
        request,
        "leads/handoff_list.html",
        {
            "rows": rows,
            "show": show,
            "reasons": RejectionReason.choices,
            "outcomes": RejectionOutcome.choices,
        },
    )


@login_required
def handoff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    handoff = get_scoped(user, Handoff, pk)
    now = timezone.now()
    reps = (
        User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("username")
        if user.sees_everything
        else []
    )
    return _page(
        request,
        "leads/handoff_detail.html",
        {
            "handoff": handoff,
            "sla": sla_left(handoff, now),
            "timeline": selectors.before_handoff(user, handoff)[:200],
            "scores": selectors.contact_scores(user, handoff.contact),
            "events": handoff.events.select_related("actor", "rep"),
            "reasons": RejectionReason.choices,
            "outcomes": RejectionOutcome.choices,
            "can_act": handoff.is_open
            and (user.sees_everything or handoff.assigned_to_id == user.pk),
            "reps": reps,
            "disputes": scoped(user, Dispute).filter(
                content_type=ContentType.objects.get_for_model(Handoff), object_id=str(handoff.pk)
            ),
        },
    )


def _back(pk: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("leads:handoff_detail", args=[pk]))


def _flash_errors(request: HttpRequest, exc: InvalidInput) -> None:
    for field, errors in exc.errors.items():
        for error in errors:
            messages.error(request, error if field == "__all__" else f"{field}: {error}")


@login_required
@require_POST
def handoff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = _user(request)
    handoff = get_scoped(user, Handoff, pk, "change")
    actor = _actor(request)
    try:
        if action == "accept":
            services.handoff_accept(actor=actor, handoff=handoff)
            messages.success(request, _("Accepted. The first-contact clock is running."))
        elif action == "reject":
            services.handoff_reject(
                actor=actor,
                handoff=handoff,
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
                outcome=request.POST.get("outcome", RejectionOutcome.RECYCLE),
            )
            messages.success(request, _("Rejected: the lead went back to marketing."))
        elif action == "contacted":
            services.handoff_mark_contacted(
                actor=actor,
                handoff=handoff,
                channel=request.POST.get("channel", ""),
                note=request.POST.get("note", ""),
            )
            messages.success(request, _("First contact recorded."))
        elif action == "assign":
            try:
                rep = User.objects.get(pk=int(request.POST.get("rep", "")))
            except (ValueError, User.DoesNotExist):
                raise InvalidInput({"rep": [_("Choose a rep.")]}) from None
            services.handoff_assign(actor=actor, handoff=handoff, rep=rep)
            messages.success(request, _("Assigned."))
        else:
            raise Http404
    except InvalidInput as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
        _flash_errors(request, exc)
    return _back(handoff.pk)


# --- disputes -------------------------------------------------------------------------------


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = scoped(user, Dispute).select_related("opened_by", "decided_by")
    return _page(
        request,
        "leads/dispute_list.html",
        {
            "open": qs.filter(status=DisputeStatus.OPEN).order_by("opened_at", "id"),
            "decided": qs.filter(status=DisputeStatus.DECIDED).order_by("-decided_at")[:50],
        },
    )


@login_required
@require_POST
def dispute_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    subject = request.POST.get("subject", "")
    target: Any
    if request.POST.get("handoff"):
        target = get_scoped(user, Handoff, request.POST["handoff"])
    elif request.POST.get("contact"):
        target = get_scoped(user, Contact, request.POST["contact"])
    else:
        raise Http404
    try:
        dispute = disputes.dispute_open(
            actor=_actor(request),
            subject=subject,
            target=target,
            summary=request.POST.get("summary", ""),
            body=request.POST.get("body", ""),
        )
    except InvalidInput as exc:
        _flash_errors(request, exc)
        if isinstance(target, Handoff):
            return _back(target.pk)
        return HttpResponseRedirect(reverse("leads:handoff_list"))
    return HttpResponseRedirect(reverse("leads:dispute_detail", args=[dispute.pk]))


@login_required
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    dispute = get_scoped(user, Dispute, pk)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decide":
                disputes.dispute_decide(
                    actor=_actor(request),
                    dispute=dispute,
                    outcome=request.POST.get("outcome", ""),
                    decision=request.POST.get("decision", ""),
                )
                messages.success(request, _("Decision recorded."))
            else:
                disputes.dispute_post(
                    actor=_actor(request), dispute=dispute, body=request.POST.get("body", "")
                )
        except InvalidInput as exc:
            if exc.code == "forbidden":
                raise PermissionDenied(exc.message) from exc
            _flash_errors(request, exc)
        return HttpResponseRedirect(reverse("leads:dispute_detail", args=[dispute.pk]))
    return _page(
        request,
        "leads/dispute_detail.html",
        {
            "dispute": dispute,
            "thread": dispute.messages.select_related("author"),
            "outcomes": DisputeOutcome.choices,
            "can_decide": user.sees_everything and dispute.status == DisputeStatus.OPEN,
            "subjects": DisputeSubject.choices,
        },
    )


# --- lead quality for marketing ---------------------------------------------------------------


@login_required
def lead_quality(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (user.sees_everything or user.role == Role.MARKETER):
        raise PermissionDenied
    by = request.GET.get("by", "campaign")
    dimension: selectors.Dimension = by if by in ("channel", "source") else "campaign"  # type: ignore[assignment]
    today = timezone.localdate()
    org = Organisation.current()
    sla = selectors.marketing_sla(user, today.replace(day=1), ZoneInfo(org.time_zone or "UTC"))
    return _page(
        request,
        "leads/lead_quality.html",
        {
            "rows": selectors.lead_quality(user, dimension),
            "by": dimension,
            "sla": sla,
        },
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    notes = scoped(user, Notification)[:100]
    return _page(request, "leads/notifications.html", {"notifications": notes})
