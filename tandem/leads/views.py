"""Pages: my hand-offs (accept/reject with SLA countdown), the dispute queue and threads, lead
quality for marketing, notifications. Thin: read through `scoped`, call a service, render."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Organisation, User
from tandem.crm.models import Account, Contact
from tandem.leads import disputes, selectors, services
from tandem.leads.forms import (
    CHANNEL_CHOICES,
    DisputeDecideForm,
    DisputeMessageForm,
    DisputeOpenForm,
    HandoffAcceptForm,
    HandoffAssignForm,
    HandoffContactedForm,
    HandoffRejectForm,
    LifecycleMoveForm,
    active_reps,
)
from tandem.leads.models import (
    OPEN_HANDOFF,
    Dispute,
    DisputeStatus,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    Notification,
    RejectionOutcome,
    RejectionReason,
    RoutedBy,
)
from tandem.leads.sla import BusinessCalendar, calendar_for
from tandem.sales.models import Deal

# What a hand-off's history says happened (HandoffEvent.kind), in words.
EVENT_LABELS = {
    "routed": gettext_lazy("Routed"),
    "accepted": gettext_lazy("Accepted"),
    "rejected": gettext_lazy("Rejected"),
    "contacted": gettext_lazy("Contacted"),
    "breached": gettext_lazy("SLA breached"),
}


def event_detail(event: HandoffEvent) -> str:
    """An event's detail in words: how it was routed, the rejection reason, the channel of the
    first contact; other details (a note, a reason already in words) as they were written."""
    detail = event.detail
    if event.kind == "routed" and detail in RoutedBy.values:
        return str(RoutedBy(detail).label)
    if event.kind == "rejected":
        reason, _sep, note = detail.partition(": ")
        if reason in RejectionReason.values:
            label = str(RejectionReason(reason).label)
            return f"{label}: {note}" if note else label
    if event.kind == "contacted":
        if detail == "timeline":
            return _("seen on the timeline")
        return str(dict(CHANNEL_CHOICES).get(detail, detail))
    return detail


def event_rows(handoff: Handoff) -> list[dict[str, Any]]:
    """The hand-off's history for its page: when, what (in words), the rep and the detail."""
    return [
        {
            "at": event.at,
            "kind": str(EVENT_LABELS.get(event.kind, event.kind)),
            "rep": event.rep,
            "detail": event_detail(event),
        }
        for event in handoff.events.select_related("actor", "rep")
    ]


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a leads page (times show in the viewer's zone: core's TimeZoneMiddleware)."""
    return render(request, template, context, status=status)


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
    user = request_user(request)
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
    handoff = get_scoped(request_user(request), Handoff, pk)
    return _handoff_page(request, handoff)


def _handoff_page(
    request: HttpRequest, handoff: Handoff, failed: forms.Form | None = None
) -> HttpResponse:
    """The hand-off's page; `failed` is a form the user just sent that was refused, shown with
    its errors (HTTP 400)."""
    user = request_user(request)
    now = timezone.now()
    return _page(
        request,
        "leads/handoff_detail.html",
        {
            "handoff": handoff,
            "sla": sla_left(handoff, now),
            "timeline": selectors.before_handoff(user, handoff)[:200],
            "scores": selectors.contact_scores(user, handoff.contact),
            "events": event_rows(handoff),
            "reasons": RejectionReason.choices,
            "outcomes": RejectionOutcome.choices,
            "channels": CHANNEL_CHOICES,
            "can_act": handoff.is_open
            and (user.sees_everything or handoff.assigned_to_id == user.pk),
            "reps": active_reps() if user.sees_everything else [],
            "disputes": scoped(user, Dispute).filter(
                content_type=ContentType.objects.get_for_model(Handoff), object_id=str(handoff.pk)
            ),
            "failed": failed,
        },
        status=200 if failed is None else 400,
    )


HANDOFF_FORMS: dict[str, type[forms.Form]] = {
    "accept": HandoffAcceptForm,
    "reject": HandoffRejectForm,
    "contacted": HandoffContactedForm,
    "assign": HandoffAssignForm,
}


@login_required
@require_POST
def handoff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Accept, reject, record the first contact or (the head) assign: a refused form re-renders
    the hand-off with its errors."""
    form_class = HANDOFF_FORMS.get(action)
    if form_class is None:
        raise Http404
    handoff = get_scoped(request_user(request), Handoff, pk, "change")
    form = form_class(request.POST)
    if form.is_valid():
        try:
            message = _handoff_act(Actor.of(request), handoff, action, form.cleaned_data)
        except InvalidInput as exc:
            if exc.code == "forbidden":
                raise PermissionDenied(exc.message) from exc
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, message)
            return HttpResponseRedirect(reverse("leads:handoff_detail", args=[handoff.pk]))
    handoff.refresh_from_db()
    return _handoff_page(request, handoff, failed=form)


