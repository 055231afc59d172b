"""The programmes pages: the head's overview, trainings and sessions, field trials, loyalty
(programmes, members, statements, rewards and their approval) and medical compliance, plus the
public certificate check. Thin: a form parses, a service decides and audits, a page renders.

Every page needs `view_programmes`; writes ask `run_programmes`, `manage_loyalty` or
`manage_compliance`; records bound to an account are read through `scoped` (404 when invisible).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.exports import record_export, to_csv
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import Contact
from tandem.programmes import compliance, forms, loyalty, selectors, trainings, trials
from tandem.programmes.models import (
    Attendance,
    ComplianceRule,
    Curriculum,
    FieldTrial,
    LoyaltyProgramme,
    Membership,
    PointsEntry,
    Redemption,
    RedemptionStatus,
    TrainingSession,
    TransferOfValue,
    TrialPlot,
)
from tandem.sales.models import Product


def _actor(request: HttpRequest, capability: str = "view_programmes") -> Actor:
    user = request_user(request)
    if not can(user, "view_programmes") or not can(user, capability):
        raise PermissionDenied
    return Actor(user=user)


def _attempt(form: Any, call: Callable[[], object]) -> bool:
    """Run a service for a valid form; put its InvalidInput on the form. True when it worked."""
    if not form.is_valid():
        return False
    try:
        call()
    except InvalidInput as exc:
        apply_invalid_input(form, exc, {})
        return False
    return True


def _record_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int, error: Any
) -> HttpResponse:
    """A session's or a trial's page: its records and forms, the message of an action just
    refused (`error`, or None) and whether the viewer runs programmes (and so sees the forms)."""
    user = request_user(request)
    context = {**context, "error": error, "can_run": can(user, "run_programmes")}
    return render(request, template, context, status=status)


def _csv(name: str, rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the head's overview ----------------------------------------------------------------------


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    user = request_user(request)
    since = selectors.window_start()
    return render(
        request,
        "programmes/overview.html",
        {
            "reach": selectors.training_reach(user, since),
            "results": selectors.trial_results(user),
            "economics": selectors.loyalty_economics(user, since),
            "pending": scoped(actor.user, Redemption)
            .filter(status=RedemptionStatus.REQUESTED)
            .count(),
        },
    )


# --- trainings --------------------------------------------------------------------------------


def _trainings_page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    user = request_user(request)
    sessions = (
        scoped(user, TrainingSession)
        .select_related("curriculum", "host_account")
        .annotate(
            n_attended=Count("attendances", filter=Q(attendances__status="attended")),
            n_registered=Count("attendances"),
        )[:100]
    )
    return render(
        request,
        "programmes/trainings.html",
        {
            "curricula": scoped(user, Curriculum).select_related("product"),
            "sessions": sessions,
            "curriculum_form": forms_.get("curriculum_form")
            or forms.CurriculumForm(prefix="curriculum", user=user),
            "session_form": forms_.get("session_form")
            or forms.SessionForm(prefix="session", user=user),
        },
        status=status,
    )


@login_required
def training_list(request: HttpRequest) -> HttpResponse:
    _actor(request)
    return _trainings_page(request)


@login_required
@require_POST
def curriculum_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    form = forms.CurriculumForm(request.POST, prefix="curriculum", user=request_user(request))

    def call() -> None:
        trainings.curriculum_create(actor=actor, **form.cleaned_data)

    if _attempt(form, call):
        messages.success(request, _("Curriculum created."))
        return redirect("programmes:trainings")
    return _trainings_page(request, status=400, curriculum_form=form)


@login_required
@require_POST
def session_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    form = forms.SessionForm(request.POST, prefix="session", user=request_user(request))
    created: list[TrainingSession] = []

    def call() -> None:
        created.append(trainings.session_create(actor=actor, **form.cleaned_data))

    if _attempt(form, call):
        messages.success(request, _("Session planned."))
        return redirect("programmes:session", pk=created[0].pk)
    return _trainings_page(request, status=400, session_form=form)


@login_required
def session_detail(request: HttpRequest, pk: int, status: int = 200, **forms_: Any) -> HttpResponse:
    """A session with its attendances and forms; shown again (400) by an action it refused."""
    _actor(request)
    user = request_user(request)
    session = get_scoped(user, TrainingSession, pk)
    attendances = (
        scoped(user, Attendance).filter(session=session).select_related("contact", "account")
    )
    return _record_page(
        request,
        "programmes/session.html",
        {
            "session": session,
            "attendances": attendances,
            "hidden": session.attendances.count() - attendances.count(),
            "attendee_form": forms_.get("attendee_form") or forms.AttendeeForm(user=user),
            "assessment_form": forms.AssessmentForm(),
        },
        status=status,
        error=forms_.get("error"),
    )


@login_required
@require_POST
def attendee_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    session = get_scoped(actor.user, TrainingSession, pk)
    form = forms.AttendeeForm(request.POST, user=request_user(request))

    def call() -> None:
        trainings.attendee_register(
            actor=actor, session_id=session.pk, contact=form.cleaned_data["contact"]
        )

    if _attempt(form, call):
        return redirect("programmes:session", pk=session.pk)
    return session_detail(request, pk, status=400, attendee_form=form)


@login_required
@require_POST
def attendance_update(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    attendance = get_scoped(actor.user, Attendance, pk, "change")
    try:
        if what in ("attended", "no_show"):
            trainings.attendance_mark(
                actor=actor, attendance_id=attendance.pk, attended=what == "attended"
            )
        elif what == "score":
            form = forms.AssessmentForm(request.POST)
            if not form.is_valid():
                raise InvalidInput(_("A score is between 0 and 100."))
            trainings.assessment_record(
                actor=actor, attendance_id=attendance.pk, score=form.cleaned_data["score"]
            )
        else:
            raise Http404
    except InvalidInput as exc:
        return session_detail(request, attendance.session_id, status=400, error=exc.message)
    return redirect("programmes:session", pk=attendance.session_id)


def _certificate(token: str) -> Attendance:
    if len(token) > 64:
        raise Http404
    return get_object_or_404(
        Attendance.objects.select_related("contact", "session__curriculum__product"),
        certificate_token=token,
        passed=True,
    )


def certificate_verify(request: HttpRequest, token: str) -> HttpResponse:
    """Public: whether a certificate is genuine and still valid (no sign-in; the token is the
    key, so the page shows only what the certificate itself says)."""
    attendance = _certificate(token)
    response = render(
        request,
        "programmes/certificate.html",
        {"attendance": attendance, "valid": trainings.certificate_valid(attendance)},
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


def certificate_pdf(request: HttpRequest, token: str) -> HttpResponse:
    attendance = _certificate(token)
    url = request.build_absolute_uri(trainings.verify_path(attendance))
    response = HttpResponse(
        trainings.certificate_pdf(attendance, url), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="certificate-{attendance.pk}.pdf"'
    response["X-Robots-Tag"] = "noindex"
    return response


# --- field trials -----------------------------------------------------------------------------


def _trials_page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    user = request_user(request)
    return render(
        request,
        "programmes/trials.html",
        {
            "results": selectors.trial_results(user),
            "trial_form": forms_.get("trial_form") or forms.TrialForm(user=user),
            "can_run": can(user, "run_programmes"),
        },
        status=status,
    )


@login_required
def trial_list(request: HttpRequest) -> HttpResponse:
    _actor(request)
    return _trials_page(request)


@login_required
@require_POST
def trial_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    form = forms.TrialForm(request.POST, user=request_user(request))
    created: list[FieldTrial] = []

    def call() -> None:
        created.append(trials.trial_create(actor=actor, **form.cleaned_data))

    if _attempt(form, call):
        return redirect("programmes:trial", pk=created[0].pk)
    return _trials_page(request, status=400, trial_form=form)


@login_required
def trial_detail(request: HttpRequest, pk: int, status: int = 200, **forms_: Any) -> HttpResponse:
    """A trial with its plots, difference and forms; shown again (400) by an action it refused."""
    _actor(request)
    user = request_user(request)
    trial = get_scoped(user, FieldTrial, pk)
    plots = list(trial.plots.all())
    return _record_page(
        request,
        "programmes/trial.html",
        {
            "trial": trial,
            "plots": plots,
            "difference": trials.trial_difference(plots),
            "plot_form": forms_.get("plot_form") or forms.PlotForm(),
            "harvest_form": forms.HarvestForm(),
        },
        status=status,
        error=forms_.get("error"),
    )


@login_required
@require_POST
def plot_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    trial = get_scoped(actor.user, FieldTrial, pk, "change")
    form = forms.PlotForm(request.POST)
    if _attempt(form, lambda: trials.plot_add(actor=actor, trial=trial, **form.cleaned_data)):
        return redirect("programmes:trial", pk=trial.pk)
    return trial_detail(request, pk, status=400, plot_form=form)


@login_required
@require_POST
def plot_harvest(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    plot = get_scoped(actor.user, TrialPlot, pk, "change")
    form = forms.HarvestForm(request.POST)
    if _attempt(
        form, lambda: trials.plot_harvest(actor=actor, plot_id=plot.pk, **form.cleaned_data)
    ):
        return redirect("programmes:trial", pk=plot.trial_id)
    return trial_detail(
        request, plot.trial_id, status=400, error=_("Enter the harvest date and yield.")
    )


@login_required
def trial_results_export(request: HttpRequest, product_id: int) -> HttpResponse:
    """The trials of a product as CSV, with the summary marketing can quote as the last row."""
    actor = _actor(request, "export")
    product = get_object_or_404(Product, pk=product_id)
    visible = (
        scoped(actor.user, FieldTrial)
        .filter(product=product)
        .select_related("account")
        .prefetch_related("plots")
    )
    results = trials.product_results(product, list(visible))
    rows = trials.results_rows(results)
    rows.append([])
    rows.append([trials.results_summary(results)])
    record_export(
        actor=actor, model=FieldTrial, fmt="csv", rows=len(results.trials), source=product
    )
    return _csv(f"trials-{product.sku}.csv", rows)


# --- loyalty ----------------------------------------------------------------------------------


@login_required
def loyalty_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = forms.ProgrammeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can(actor.user, "manage_loyalty"):
            raise PermissionDenied
        created: list[LoyaltyProgramme] = []
        if _attempt(
            form, lambda: created.append(loyalty.programme_create(actor=actor, **form.cleaned_data))
        ):
            return redirect("programmes:programme", pk=created[0].pk)
        status = 400
    return render(
        request,
        "programmes/loyalty.html",
        {
            "programmes": scoped(actor.user, LoyaltyProgramme).annotate(n_members=Count("members")),
            "form": form,
            "can_manage": can(actor.user, "manage_loyalty"),
        },
        status=status,
    )


PROGRAMME_FORMS: dict[str, type[Any]] = {
    "rule": forms.EarningRuleForm,
    "tier": forms.TierForm,
    "reward": forms.RewardForm,
    "enrol": forms.EnrolForm,
}


def _programme_form(which: str, user: Any, data: Any = None) -> Any:
    """One of a programme page's forms; the enrolment's account picker is the viewer's."""
    picks = {"user": user} if issubclass(PROGRAMME_FORMS[which], forms.PickingForm) else {}
    return PROGRAMME_FORMS[which](data, prefix=which, **picks)


