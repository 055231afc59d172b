"""The field pages: today (the offline web app's home), a visit (card, check-in/out, report,
deal, attachments), the week calendar, the day route, and the head's field page (visits per rep,
coverage, tiers and plans); the web app's manifest and service worker.

Invariants:
- every page reads through `core.access.scoped` and is shown to who holds its capability
  (`visit_accounts`, `view_field_overview`, `manage_visit_plans`); others get a 404;
- days and times are the user's (the middleware activates their time zone);
- every write calls one service; bad input is a form error, a conflict is shown with the
  stored visit, never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid as uuidlib
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Account
from tandem.field import selectors, services
from tandem.field.forms import (
    AttachmentForm,
    BaseForm,
    DealForm,
    PlaceForm,
    PlanForm,
    ReportForm,
    TierForm,
    VisitForm,
)
from tandem.field.models import FollowUp, RepBase, Visit, VisitPlan, VisitTier
from tandem.sales.models import Deal, DealStatus, Stage

SERVICE_WORKER = Path(__file__).parent / "static" / "field" / "sw.js"


def _need(request: HttpRequest, capability: str) -> User:
    user = request_user(request)
    if not can(user, capability):
        raise Http404
    return user


def _visits(user: User) -> QuerySet[Visit]:
    return scoped(user, Visit).select_related("account", "contact")


def _visit(user: User, key: uuidlib.UUID, action: str = "view") -> Visit:
    visit = scoped(user, Visit, "change" if action == "change" else "view").filter(uuid=key).first()
    if visit is None:
        raise Http404
    return visit


def _errors(form: Any, exc: InvalidInput) -> None:
    for field, problems in exc.errors.items():
        name = field if field in form.fields else None
        for problem in problems:
            form.add_error(name, problem if name else f"{field}: {problem}")


def _account(user: User, name: str) -> Account | None:
    return scoped(user, Account).filter(name__iexact=name.strip()).order_by("pk").first()


# --- today and a visit ------------------------------------------------------------------------


@login_required
def today(request: HttpRequest) -> HttpResponse:
    """Today's plan: the rep's visits with their account cards, due key accounts, follow-ups."""
    user = _need(request, "visit_accounts")
    day = timezone.localdate()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_current_timezone())
    visits = list(
        _visits(user)
        .filter(rep=user, planned_start__gte=start, planned_start__lt=start + dt.timedelta(days=1))
        .order_by("planned_start", "id")
    )
    due = [row for row in selectors.coverage(rep_ids=[user.pk]) if row.due]
    follow_ups = (
        scoped(user, FollowUp)
        .filter(visit__rep=user, task__done_at__isnull=True)
        .select_related("task", "visit", "visit__account")[:50]
    )
    return render(
        request,
        "field/today.html",
        {"day": day, "visits": visits, "due": due, "follow_ups": follow_ups},
    )


def _deal_form(user: User, visit: Visit, data: Any = None) -> DealForm:
    form = DealForm(data)
    deals = scoped(user, Deal, "change").filter(account=visit.account, status=DealStatus.OPEN)
    form.fields["deal"].widget.choices = [("", "—")] + [(d.pk, d.name) for d in deals]
    stages = (
        Stage.objects.filter(pipeline__deals__in=deals).distinct().order_by("pipeline", "position")
    )
    form.fields["stage"].widget.choices = [("", "—")] + [(s.pk, s.name) for s in stages]
    return form


def _report_form(visit: Visit, data: Any = None) -> ReportForm:
    initial = {
        "base_version": visit.version,
        "notes": visit.notes,
        **ReportForm.initial_from(visit.report),
    }
    return ReportForm(visit.industry, data, initial=initial)


@login_required
def visit_detail(request: HttpRequest, key: uuidlib.UUID, **forms: Any) -> HttpResponse:
    user = _need(request, "visit_accounts")
    visit = _visit(user, key)
    changeable = scoped(user, Visit, "change").filter(pk=visit.pk).exists()
    context = {
        "visit": visit,
        "changeable": changeable,
        "report_form": forms.get("report_form") or _report_form(visit),
        "deal_form": forms.get("deal_form") or _deal_form(user, visit),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "place_form": PlaceForm(),
        "conflict": forms.get("conflict"),
        "can_sell": can(user, "sell"),
        "follow_ups": visit.follow_ups.select_related("task", "task__owner"),
        "attachments": visit.attachments.all(),
        "plan": VisitPlan.objects.filter(account=visit.account).select_related("tier").first(),
    }
    status = (
        400
        if any(f is not None and f.errors for f in forms.values() if hasattr(f, "errors"))
        else 200
    )
    if forms.get("conflict") is not None:
        status = 409
    return render(request, "field/visit.html", context, status=status)


@login_required
@require_POST
def visit_report(request: HttpRequest, key: uuidlib.UUID) -> HttpResponse:
    user = _need(request, "visit_accounts")
    visit = _visit(user, key, "change")
    form = ReportForm(visit.industry, request.POST)
    if form.is_valid():
        try:
            services.visit_report_save(
                actor=Actor.of(request),
                visit=visit,
                base_version=form.cleaned_data["base_version"],
                notes=form.cleaned_data["notes"],
                report=form.report(),
                follow_ups=form.cleaned_data["follow_ups"],
            )
        except services.VisitConflict as conflict:
            return visit_detail(request, key, report_form=form, conflict=conflict.current)
        except InvalidInput as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Report saved."))
            return redirect("field:visit", key=key)
    return visit_detail(request, key, report_form=form)


def _place(request: HttpRequest) -> tuple[float | None, float | None]:
    form = PlaceForm(request.POST)
    if not form.is_valid():
        return None, None
    return form.cleaned_data["lat"], form.cleaned_data["lon"]


@login_required
@require_POST
def visit_check(request: HttpRequest, key: uuidlib.UUID, step: str) -> HttpResponse:
    """Check in, check out (completes the visit) or cancel."""
    user = _need(request, "visit_accounts")
    visit = _visit(user, key, "change")
    lat, lon = _place(request)
    actor = Actor.of(request)
    try:
        if step == "in":
            services.visit_check_in(actor=actor, visit=visit, lat=lat, lon=lon)
        elif step == "out":
            services.visit_check_out(actor=actor, visit=visit, lat=lat, lon=lon)
            messages.success(request, _("Visit completed."))
        else:
            services.visit_cancel(actor=actor, visit=visit)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("field:visit", key=key)


@login_required
@require_POST
def visit_deal(request: HttpRequest, key: uuidlib.UUID) -> HttpResponse:
    user = _need(request, "sell")
    visit = _visit(user, key, "change")
    form = _deal_form(user, visit, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("name"):
                services.visit_deal_create(
                    actor=Actor.of(request),
                    visit=visit,
                    name=data["name"],
                    amount=data["amount"] or 0,
                )
            else:
                deal = get_scoped(user, Deal, data["deal"], "change")
                services.visit_deal_advance(
                    actor=Actor.of(request), visit=visit, deal=deal, stage_id=data["stage"]
                )
        except InvalidInput as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("field:visit", key=key)
    return visit_detail(request, key, deal_form=form)


@login_required
@require_POST
def visit_attach(request: HttpRequest, key: uuidlib.UUID) -> HttpResponse:
    user = _need(request, "visit_accounts")
    visit = _visit(user, key, "change")
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > services.MAX_ATTACHMENT_BYTES:
            form.add_error("file", _("the file is larger than 10 MB"))
        else:
            try:
                services.attachment_add(
                    actor=Actor.of(request),
                    visit=visit,
                    name=upload.name,
                    content=upload.read(services.MAX_ATTACHMENT_BYTES + 1),
                )
            except InvalidInput as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Attached."))
                return redirect("field:visit", key=key)
    return visit_detail(request, key, attachment_form=form)


@login_required
def attachment_file(request: HttpRequest, key: uuidlib.UUID) -> HttpResponse:
    user = _need(request, "visit_accounts")
    from tandem.field.models import Attachment

    row = scoped(user, Attachment).filter(uuid=key).first()
    if row is None:
        raise Http404
    response = HttpResponse(row.file.read(), content_type=row.content_type)
    response["Content-Disposition"] = (
        "attachment" if row.content_type == "application/pdf" else "inline"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def follow_up_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = _need(request, "visit_accounts")
    row = get_scoped(user, FollowUp, pk, "change")
    services.follow_up_done(actor=Actor.of(request), follow_up=row)
    return redirect("field:today")


# --- calendar and routes -------------------------------------------------------------------


def _rep_choice(request: HttpRequest, user: User) -> User:
    rep_id = request.GET.get("rep", "")
    if re.fullmatch(r"[0-9]{1,18}", rep_id) and int(rep_id) != user.pk:
        if not can(user, "view_field_overview"):
            raise Http404
        rep = User.objects.filter(pk=int(rep_id), is_active=True).first()
        if rep is None:
            raise Http404
        return rep
    return user


FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def _day(text: str, default: dt.date) -> dt.date:
    """A day from the query string; anything else, or a day outside 2000-2100, is the default."""
    try:
        day = dt.date.fromisoformat(text) if text else default
    except ValueError:
        return default
    return day if FIRST_DAY <= day <= LAST_DAY else default


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """A rep's week (Monday to Sunday, in the user's time zone), and a form to plan a visit."""
    user = _need(request, "visit_accounts")
    rep = _rep_choice(request, user)
    day = _day(request.GET.get("week", ""), timezone.localdate())
    monday = day - dt.timedelta(days=day.weekday())
    form = VisitForm(request.POST or None, initial={"day": day, "start": "09:00", "end": "10:00"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        account = _account(user, data["account_name"])
        if account is None:
            form.add_error("account_name", _("no account of that name that you can see"))
        else:
            zone = timezone.get_current_timezone()
            try:
                services.visit_create(
                    actor=Actor.of(request),
                    account=account,
                    rep=rep if can(user, "manage_visit_plans") else user,
                    planned_start=dt.datetime.combine(data["day"], data["start"], tzinfo=zone),
                    planned_end=dt.datetime.combine(data["day"], data["end"], tzinfo=zone),
                )
            except InvalidInput as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Visit planned."))
                return redirect(
                    f"{reverse('field:calendar')}?week={data['day'].isoformat()}&rep={rep.pk}"
                )
    days = selectors.week_visits(scoped(user, Visit), rep.pk, monday)
    reps = (
        User.objects.filter(is_active=True, field_visits__isnull=False)
        .distinct()
        .order_by("username")
        if can(user, "view_field_overview")
        else []
    )
    return render(
        request,
        "field/calendar.html",
        {
            "rep": rep,
            "reps": reps,
            "days": days,
            "monday": monday,
            "previous": monday - dt.timedelta(days=7),
            "next": monday + dt.timedelta(days=7),
            "form": form,
            "today": timezone.localdate(),
        },
        status=400 if form.errors else 200,
    )


@login_required
def routes(request: HttpRequest) -> HttpResponse:
    """The rep's day in the solver's order, and the distance saved against the planned order;
    the rep's base (start and end point, working day) is set here."""
    user = _need(request, "visit_accounts")
    rep = _rep_choice(request, user)
    day = _day(request.GET.get("day", ""), timezone.localdate())
    base = RepBase.objects.filter(rep=rep).first()
    initial = (
        {"lat": base.lat, "lon": base.lon, "day_start": base.day_start, "day_end": base.day_end}
        if base
        else {"day_start": "08:00", "day_end": "18:00"}
    )
    form = BaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and rep == user and form.is_valid():
        try:
            services.rep_base_set(actor=Actor.of(request), rep=user, **form.cleaned_data)
        except InvalidInput as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Base saved."))
            return redirect(f"{reverse('field:routes')}?day={day.isoformat()}")
    route = selectors.day_route(scoped(user, Visit), rep.pk, day)
    return render(
        request,
        "field/routes.html",
        {
            "rep": rep,
            "day": day,
            "route": route,
            "form": form,
            "own": rep == user,
            "previous": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
        },
        status=400 if form.errors else 200,
    )


