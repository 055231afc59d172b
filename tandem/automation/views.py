"""The automation pages: the flow list, the builder (diagram, step forms, publish, test
enrolment, counts, lift) and each enrolment's history. Thin: forms parse, services decide and
audit. Reading needs `view_automation`, every change `manage_automation` (403 otherwise). A flow
another app keeps (`Flow.managed_by`: a sales sequence's) is shown read-only, with a link to the
page where it is edited; the services refuse its changes (`owned_elsewhere`) shown as messages."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.automation import diagram, selectors, services
from tandem.automation import graph as g
from tandem.automation.forms import (
    AddStepForm,
    FlowSettingsForm,
    GraphForm,
    NewFlowForm,
    PolicyForm,
    TestEnrolForm,
    step_config,
    step_form,
)
from tandem.automation.library import TEMPLATES
from tandem.automation.lift import flow_lift
from tandem.automation.models import (
    Enrolment,
    EnrolmentStatus,
    Flow,
    FlowStatus,
    ManagedBy,
    Policy,
)
from tandem.core.access import can, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import Contact

DEFAULTS: dict[str, dict[str, Any]] = {
    "send_email": {"subject": "New email", "body": "Hello {first_name}"},
    "wait": {"days": 1},
    "wait_until": {"hour": 9},
    "wait_event": {"touchpoint_kind": "email_clicked", "timeout_days": 3},
    "update_field": {"field": "custom", "key": "flow", "value": "yes"},
    "set_stage": {"stage": "mql"},
    "add_to_list": {"segment_id": 0},
    "assign_owner": {"user_id": 0},
    "create_task": {"title": "Follow up with {first_name}"},
    "notify": {"user_id": 0, "text": "{first_name} reached this step"},
    "webhook": {"url": "https://example.com/hook"},
    "start_flow": {"flow_id": 0},
}


def _viewer(request: HttpRequest) -> Any:
    user = request_user(request)
    if not can(user, "view_automation"):
        raise PermissionDenied
    return user


def _editor(request: HttpRequest) -> Actor:
    user = request_user(request)
    if not can(user, "manage_automation"):
        raise PermissionDenied
    return Actor(user=user)


@login_required
def flow_list(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    policy = Policy.current()
    return render(
        request,
        "automation/flow_list.html",
        {
            "flows": Flow.objects.select_related("live_version").order_by("name", "id"),
            "new_form": NewFlowForm(),
            "policy_form": PolicyForm(
                initial={
                    "emails_per_window": policy.emails_per_window,
                    "window_days": policy.window_days,
                    "quiet_start": policy.quiet_start,
                    "quiet_end": policy.quiet_end,
                }
            ),
            "may_edit": can(user, "manage_automation"),
        },
    )


@login_required
@require_POST
def flow_new(request: HttpRequest) -> HttpResponse:
    actor = _editor(request)
    form = NewFlowForm(request.POST)
    if form.is_valid():
        build = TEMPLATES[form.cleaned_data["template"]][1]
        try:
            flow = services.flow_create(actor=actor, name=form.cleaned_data["name"], graph=build())
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            return redirect("automation:flow", flow.pk)
    messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("automation:flows")


@login_required
@require_POST
def policy_save(request: HttpRequest) -> HttpResponse:
    actor = _editor(request)
    form = PolicyForm(request.POST)
    if form.is_valid():
        services.policy_update(actor=actor, **form.cleaned_data)
        messages.success(request, _("Saved."))
    else:
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("automation:flows")


def _flow(pk: int) -> Flow:
    return get_object_or_404(Flow.objects.select_related("live_version"), pk=pk)


def manager_page(flow: Flow) -> str:
    """Where a flow another app keeps is edited (a sales sequence's page), or ""."""
    if flow.managed_by == ManagedBy.SALES_SEQUENCE:
        sequence = getattr(flow, "sequence", None)  # sales.Sequence.flow's reverse side
        if sequence is not None:
            return reverse("sales:sequence_detail", args=[sequence.pk])
    return ""


def _refused(request: HttpRequest, exc: InvalidInput) -> None:
    for problem in exc.errors.get("graph", [str(exc.message)]):
        messages.error(request, str(problem))


def _page(request: HttpRequest, flow: Flow, status: int = 200, **forms_: Any) -> HttpResponse:
    user = request_user(request)
    may_edit = can(user, "manage_automation")
    draft = services.draft_of(flow)
    editing = draft.pk is not None and draft.published_at is None
    try:
        graph = g.validate_graph(draft.graph)
    except g.GraphError:
        graph = None
    counts = selectors.step_counts(flow)
    steps = []
    if graph is not None:
        for node in graph.nodes:
            bound = forms_.get(f"step_{node.id}")
            steps.append(
                {
                    "node": node,
                    "kind_label": g.STEP_LABELS.get(node.kind, node.kind),
                    "form": bound or step_form(node.kind, initial=node.config),
                    "out": graph.out(node.id),
                    "entered": counts.get(node.id, (0, 0))[0],
                    "converted": counts.get(node.id, (0, 0))[1],
                }
            )
    enrolments = list(selectors.enrolments_for(user, flow)[:50])
    return render(
        request,
        "automation/flow_detail.html",
        {
            "flow": flow,
            "draft": draft,
            "editing": editing,
            "graph": graph,
            "diagram": diagram.layout(graph, counts) if graph else None,
            "steps": steps,
            "status_counts": [
                (EnrolmentStatus(key).label, n) for key, n in selectors.status_counts(flow).items()
            ],
            "trigger_label": g.TRIGGER_LABELS.get(graph.trigger.kind, "") if graph else "",
            "enrolments": enrolments,
            "lift": flow_lift(flow)
            if flow.holdout_percent or flow.enrolments.filter(status="held_out").exists()
            else None,
            "versions": flow.versions.order_by("-number")[:10],
            "webhook_secret": services.flow_webhook_secret(flow) if may_edit else "",
            "hook_url": request.build_absolute_uri(f"/api/v1/automation/flows/{flow.pk}/hook"),
            "settings_form": forms_.get("settings_form")
            or FlowSettingsForm(
                initial={
                    "name": flow.name,
                    "description": flow.description,
                    "reentry": flow.reentry,
                    "holdout_percent": flow.holdout_percent,
                }
            ),
            "graph_form": forms_.get("graph_form")
            or GraphForm(initial={"graph": json.dumps(draft.graph, indent=2, ensure_ascii=False)}),
            "add_form": forms_.get("add_form")
            or AddStepForm(node_ids=[n.id for n in graph.nodes] if graph else []),
            "test_form": forms_.get("test_form") or TestEnrolForm(),
            "may_edit": may_edit,
            # the graph, publishing, status and settings: not for a flow another app keeps
            "may_define": may_edit and not flow.managed_by,
            "managed_label": ManagedBy(flow.managed_by).label if flow.managed_by else "",
            "manager_url": manager_page(flow),
        },
        status=status,
    )


@login_required
def flow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    return _page(request, _flow(pk))


@login_required
@require_POST
def flow_settings(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    form = FlowSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.flow_update(actor=actor, flow=flow, **form.cleaned_data)
        except InvalidInput as exc:
            if exc.code == "owned_elsewhere":
                _refused(request, exc)
            else:
                apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Saved."))
            return redirect("automation:flow", flow.pk)
    return _page(request, flow, status=400, settings_form=form)


def _save_graph(
    request: HttpRequest, flow: Flow, actor: Actor, graph: dict[str, Any], **forms_: Any
) -> HttpResponse:
    try:
        services.flow_graph_save(actor=actor, flow=flow, graph=graph)
    except InvalidInput as exc:
        _refused(request, exc)
        return _page(request, flow, status=400, **forms_)
    messages.success(request, _("Saved as a draft: publish it to use it for new enrolments."))
    return redirect("automation:flow", flow.pk)


@login_required
@require_POST
def flow_graph(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    form = GraphForm(request.POST)
    if not form.is_valid():
        return _page(request, flow, status=400, graph_form=form)
    return _save_graph(request, flow, actor, form.cleaned_data["graph"], graph_form=form)


@login_required
@require_POST
def flow_step(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    data = json.loads(json.dumps(services.draft_of(flow).graph))
    node = next((n for n in data.get("nodes", []) if n.get("id") == node_id), None)
    if node is None:
        raise Http404
    form = step_form(node["kind"], data=request.POST)
    if not form.is_valid():
        return _page(request, flow, status=400, **{f"step_{node_id}": form})
    node["config"] = step_config(form)
    return _save_graph(request, flow, actor, data, **{f"step_{node_id}": form})


@login_required
@require_POST
def flow_step_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    data = json.loads(json.dumps(services.draft_of(flow).graph))
    ids = [n["id"] for n in data.get("nodes", [])]
    form = AddStepForm(request.POST, node_ids=ids)
    if not form.is_valid():
        return _page(request, flow, status=400, add_form=form)
    after, kind = form.cleaned_data["after"], form.cleaned_data["kind"]
    new_id = next(f"s{i}" for i in range(1, 1000) if f"s{i}" not in ids)
    data["nodes"].append({"id": new_id, "kind": kind, "config": DEFAULTS.get(kind, {})})
    edges = data.setdefault("edges", [])
    for edge in edges:
        if edge["source"] == after and edge.get("label", "next") == "next":
            edge["source"] = new_id
    edges.append({"source": after, "target": new_id, "label": "next"})
    return _save_graph(request, flow, actor, data, add_form=form)


@login_required
@require_POST
def flow_step_remove(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    data = json.loads(json.dumps(services.draft_of(flow).graph))
    if node_id not in {n["id"] for n in data.get("nodes", [])}:
        raise Http404
    edges = data.get("edges", [])
    following = [
        e["target"] for e in edges if e["source"] == node_id and e.get("label", "next") == "next"
    ]
    kept = []
    for edge in edges:
        if edge["source"] == node_id:
            continue
        if edge["target"] == node_id:
            if not following:
                continue
            edge["target"] = following[0]
        kept.append(edge)
    data["edges"] = kept
    data["nodes"] = [n for n in data["nodes"] if n["id"] != node_id]
    if data.get("entry") == node_id and following:
        data["entry"] = following[0]
    return _save_graph(request, flow, actor, data)


@login_required
@require_POST
def flow_publish(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    try:
        version = services.flow_publish(actor=actor, flow=flow)
    except InvalidInput as exc:
        _refused(request, exc)
        return _page(request, flow, status=400)
    messages.success(request, _("Version %(n)d is live.") % {"n": version.number})
    return redirect("automation:flow", flow.pk)


@login_required
@require_POST
def flow_status(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    status = request.POST.get("status", "")
    if status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED, FlowStatus.ARCHIVED):
        return _page(request, flow, status=400)
    try:
        services.flow_set_status(actor=actor, flow=flow, status=status)
    except InvalidInput as exc:
        _refused(request, exc)
        return _page(request, flow, status=400)
    return redirect("automation:flow", flow.pk)


@login_required
@require_POST
def flow_test_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    flow = _flow(pk)
    form = TestEnrolForm(request.POST)
    if form.is_valid():
        contact = (
            scoped(actor.user, Contact).filter(email__iexact=form.cleaned_data["email"]).first()
        )
        if contact is None:
            form.add_error("email", _("No contact you can see has this email."))
        else:
            try:
                enrolment = services.enrol_test(actor=actor, flow=flow, contact=contact)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Enrolled: the first step runs within a minute."))
                return redirect("automation:enrolment", enrolment.pk)
    return _page(request, flow, status=400, test_form=form)


@login_required
def enrolment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    enrolment = get_object_or_404(
        Enrolment.objects.select_related("flow", "version", "contact").filter(
            contact__in=scoped(user, Contact)
        ),
        pk=pk,
    )
    steps = enrolment.steps.select_related("message").order_by("seq")
    return render(
        request,
        "automation/enrolment_detail.html",
        {"enrolment": enrolment, "steps": steps, "may_edit": can(user, "manage_automation")},
    )


@login_required
@require_POST
def enrolment_exit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _editor(request)
    enrolment = get_object_or_404(
        Enrolment.objects.filter(contact__in=scoped(actor.user, Contact)), pk=pk
    )
    services.enrolment_exit(actor=actor, enrolment=enrolment)
    return redirect("automation:enrolment", enrolment.pk)