@login_required
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    programme = get_scoped(actor.user, LoyaltyProgramme, pk)
    bound = {name: _programme_form(name, request_user(request)) for name in PROGRAMME_FORMS}
    status = 200
    if request.method == "POST":
        which = request.POST.get("form", "")
        if which not in PROGRAMME_FORMS:
            raise Http404
        needed = "run_programmes" if which == "enrol" else "manage_loyalty"
        if not can(actor.user, needed):
            raise PermissionDenied
        form = bound[which] = _programme_form(which, request_user(request), request.POST)

        def call() -> None:
            data = dict(form.cleaned_data)
            if which == "rule":
                loyalty.earning_rule_create(actor=actor, programme=programme, **data)
            elif which == "tier":
                loyalty.tier_create(actor=actor, programme=programme, **data)
            elif which == "reward":
                loyalty.reward_create(actor=actor, programme=programme, **data)
            else:
                loyalty.member_enrol(actor=actor, programme=programme, **data)

        if _attempt(form, call):
            messages.success(request, _("Saved."))
            return redirect("programmes:programme", pk=programme.pk)
        status = 400
    members = (
        scoped(actor.user, Membership).filter(programme=programme).select_related("account", "tier")
    )
    pending = (
        scoped(actor.user, Redemption)
        .filter(membership__programme=programme, status=RedemptionStatus.REQUESTED)
        .select_related("membership__account", "reward")
    )
    rewards = list(programme.rewards.all())
    for reward in rewards:
        reward.taken = loyalty.places_taken(reward)  # type: ignore[attr-defined]
    return render(
        request,
        "programmes/programme.html",
        {
            "programme": programme,
            "rules": programme.rules.select_related("product"),
            "tiers": programme.tiers.all(),
            "rewards": rewards,
            "members": members,
            "pending": pending,
            "forms": bound,
            "reject_form": forms.RejectForm(),
            "can_manage": can(actor.user, "manage_loyalty"),
            "can_run": can(actor.user, "run_programmes"),
            "today": timezone.localdate(),
        },
        status=status,
    )