def _handoff_act(actor: Actor, handoff: Handoff, action: str, data: dict[str, Any]) -> str:
    if action == "accept":
        services.handoff_accept(actor=actor, handoff=handoff)
        return _("Accepted. The first-contact clock is running.")
    if action == "reject":
        services.handoff_reject(
            actor=actor,
            handoff=handoff,
            reason=data["reason"],
            note=data["note"],
            outcome=data["outcome"],
        )
        return _("Rejected: the lead went back to marketing.")
    if action == "contacted":
        services.handoff_mark_contacted(
            actor=actor, handoff=handoff, channel=data["channel"], note=data["note"]
        )
        return _("First contact recorded.")
    services.handoff_assign(actor=actor, handoff=handoff, rep=data["rep"])
    return _("Assigned.")


# --- disputes -------------------------------------------------------------------------------


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    qs = scoped(request_user(request), Dispute).select_related("opened_by", "decided_by")
    return _page(
        request,
        "leads/dispute_list.html",
        {
            "open": qs.filter(status=DisputeStatus.OPEN).order_by("opened_at", "id"),
            "decided": qs.filter(status=DisputeStatus.DECIDED).order_by("-decided_at")[:50],
        },
    )


TARGET_MODELS: dict[str, type[Model]] = {
    "handoff": Handoff,
    "contact": Contact,
    "account": Account,
    "deal": Deal,
}


def _dispute_target(user: User, data: Any) -> tuple[str, Model] | None:
    """The record named by one of the form's record fields, read through the user's scope
    (an invisible or missing one is a 404)."""
    for name, model in TARGET_MODELS.items():
        raw = data.get(name)
        if raw in (None, ""):
            continue
        try:
            pk = int(raw)
        except (TypeError, ValueError):
            return None
        return name, get_scoped(user, model, pk)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def dispute_new(request: HttpRequest) -> HttpResponse:
    """Open a dispute about a record the user sees (`?contact=`, `account=`, `deal=` or
    `handoff=`): GET shows the form with the subjects that record allows; refused input
    re-renders it (a hand-off's own page for a hand-off) with the errors, HTTP 400."""
    user = request_user(request)
    if not can(user, "open_disputes"):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    found = _dispute_target(user, source)
    target = found[1] if found else None
    subjects = disputes.subjects_for(target) if target is not None else None
    if request.method == "GET":
        if found is None:
            raise Http404
        name, record = found
        form = DisputeOpenForm(initial={name: record.pk}, subjects=subjects)
        return _dispute_new_page(request, form, record, status=200)
    form = DisputeOpenForm(request.POST, subjects=subjects)
    if form.is_valid() and target is not None:
        data = form.cleaned_data
        try:
            dispute = disputes.dispute_open(
                actor=Actor.of(request),
                subject=data["subject"],
                target=target,
                summary=data["summary"],
                body=data["body"],
            )
        except InvalidInput as exc:
            if exc.code == "forbidden":
                raise PermissionDenied(exc.message) from exc
            apply_invalid_input(form, exc, {})
        else:
            return HttpResponseRedirect(reverse("leads:dispute_detail", args=[dispute.pk]))
    if isinstance(target, Handoff):
        return _handoff_page(request, target, failed=form)
    return _dispute_new_page(request, form, target, status=400)


def _dispute_new_page(
    request: HttpRequest, form: DisputeOpenForm, target: Model | None, status: int
) -> HttpResponse:
    return _page(
        request,
        "leads/dispute_new.html",
        {"form": form, "target": target, "record_url": _record_url(target)},
        status=status,
    )


def _record_url(target: Model | None) -> str:
    if target is None:
        return ""
    name = disputes.RECORD_PAGES.get(target._meta.label_lower)
    return reverse(name, args=[target.pk]) if name else ""


