"""Event pages: list, plan form, event page (registrations, imports, cancel, lead rule, the
registrations export as CSV/XLSX), and the lead-rule page of an event or of every event of a
kind (GET shows the rule, POST saves it or runs it now) for marketing; the public registration
page for everyone (CSRF-protected, with a honeypot). Thin: a form parses the input, a service
acts, the page renders."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST

from tandem.core import exports
from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.ratelimit import email_rate_limit_hit, rate_limit_hit
from tandem.crm.models import LifecycleStage
from tandem.leads.models import ScoringModel
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.campaigns.views import upload
from tandem.marketing.events import imports, rules, services
from tandem.marketing.events.forms import (
    HONEYPOT,
    AttendanceImportForm,
    EventForm,
    LeadRuleForm,
    LeadRuleRunForm,
    RegistrationForm,
)
from tandem.marketing.events.models import (
    EventKind,
    EventLeadOutcome,
    EventLeadRule,
    MarketingEvent,
    Registration,
    RegistrationStatus,
)
from tandem.marketing.scopes import marketer
from tandem.marketing.validation import form_errors

FIELDS = (
    "kind",
    "title",
    "slug",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "join_url",
    "organizer_name",
    "organizer_email",
    "campaign_id",
    "reminder_hours",
)


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    user = marketer(request)
    events = scoped(user, MarketingEvent).annotate(
        registered=Count("registrations"),
        attended=Count("registrations", filter=Q(registrations__attended=True)),
    )[:500]
    return render(request, "marketing/events/list.html", {"events": events})


def _close_flag(request: HttpRequest) -> bool:
    """The attendance import's "close the event" box (AttendanceImportForm)."""
    form = AttendanceImportForm(request.POST)
    return form.is_valid() and bool(form.cleaned_data["close"])


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


