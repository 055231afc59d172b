"""The channel rules page: the rules in force, publishing a new version, and the progress of the
reclassification it starts (polled with htmx), with Cancel and Restart.

Thin: parse the request, call `tandem.tracking.services`, render. Only people who may edit the
rules (`scopes.may_edit_channel_rules`: head, admin) get here; anyone else gets a 403.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.tracking import services
from tandem.tracking.channels import RULE_FIELDS, default_rule_dicts
from tandem.tracking.forms import PublishForm
from tandem.tracking.models import ChannelRule, ChannelRuleSet, ReclassifyRun
from tandem.tracking.scopes import may_edit_channel_rules

HISTORY = 10


def _editor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_edit_channel_rules(user):
        raise PermissionDenied
    return user


def _rules_json(ruleset: ChannelRuleSet | None) -> str:
    if ruleset is None:
        rules: list[dict[str, Any]] = default_rule_dicts()
    else:
        rules = list(
            ChannelRule.objects.filter(ruleset=ruleset)
            .order_by("position")
            .values(*RULE_FIELDS, "channel", "department")
        )
    compact = [{k: v for k, v in r.items() if v} for r in rules]
    return json.dumps(compact, indent=1, ensure_ascii=False)


def _progress_context(user: User) -> dict[str, Any]:
    run = scoped(user, ReclassifyRun).first()
    latest = scoped(user, ChannelRuleSet).order_by("-version").first()
    version = latest.version if latest else 0
    restartable = run is None or not run.is_active or run.version != version
    return {"run": run, "version": version, "restartable": restartable}


@login_required
@require_http_methods(["GET", "POST"])
def channel_rules(request: HttpRequest) -> HttpResponse:
    user = _editor(request)
    latest = scoped(user, ChannelRuleSet).order_by("-version").select_related("created_by").first()
    form = PublishForm(request.POST or None, initial={"rules": _rules_json(latest)})
    if request.method == "POST" and form.is_valid():
        try:
            published = services.channel_rules_publish(
                actor=Actor(user=user),
                rules=form.cleaned_data["rules"],
                note=form.cleaned_data["note"],
            )
        except InvalidInput as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(None, f"{field}: {error}")
        else:
            messages.success(
                request,
                _("Version %(version)s is in force; past touchpoints are being reclassified.")
                % {"version": published.version},
            )
            return redirect("tracking:channel_rules")
    rules = (
        list(ChannelRule.objects.filter(ruleset=latest).order_by("position"))
        if latest
        else [ChannelRule(position=i, **r) for i, r in enumerate(default_rule_dicts())]
    )
    context = {
        "form": form,
        "ruleset": latest,
        "rules": rules,
        "runs": scoped(user, ReclassifyRun).select_related("created_by")[:HISTORY],
        **_progress_context(user),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "tracking/channel_rules.html", context, status=status)


@login_required
@require_GET
def reclassify_progress(request: HttpRequest) -> HttpResponse:
    user = _editor(request)
    return render(request, "tracking/_reclassify.html", _progress_context(user))


@login_required
@require_POST
def reclassify_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _editor(request)
    run = get_scoped(user, ReclassifyRun, pk, "change")
    try:
        services.reclassify_cancel(actor=Actor(user=user), run=run)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, _("The reclassification stops after the chunk it is working on."))
    return redirect("tracking:channel_rules")


@login_required
@require_POST
def reclassify_restart(request: HttpRequest) -> HttpResponse:
    user = _editor(request)
    try:
        services.reclassify_start(actor=Actor(user=user))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Reclassification restarted."))
    return redirect("tracking:channel_rules")