def _decide_form(dispute: Dispute, data: Any = None) -> DisputeDecideForm:
    return DisputeDecideForm(data, subject=dispute.subject, sides=disputes.dispute_sides(dispute))


@login_required
@require_http_methods(["GET", "POST"])
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A dispute's thread: anyone who sees it writes; the head decides (action=decide) and the
    decision's effect (credit shares, the new owner, a recycled lead) is made with it."""
    user = request_user(request)
    dispute = get_scoped(user, Dispute, pk)
    message_form: forms.Form = DisputeMessageForm()
    decide_form: forms.Form = _decide_form(dispute)
    if request.method == "POST":
        deciding = request.POST.get("action") == "decide"
        form: forms.Form = (
            _decide_form(dispute, request.POST) if deciding else DisputeMessageForm(request.POST)
        )
        if form.is_valid():
            try:
                if deciding:
                    data = form.cleaned_data
                    disputes.dispute_decide(
                        actor=Actor.of(request),
                        dispute=dispute,
                        outcome=data["outcome"],
                        decision=data["decision"],
                        shares=data["shares"],
                        new_owner=data["new_owner"],
                    )
                    messages.success(request, _("Decision recorded."))
                else:
                    disputes.dispute_post(
                        actor=Actor.of(request), dispute=dispute, body=form.cleaned_data["body"]
                    )
            except InvalidInput as exc:
                if exc.code == "forbidden":
                    raise PermissionDenied(exc.message) from exc
                apply_invalid_input(form, exc, {})
            else:
                return HttpResponseRedirect(reverse("leads:dispute_detail", args=[dispute.pk]))
        if deciding:
            decide_form = form
        else:
            message_form = form
        dispute.refresh_from_db()
    return _page(
        request,
        "leads/dispute_detail.html",
        {
            "dispute": dispute,
            "thread": dispute.messages.select_related("author"),
            "can_decide": user.sees_everything and dispute.status == DisputeStatus.OPEN,
            "record_url": disputes.record_url(dispute),
            "adjustments": dispute.credit_adjustments.all(),
            "message_form": message_form,
            "decide_form": decide_form,
        },
        status=400 if request.method == "POST" else 200,
    )


def dispute_panel(request: HttpRequest, record: Model) -> str:
    """The disputes about a record (a contact's also about its hand-offs) the viewer may see,
    with their threads, and the "Open a dispute" action: a panel on the record's page."""
    user = request_user(request)
    if not user.is_authenticated or not can(user, "view_records"):
        return ""
    subjects = disputes.subjects_for(record)
    if not subjects:
        return ""
    kind = record._meta.model_name or ""
    about = Q(content_type=ContentType.objects.get_for_model(record), object_id=str(record.pk))
    if isinstance(record, Contact):
        handoffs = [str(pk) for pk in record.handoffs.values_list("pk", flat=True)]
        about |= Q(content_type=ContentType.objects.get_for_model(Handoff), object_id__in=handoffs)
    found = list(
        scoped(user, Dispute)
        .filter(about)
        .select_related("opened_by", "decided_by", "new_owner")
        .prefetch_related("messages__author")
        .order_by("-opened_at", "-id")[:20]
    )
    return render_to_string(
        "leads/_record_disputes.html",
        {
            "disputes": found,
            "can_open": can(user, "open_disputes"),
            "open_url": f"{reverse('leads:dispute_new')}?{kind}={record.pk}",
        },
        request=request,
    )


# --- lead quality for marketing ---------------------------------------------------------------


@login_required
def lead_quality(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not can(user, "view_lead_quality"):
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
    user = request_user(request)
    notes = scoped(user, Notification)[:100]
    return _page(request, "leads/notifications.html", {"notifications": notes})


# --- lifecycle ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contact_lifecycle(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a contact the user may change to another stage (the lifecycle service writes the
    history and the timeline), then back to the contact's page."""
    contact = get_scoped(request_user(request), Contact, pk, "change")
    form = LifecycleMoveForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.lifecycle_move(
                actor=Actor.of(request),
                contact=contact,
                stage=form.cleaned_data["stage"],
                reason=form.cleaned_data["reason"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Stage changed."))
            return HttpResponseRedirect(reverse("crm:contact_detail", args=[contact.pk]))
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "contact": contact}
    return render(request, "leads/lifecycle_move.html", context, status=status)