@login_required
@require_POST
def programme_sync(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "manage_loyalty")
    get_scoped(actor.user, LoyaltyProgramme, pk)
    written = loyalty.loyalty_sync(actor=actor)
    messages.success(request, _("%(n)d earnings recorded.") % {"n": written})
    return redirect("programmes:programme", pk=pk)


@login_required
@require_POST
def redemption_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    actor = _actor(request, "manage_loyalty")
    redemption = get_scoped(actor.user, Redemption, pk)
    try:
        if decision == "approve":
            loyalty.redemption_approve(actor=actor, redemption_id=redemption.pk)
            messages.success(request, _("Approved."))
        elif decision == "reject":
            form = forms.RejectForm(request.POST)
            if not form.is_valid():
                raise InvalidInput(_("Give a reason."))
            loyalty.redemption_reject(
                actor=actor, redemption_id=redemption.pk, reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Rejected; the points are back."))
        else:
            raise Http404
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("programmes:programme", pk=redemption.membership.programme_id)


def _period(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        start = today.replace(month=1, day=1)
    try:
        end = dt.date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        end = today
    return start, max(start, end)


def _redeem_form(user: Any, membership: Membership, data: Any = None) -> forms.RedeemForm:
    return forms.RedeemForm(
        data, user=user, programme=membership.programme, account_id=membership.account_id
    )


def _member_page(request: HttpRequest, pk: int, status: int = 200, **forms_: Any) -> HttpResponse:
    user = request_user(request)
    membership = get_scoped(user, Membership, pk)
    start, end = _period(request)
    return render(
        request,
        "programmes/member.html",
        {
            "membership": membership,
            "statement": loyalty.statement(membership, start, end),
            "redemptions": membership.redemptions.select_related("reward"),
            "redeem_form": forms_.get("redeem_form") or _redeem_form(user, membership),
            "referral_form": forms_.get("referral_form") or forms.ReferralForm(user=user),
            "people": Contact.objects.filter(account_id=membership.account_id).values_list(
                "pk", "first_name", "last_name"
            )[:50],
            "can_run": can(user, "run_programmes"),
            "can_manage": can(user, "manage_loyalty"),
        },
        status=status,
    )


@login_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _actor(request)
    return _member_page(request, pk)


@login_required
def member_statement_export(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "export")
    membership = get_scoped(actor.user, Membership, pk)
    start, end = _period(request)
    st = loyalty.statement(membership, start, end)
    rows: list[list[Any]] = [["date", "kind", "points", "balance", "note"]]
    rows.append([start, _("opening balance"), "", st.opening, ""])
    for entry in st.entries:
        rows.append(
            [
                entry.occurred_at,
                entry.get_kind_display(),
                entry.points,
                entry.balance_after,
                entry.note,
            ]
        )
    rows.append([end, _("closing balance"), "", st.closing, ""])
    record_export(
        actor=actor, model=PointsEntry, fmt="csv", rows=len(st.entries), source=membership
    )
    return _csv(f"statement-{membership.pk}-{start}-{end}.csv", rows)


@login_required
@require_POST
def member_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    membership = get_scoped(actor.user, Membership, pk, "change")
    form = _redeem_form(request_user(request), membership, request.POST)

    def call() -> None:
        loyalty.redemption_request(
            actor=actor,
            membership_id=membership.pk,
            reward_id=form.cleaned_data["reward"].pk,
            quantity=form.cleaned_data["quantity"],
            travellers=form.cleaned_data["travellers"],
        )

    if _attempt(form, call):
        messages.success(request, _("Requested; it awaits approval."))
        return redirect("programmes:member", pk=membership.pk)
    return _member_page(request, pk, status=400, redeem_form=form)


@login_required
@require_POST
def member_referral(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "run_programmes")
    membership = get_scoped(actor.user, Membership, pk, "change")
    form = forms.ReferralForm(request.POST, user=request_user(request))

    def call() -> None:
        referred = form.cleaned_data["account"]
        if (
            loyalty.referral_record(actor=actor, membership_id=membership.pk, referred=referred)
            is None
        ):
            raise InvalidInput(_("No referral points: no rule, or this period's cap is reached."))

    if _attempt(form, call):
        messages.success(request, _("Referral recorded."))
        return redirect("programmes:member", pk=membership.pk)
    return _member_page(request, pk, status=400, referral_form=form)


@login_required
@require_POST
def entry_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "manage_loyalty")
    entry = get_scoped(actor.user, PointsEntry, pk)
    try:
        if entry.source_key.startswith("deal_line:"):
            loyalty.purchase_refund(actor=actor, deal_line_id=int(entry.source_key.split(":")[1]))
        else:
            loyalty.points_reverse(actor=actor, entry_id=entry.pk, note=_("Reversed by hand"))
        messages.success(request, _("Reversed."))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("programmes:member", pk=entry.membership_id)


# --- compliance -------------------------------------------------------------------------------


@login_required
def compliance_page(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, "manage_compliance")
    rule_form = forms.RuleForm(prefix="rule")
    transfer_form = forms.TransferForm(prefix="transfer", user=request_user(request))
    status = 200
    if request.method == "POST":
        which = request.POST.get("form")
        if which == "rule":
            rule_form = forms.RuleForm(request.POST, prefix="rule")
            ok = _attempt(
                rule_form, lambda: compliance.rule_create(actor=actor, **rule_form.cleaned_data)
            )
        elif which == "transfer":
            transfer_form = forms.TransferForm(
                request.POST, prefix="transfer", user=request_user(request)
            )
            ok = _attempt(
                transfer_form,
                lambda: compliance.transfer_record(actor=actor, **transfer_form.cleaned_data),
            )
        else:
            raise Http404
        if ok:
            messages.success(request, _("Saved."))
            return redirect("programmes:compliance")
        status = 400
    return render(
        request,
        "programmes/compliance.html",
        {
            "rules": ComplianceRule.objects.all(),
            "transfers": scoped(actor.user, TransferOfValue).select_related("account", "contact")[
                :200
            ],
            "rule_form": rule_form,
            "transfer_form": transfer_form,
            "year": timezone.localdate().year,
        },
        status=status,
    )


@login_required
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, "manage_compliance")
    rule = get_object_or_404(ComplianceRule, pk=pk)
    compliance.rule_set_active(actor=actor, rule_id=rule.pk, active=not rule.active)
    return redirect("programmes:compliance")


@login_required
def disclosure_export(request: HttpRequest, report: str) -> HttpResponse:
    actor = _actor(request, "manage_compliance")
    try:
        year = int(request.GET.get("year", timezone.localdate().year))
    except ValueError:
        year = timezone.localdate().year
    if not 1900 <= year <= 2200:
        year = timezone.localdate().year
    if report == "efpia":
        rows = compliance.efpia_rows(year=year, country=request.GET.get("country", "")[:2])
    elif report == "open-payments":
        rows = compliance.open_payments_rows(year=year)
    else:
        raise Http404
    record_export(
        actor=actor,
        model=TransferOfValue,
        fmt="csv",
        rows=len(rows) - 1,
        filters={"report": report, "year": year},
    )
    return _csv(f"{report}-{year}.csv", rows)
