"""Scoring pages under /leads/scoring/: score groups, their rules (segment conditions), the
preview of the score distribution, switching on, background rescoring and predictive training
with progress, and the score block of the contact record. Thin: a form, a service, a template.

The contact's "Lead score" card is a crm record panel (`score_panel`, registered in
`LeadsConfig.ready`). Everything but the contact's score block needs the `manage_scoring`
capability; the block follows the contact's visibility. Long work (rescoring, training) is a
`ScoringJob`: a POST starts it and the page shows its state at once, polling while it runs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import User
from tandem.crm.models import Contact
from tandem.leads.models import (
    ContactScore,
    PredictiveModel,
    ScoreRule,
    ScoringJob,
    ScoringModel,
)
from tandem.leads.scoring import (
    predictive,
    score_rule_create,
    score_rule_delete,
    scoring_model_activate,
    scoring_model_create,
    scoring_model_update,
)
from tandem.leads.scoring.forms import (
    RULE_FIELD_ALIASES,
    ActivateForm,
    RuleForm,
    ScoringModelForm,
    SwitchOnForm,
    TrainForm,
)
from tandem.leads.scoring.jobs import STAGE_LABELS, scoring_job_start
from tandem.leads.scoring.preview import contact_reasons, score_preview
from tandem.marketing.selectors import contact_condition_catalogue, contact_condition_describe


def _manager(request: HttpRequest) -> User:
    user = request_user(request)
    if not can(user, "manage_scoring"):
        raise PermissionDenied
    return user


def rule_label(rule: ScoreRule, catalogue: dict[str, Any]) -> str:
    """A rule in words, in the active language."""
    if rule.field == "condition":
        return contact_condition_describe(rule.condition, catalogue)
    if rule.field == "touchpoint.kind":
        text = _("Each touchpoint “%(kind)s”") % {"kind": rule.value}
        if rule.channel:
            text += " " + _("on %(channel)s") % {"channel": rule.channel}
        return text
    key = f" [{rule.key}]" if rule.key else ""
    return f"{rule.get_field_display()}{key} {rule.get_operator_display()} {rule.value}"


def job_view(job: ScoringJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {"job": job, "stage": STAGE_LABELS.get(job.stage, job.stage)}


def _latest_job(model: ScoringModel, kind: str) -> ScoringJob | None:
    return model.jobs.filter(kind=kind).order_by("-created_at", "-id").first()


@login_required
@require_http_methods(["GET", "POST"])
def scoring_list(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    form = ScoringModelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                model = scoring_model_create(
                    actor=Actor(user=user), is_active=False, **form.cleaned_data
                )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Score group created. Add rules, then switch it on."))
                return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))
        status = 400
    groups = scoped(user, ScoringModel).order_by("product_line", "id")
    current = {
        p.scoring_model_id: p
        for p in scoped(user, PredictiveModel).filter(is_current=True, scoring_model__in=groups)
    }
    rows = [(g, g.n_rules, current.get(g.pk)) for g in groups.annotate(n_rules=Count("rules"))]
    return render(request, "leads/scoring/list.html", {"rows": rows, "form": form}, status=status)


def _detail_context(user: User, model: ScoringModel, **extra: Any) -> dict[str, Any]:
    catalogue = contact_condition_catalogue(user)
    rules = [(rule, rule_label(rule, catalogue)) for rule in model.rules.all()]
    candidates = list(
        scoped(user, PredictiveModel).filter(scoring_model=model).order_by("-trained_at", "-id")[:5]
    )
    context = {
        "group": model,
        "rules": rules,
        "rule_form": RuleForm(catalogue=catalogue),
        "settings_form": ScoringModelForm(
            initial={
                "name": model.name,
                "product_line": model.product_line,
                "mql_threshold": model.mql_threshold,
                "half_life_days": model.half_life_days,
            }
        ),
        "catalogue_fields": catalogue["fields"],
        "rescore": job_view(_latest_job(model, ScoringJob.Kind.RESCORE)),
        "training": job_view(_latest_job(model, ScoringJob.Kind.TRAIN)),
        "candidates": candidates,
    }
    context["settings_form"].fields["product_line"].disabled = True
    context.update(extra)
    return context


@login_required
@require_http_methods(["GET", "POST"])
def scoring_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    if request.method == "POST":
        form = ScoringModelForm(request.POST, initial={"product_line": model.product_line})
        form.fields["product_line"].disabled = True
        if form.is_valid():
            try:
                scoring_model_update(
                    actor=Actor(user=user),
                    scoring_model=model,
                    name=form.cleaned_data["name"],
                    mql_threshold=form.cleaned_data["mql_threshold"],
                    half_life_days=form.cleaned_data["half_life_days"],
                )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Saved. The scores change at the next rescoring."))
                return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))
        context = _detail_context(user, model, settings_form=form)
        return render(request, "leads/scoring/detail.html", context, status=400)
    return render(request, "leads/scoring/detail.html", _detail_context(user, model))


@login_required
@require_POST
def rule_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    form = RuleForm(request.POST, catalogue=contact_condition_catalogue(user))
    if form.is_valid():
        try:
            score_rule_create(actor=Actor(user=user), scoring_model=model, **form.service_data())
        except InvalidInput as exc:
            apply_invalid_input(form, exc, RULE_FIELD_ALIASES)
        else:
            messages.success(request, _("Rule added. Check the preview, then rescore."))
            return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))
    context = _detail_context(user, model, rule_form=form)
    return render(request, "leads/scoring/detail.html", context, status=400)


@login_required
@require_POST
def rule_delete(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    rule = model.rules.filter(pk=rule_id).first()
    if rule is not None:
        score_rule_delete(actor=Actor(user=user), rule=rule)
        messages.success(request, _("Rule removed."))
    return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))


@login_required
@require_GET
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The score distribution the rules would give today's contacts (an htmx fragment)."""
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    data = score_preview(model)
    peak = max((b["count"] for b in data["bins"]), default=0)
    return render(
        request, "leads/scoring/_preview.html", {"group": model, "preview": data, "peak": peak}
    )


