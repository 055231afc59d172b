"""The pipelines settings page: every pipeline with its stages, and a new pipeline with its
stages as rows. Thin: the forms parse, `services.pipeline_create` decides and audits. The page
needs the `manage_catalogue` capability (the sales set-up: pipelines, products, price lists)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tandem.core.access import can, request_user
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.sales import services
from tandem.sales.forms import STAGE_ROWS_INITIAL, PipelineForm, StageRowFormSet, stage_rows
from tandem.sales.models import Pipeline

CAPABILITY = "manage_catalogue"


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_settings(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not can(user, CAPABILITY):
        raise PermissionDenied
    first = not Pipeline.objects.exists()
    form = PipelineForm(request.POST or None, initial={"is_default": first})
    rows = StageRowFormSet(
        request.POST or None, initial=None if request.POST else STAGE_ROWS_INITIAL, prefix="stages"
    )
    status = 200
    if request.method == "POST":
        if form.is_valid() and rows.is_valid():
            try:
                pipeline = services.pipeline_create(
                    actor=Actor(user=user),
                    name=form.cleaned_data["name"],
                    is_default=form.cleaned_data["is_default"],
                    stages=stage_rows(rows),
                )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {"stages": "__all__"})
            else:
                messages.success(request, _("Pipeline %(name)s created.") % {"name": pipeline.name})
                return redirect("sales:pipeline_settings")
        status = 400
    context: dict[str, Any] = {
        "pipelines": Pipeline.objects.prefetch_related("stages").order_by("position", "id"),
        "form": form,
        "rows": rows,
    }
    return render(request, "sales/pipelines.html", context, status=status)