@login_required
def event_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = marketer(request)
    event = get_scoped(user, MarketingEvent, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {f: getattr(event, f, "") if event else "" for f in FIELDS}
    if event:
        data["starts_at"], data["ends_at"] = _local(event.starts_at), _local(event.ends_at)
        data["reminder_hours"] = ", ".join(map(str, event.reminder_hours))
    else:
        data.update(kind="webinar", organizer_email=user.email, reminder_hours="24, 1")
        data["organizer_name"] = user.get_full_name() or user.username
    if request.method == "POST":
        form = EventForm(request.POST)
        data = {f: form[f].value() for f in FIELDS}
        if form.is_valid():
            cleaned = dict(form.cleaned_data)
            data["campaign_id"] = cleaned["campaign_id"]
            if event is not None:
                cleaned.pop("slug")
            try:
                if event is None:
                    event = services.event_create(actor=Actor.of(request), **cleaned)
                else:
                    event = services.event_update(actor=Actor.of(request), event=event, **cleaned)
                messages.success(request, _("Event saved."))
                return redirect("marketing:event_detail", pk=event.pk)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    return render(
        request,
        "marketing/events/edit.html",
        {
            "event": event,
            "data": data,
            "errors": errors,
            "kinds": EventKind.choices,
            "campaigns": scoped(user, Campaign)[:500],
        },
        status=400 if errors else 200,
    )


def _detail(
    request: HttpRequest, event: MarketingEvent, errors: dict[str, list[str]], report: Any = None
) -> HttpResponse:
    registrations = event.registrations.select_related("contact").order_by("registered_at", "id")
    counts = registrations.aggregate(
        n_registered=Count("id"),
        n_attended=Count("id", filter=Q(attended=True)),
        n_no_show=Count("id", filter=Q(attended=False)),
    )
    return render(
        request,
        "marketing/events/detail.html",
        {
            "event": event,
            "registrations": registrations[:1000],
            "counts": counts,
            "errors": errors,
            "import_report": report,
            "public_url": request.build_absolute_uri(f"/marketing/events/r/{event.slug}"),
        },
        status=400 if errors else 200,
    )


@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    return _detail(request, get_scoped(user, MarketingEvent, pk), {})


@login_required
@require_POST
def event_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """cancel | attendance | badges | no_shows | leads."""
    user = marketer(request)
    event = get_scoped(user, MarketingEvent, pk, "change")
    actor = Actor(user=user)
    try:
        if action == "cancel":
            services.event_cancel(actor=actor, event=event)
            messages.success(request, _("The event is cancelled; attendees are told."))
        elif action == "attendance":
            report = imports.attendance_import(
                actor=actor,
                event=event,
                data=upload(request),
                close=_close_flag(request),
            )
            return _detail(request, event, {}, report)
        elif action == "badges":
            report = imports.badge_scans_import(actor=actor, event=event, data=upload(request))
            return _detail(request, event, {}, report)
        elif action == "no_shows":
            n = imports.no_shows_close(event=event)
            messages.success(request, _("%(n)s no-shows recorded.") % {"n": n})
        elif action == "leads":
            n = imports.attendees_to_leads(actor=actor, event=event)
            messages.success(request, _("%(n)s attendees became leads.") % {"n": n})
        else:
            raise Http404
    except InvalidInput as exc:
        return _detail(request, event, exc.errors)
    return redirect("marketing:event_detail", pk=event.pk)


ATTENDED = {"": None, "yes": Q(attended=True), "no": Q(attended=False), "unknown": Q(attended=None)}


def registration_columns() -> list[exports.Column[Registration]]:
    def attended(r: Registration) -> str:
        if r.attended is None:
            return ""
        return _("yes") if r.attended else _("no-show")

    return [
        exports.Column(pgettext("person", "Name"), lambda r: r.name or str(r.contact)),
        exports.Column(_("Email"), lambda r: r.email),
        exports.Column(_("Company"), lambda r: r.company),
        exports.Column(_("Source"), lambda r: r.get_source_display()),
        exports.Column(_("Registered at"), lambda r: r.registered_at),
        exports.Column(_("Attended"), attended),
        exports.Column(_("Joined at"), lambda r: r.joined_at),
        exports.Column(_("Left at"), lambda r: r.left_at),
        exports.Column(_("Minutes"), lambda r: r.minutes),
        exports.Column(_("Badge scanned at"), lambda r: r.scanned_at),
        exports.Column(_("Record ID"), lambda r: r.contact_id),
    ]


@login_required
@require_GET
def registrations_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The event's registrations as the page lists them (all, or only `attended=yes|no|unknown`)
    as CSV or XLSX."""
    user = marketer(request)
    event = get_scoped(user, MarketingEvent, pk)
    try:
        fmt = exports.page_format(user, request.GET.get("format"))
        wanted = request.GET.get("attended", "")
        if wanted not in ATTENDED:
            raise InvalidInput(
                {"attended": [_("Unknown attendance filter: use yes, no or unknown.")]}
            )
        rows = (
            scoped(user, Registration)
            .filter(event=event)
            .select_related("contact")
            .order_by("registered_at", "id")
        )
        condition = ATTENDED[wanted]
        if condition is not None:
            rows = rows.filter(condition)
        return exports.respond(
            actor=Actor(user=user),
            fmt=fmt,
            filename=f"event-{event.pk}-registrations",
            sheet=event.title,
            columns=registration_columns(),
            records=rows.iterator(chunk_size=2000),
            model=Registration,
            source=event,
            filters={"attended": wanted},
        )
    except InvalidInput as exc:
        return exports.refused(exc)


REGISTRATION_RATE_PER_MINUTE = 10


def _registration_limited(request: HttpRequest, email: str) -> HttpResponse | None:
    """429 with Retry-After when this client address registered too often this minute, or
    when the address to be mailed was given too often (from anywhere) in ten minutes."""
    ip = client_address(request) or "-"
    verdicts = [rate_limit_hit(f"marketing:register:{ip}", limit=REGISTRATION_RATE_PER_MINUTE)]
    if email.strip():
        verdicts.append(email_rate_limit_hit(email))
    over = [v for v in verdicts if v.limited]
    if not over:
        return None
    response = HttpResponse(_("Too many requests. Try again later."), status=429)
    response["Retry-After"] = str(max(1, int(max(v.retry_after for v in over) + 0.999)))
    return response


def register_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Public: anyone may register (CSRF token in the form; a filled honeypot stores nothing)."""
    event = MarketingEvent.objects.filter(slug=slug).first()
    if event is None:
        raise Http404
    errors: dict[str, list[str]] = {}
    data = {"name": "", "email": "", "company": ""}
    if request.method == "POST":
        form = RegistrationForm(request.POST)
        data = {k: str(form[k].value() or "") for k in data}
        if form.is_bot():
            return render(request, "marketing/events/registered.html", {"event": event})
        limited = _registration_limited(request, str(form["email"].value() or ""))
        if limited is not None:
            return limited
        if form.is_valid():
            try:
                services.register(
                    event=event,
                    name=form.cleaned_data["name"],
                    email=form.cleaned_data["email"],
                    company=form.cleaned_data["company"],
                )
                return render(request, "marketing/events/registered.html", {"event": event})
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    closed = event.status != MarketingEvent.Status.SCHEDULED or event.ends_at <= timezone.now()
    return render(
        request,
        "marketing/events/register.html",
        {"event": event, "data": data, "errors": errors, "closed": closed, "honeypot": HONEYPOT},
        status=400 if errors else 200,
    )


# --- lead rule page: an event's (or an event kind's) rule, and running it now ---


@login_required
def lead_rule(request: HttpRequest, pk: int | None = None, kind: str = "") -> HttpResponse:
    user = marketer(request)
    event = get_scoped(user, MarketingEvent, pk, "change") if pk is not None else None
    if event is None and kind not in EventKind.values:
        raise Http404
    actor = Actor(user=user)
    own = (
        EventLeadRule.objects.filter(event=event).first()
        if event is not None
        else EventLeadRule.objects.filter(event__isnull=True, event_kind=kind).first()
    )
    errors: dict[str, list[str]] = {}
    here = (
        redirect("marketing:event_lead_rule", pk=event.pk)
        if event is not None
        else redirect("marketing:event_kind_lead_rule", kind=kind)
    )
    if request.method == "POST" and LeadRuleRunForm(request.POST).run() and event is not None:
        run = rules.rule_apply(actor=actor, event=event)
        messages.success(
            request,
            _("%(n)s registrations handled: %(m)s stage changes, %(h)s hand-offs to sales.")
            % {"n": run.handled, "m": run.moved, "h": run.handed_off},
        )
        for registration_id, reason in run.failed:
            messages.error(request, f"#{registration_id}: {reason}")
        return here
    if request.method == "POST":
        form = LeadRuleForm(request.POST)
        if form.is_valid():
            try:
                rules.rule_save(
                    actor=actor,
                    event=event,
                    event_kind="" if event is not None else kind,
                    **form.cleaned_data,
                )
                messages.success(request, _("Lead rule saved."))
                return here
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    effective = (rules.rule_for(event) if event is not None else own) or rules.default_rule()
    outcomes = (
        EventLeadOutcome.objects.filter(registration__event=event)
        .select_related("contact", "handoff")
        .order_by("-at")[:200]
        if event is not None
        else []
    )
    return render(
        request,
        "marketing/events/lead_rule.html",
        {
            "event": event,
            "kind": kind,
            "kind_label": EventKind(kind).label if kind else "",
            "own": own,
            "rule": effective,
            "inherited": event is not None and own is None and effective.pk is not None,
            "statuses": RegistrationStatus.choices,
            "stages": [
                ("", _("Leave the stage")),
                (LifecycleStage.LEAD, LifecycleStage.LEAD.label),
                (LifecycleStage.MQL, LifecycleStage.MQL.label),
            ],
            "scoring_models": ScoringModel.objects.order_by("name")[:100],
            "outcomes": outcomes,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
