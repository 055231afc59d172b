"""The lead-rule page of an event (or of every event of a kind): marketers, the head and admins.
GET shows the rule, POST saves it (CSRF) or runs it now. Thin: parse, call `events.rules`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tandem.core.access import get_scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import LifecycleStage
from tandem.leads.models import ScoringModel
from tandem.marketing.events import rules
from tandem.marketing.events.forms import LeadRuleForm, LeadRuleRunForm
from tandem.marketing.events.models import (
    EventKind,
    EventLeadOutcome,
    EventLeadRule,
    MarketingEvent,
    RegistrationStatus,
)
from tandem.marketing.scopes import marketer
from tandem.marketing.validation import form_errors


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
