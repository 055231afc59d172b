"""The channel rules page: the rules in force in a structured editor, a preview of what edited
rules would change, publishing a new version, and the progress of the reclassification it starts
(polled with htmx), with Cancel and Restart.

Thin: parse the request, call `tandem.tracking.services`, render. Only people who may edit the
rules (`scopes.may_edit_channel_rules`: head, admin) get here; anyone else gets a 403.
"""

from __future__ import annotations

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
from tandem.tracking.forms import ChannelRuleFormSet, RulesActionForm, rule_rows
from tandem.tracking.models import ChannelRule, ChannelRuleSet, ReclassifyRun
from tandem.tracking.scopes import may_edit_channel_rules

HISTORY = 10


def _editor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_edit_channel_rules(user):
        raise PermissionDenied
    return user


def _rules_in_force(ruleset: ChannelRuleSet | None) -> list[dict[str, Any]]:
    if ruleset is None:
        return default_rule_dicts()
    return list(
        ChannelRule.objects.filter(ruleset=ruleset)
        .order_by("position")
        .values(*RULE_FIELDS, "channel", "department")
    )


def _progress_context(user: User) -> dict[str, Any]:
    run = scoped(user, ReclassifyRun).first()
    latest = scoped(user, ChannelRuleSet).order_by("-version").first()
    version = latest.version if latest else 0
    restartable = run is None or not run.is_active or run.version != version
    return {"run": run, "version": version, "restartable": restartable}


def _editor_formset(rules: list[dict[str, Any]]) -> Any:
    return ChannelRuleFormSet(initial=rules, prefix="rules")


def _moved(rows: list[tuple[int, dict[str, str]]], move: str) -> list[dict[str, str]]:
    """The rules with the row at form index `move` ("up-3", "down-0") swapped with its
    neighbour; unchanged at either end."""
    direction, _sep, number = move.partition("-")
    rules = [rule for _index, rule in rows]
    positions = [index for index, _rule in rows]
    if int(number) in positions:
        at = positions.index(int(number))
        other = at - 1 if direction == "up" else at + 1
        if 0 <= other < len(rules):
            rules[at], rules[other] = rules[other], rules[at]
    return rules


@login_required
@require_http_methods(["GET", "POST"])
def channel_rules(request: HttpRequest) -> HttpResponse:
    """The rules in force as a structured editor (one row per rule, first match wins; move a
    row up or down, delete it, add one), a preview of what the edited rules would change among
    recent touchpoints (nothing written), and publishing them (reclassification follows in the
    background, its progress below)."""
    user = _editor(request)
    latest = scoped(user, ChannelRuleSet).order_by("-version").select_related("created_by").first()
    status = 200
    preview = None
    action = RulesActionForm(request.POST or None)
    if request.method == "GET":
        formset = _editor_formset(_rules_in_force(latest))
    else:
        formset = ChannelRuleFormSet(request.POST, prefix="rules")
        if not (action.is_valid() and formset.is_valid()):
            status = 400
        else:
            rows = rule_rows(formset)
            move = action.cleaned_data["move"]
            if move:
                formset = _editor_formset(_moved(rows, move))
            elif action.cleaned_data["action"] == "publish":
                try:
                    published = services.channel_rules_publish(
                        actor=Actor(user=user),
                        rules=[rule for _index, rule in rows],
                        note=action.cleaned_data["note"],
                    )
                except InvalidInput as exc:
                    _show_rule_errors(formset, action, rows, exc)
                    status = 400
                else:
                    text = _(
                        "Version %(version)s is in force; past touchpoints are being reclassified."
                    )
                    messages.success(request, text % {"version": published.version})
                    return redirect("tracking:channel_rules")
            else:
                try:
                    preview = services.channel_rules_preview(rules=[rule for _index, rule in rows])
                except InvalidInput as exc:
                    _show_rule_errors(formset, action, rows, exc)
                    status = 400
    context = {
        "formset": formset,
        "action_form": action,
        "preview": preview,
        "ruleset": latest,
        "runs": scoped(user, ReclassifyRun).select_related("created_by")[:HISTORY],
        **_progress_context(user),
    }
    return render(request, "tracking/channel_rules.html", context, status=status)


def _show_rule_errors(
    formset: Any, action: RulesActionForm, rows: list[tuple[int, dict[str, str]]], exc: Any
) -> None:
    """The service's `rules.<n>.<field>` errors on the row and field they name."""
    for key, errors in exc.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[1].isdigit() and 1 <= int(parts[1]) <= len(rows):
            row = formset.forms[rows[int(parts[1]) - 1][0]]
            field = parts[2] if parts[2] in row.fields else None
            for error in errors:
                row.add_error(field, error)
        else:
            for error in errors:
                action.add_error(None, error)


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