# --- the head's page ------------------------------------------------------------------------


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """For the head: visits per rep (90 days), coverage of every key account, tiers and plans."""
    user = _need(request, "view_field_overview")
    manage = can(user, "manage_visit_plans")
    tier_form = TierForm(request.POST if "tier" in request.POST else None, prefix="tier")
    plan_form = PlanForm(request.POST if "plan" in request.POST else None, prefix="plan")
    if request.method == "POST" and manage:
        try:
            if "tier" in request.POST and tier_form.is_valid():
                services.visit_tier_save(actor=Actor.of(request), **tier_form.cleaned_data)
                messages.success(request, _("Tier saved."))
                return redirect("field:overview")
            if "plan" in request.POST and plan_form.is_valid():
                data = plan_form.cleaned_data
                account = _account(user, data.pop("account_name"))
                if account is None:
                    plan_form.add_error("account_name", _("no account of that name"))
                else:
                    services.visit_plan_set(actor=Actor.of(request), account=account, **data)
                    messages.success(request, _("Plan saved."))
                    return redirect("field:overview")
        except InvalidInput as exc:
            _errors(tier_form if "tier" in request.POST else plan_form, exc)
    since = timezone.now() - dt.timedelta(days=90)
    coverage = selectors.coverage(plans=scoped(user, VisitPlan))
    return render(
        request,
        "field/overview.html",
        {
            "per_rep": selectors.visits_per_rep(scoped(user, Visit), since),
            "coverage": coverage,
            "due_count": sum(1 for row in coverage if row.due),
            "credit": selectors.field_credit(user),
            "tiers": scoped(user, VisitTier),
            "manage": manage,
            "tier_form": tier_form,
            "plan_form": plan_form,
        },
        status=400 if tier_form.errors or plan_form.errors else 200,
    )


@login_required
@require_POST
def plan_week(request: HttpRequest) -> HttpResponse:
    """Plan visits this week for the rep's due key accounts (the recurring plan)."""
    user = _need(request, "visit_accounts")
    today_ = timezone.localdate()
    monday = today_ - dt.timedelta(days=today_.weekday())
    start = dt.datetime.combine(monday, dt.time(9), tzinfo=timezone.get_current_timezone())
    made = services.visits_plan_due(
        actor=Actor.of(request), rep=user, week_start=start, length=dt.timedelta(hours=1)
    )
    messages.success(request, _("%(n)s visits planned.") % {"n": len(made)})
    return redirect("field:calendar")


# --- the installable web app ------------------------------------------------------------------


def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: installable, starting at today's plan, scoped to /field/."""
    response = JsonResponse(
        {
            "name": "Tandem Field",
            "short_name": "Field",
            "start_url": reverse("field:today"),
            "scope": reverse("field:today"),
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#1f5f8b",
            "icons": [{"src": static("favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
        }
    )
    response["Content-Type"] = "application/manifest+json"
    return response


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /field/ so that its scope covers the field pages."""
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    return response