@login_required
@require_POST
def activate(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    form = ActivateForm(request.POST)
    if form.is_valid():
        active = form.cleaned_data["active"]
        scoring_model_activate(actor=Actor(user=user), scoring_model=model, active=active)
        messages.success(
            request,
            _("Switched on: every contact is being scored in the background.")
            if active
            else _("Switched off: no more rescoring or hand-overs from this group."),
        )
    return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))


@login_required
@require_POST
def job_start(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Start a rescoring or a training (or find the one running) and show its state."""
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    if kind not in ScoringJob.Kind.values or not TrainForm(request.POST).is_valid():
        raise PermissionDenied
    job, created = scoring_job_start(actor=Actor(user=user), scoring_model=model, kind=kind)
    if not created:
        messages.info(request, _("This is already running; here is its progress."))
    if request.headers.get("HX-Request"):
        return render(request, "leads/scoring/_job.html", job_view(job) or {}, status=202)
    return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))


@login_required
@require_GET
def job_state(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's state (an htmx fragment polled while the job is queued or running)."""
    user = _manager(request)
    job = get_scoped(user, ScoringJob, job_id)
    return render(request, "leads/scoring/_job.html", job_view(job) or {})


@login_required
@require_POST
def switch_on(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    form = SwitchOnForm(request.POST)
    if form.is_valid():
        chosen = get_scoped(user, PredictiveModel, form.cleaned_data["predictive_model"])
        if chosen.scoring_model_id == model.pk:
            predictive.predictive_switch_on(actor=Actor(user=user), predictive_model=chosen)
            messages.success(request, _("The predictive model is on; probabilities are updating."))
    return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))


@login_required
@require_POST
def switch_off(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    model = get_scoped(user, ScoringModel, pk)
    if predictive.predictive_switch_off(actor=Actor(user=user), scoring_model=model):
        messages.success(request, _("The predictive model is off."))
    return HttpResponseRedirect(reverse("leads:scoring_detail", args=[model.pk]))


def score_panel(request: HttpRequest, record: Model) -> str:
    """The "Lead score" card on a contact's page (crm's record panels): it loads its content
    from `contact_score`, so the record page does not wait for the reasons to be worked out."""
    if not isinstance(record, Contact):
        return ""
    return render_to_string("leads/_contact_score_card.html", {"contact": record}, request=request)


@login_required
@require_GET
def contact_score(request: HttpRequest, pk: int) -> HttpResponse:
    """The contact record's score block: each active group's score and the rules behind it."""
    user = request_user(request)
    contact = get_scoped(user, Contact, pk)
    scores = {
        s.scoring_model_id: s
        for s in scoped(user, ContactScore).filter(contact=contact, scoring_model__is_active=True)
    }
    groups = scoped(user, ScoringModel).filter(pk__in=scores).order_by("product_line", "id")
    catalogue = contact_condition_catalogue(user) if scores else {}
    blocks = [
        {
            "group": group,
            "score": scores[group.pk],
            "reasons": [
                (rule_label(rule, catalogue), points)
                for rule, points in contact_reasons(contact.pk, group)
            ],
        }
        for group in groups
    ]
    return render(request, "leads/scoring/_contact_score.html", {"blocks": blocks})
