"""The tracking set-up pages under /settings/tracking/: sources and their write keys, website
forms (fields, consent wording, embed snippet) and tracked links, each with its counts.

Thin: parse the request with a Django form, call the one service of the operation, render.
Only holders of `manage_tracking` get here (anyone else: 403). A write key appears in exactly one
answer, the one that created or rotated it, which is not cached (`Cache-Control: no-store`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import User
from tandem.tracking import forms_service, links, selectors, services
from tandem.tracking.forms import (
    FormFieldFormSet,
    SourceForm,
    TrackedLinkForm,
    WebsiteFormForm,
    form_field_rows,
)
from tandem.tracking.models import Form, Source, TrackedLink

LINKS_SHOWN = 200


def tracking_manager(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not can(user, "manage_tracking"):
        raise PermissionDenied
    return user


@login_required
@require_GET
def hub(request: HttpRequest) -> HttpResponse:
    """Tracking: the sections, each with how many it holds."""
    user = tracking_manager(request)
    return render(
        request,
        "tracking/setup_hub.html",
        {
            "sources": Source.objects.filter(revoked_at__isnull=True).count(),
            "forms": Form.objects.count(),
            "links": TrackedLink.objects.filter(disabled_at__isnull=True).count(),
            "may_edit_rules": can(user, "manage_settings"),
        },
    )


# --- sources ----------------------------------------------------------------------------------


def _sources_page(
    request: HttpRequest,
    *,
    form: SourceForm | None = None,
    new_key: tuple[Source, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    sources = list(Source.objects.all())
    counts = selectors.source_event_counts(s.name for s in sources)
    rows = [(s, counts.get(s.name, selectors.SourceCounts())) for s in sources]
    response = render(
        request,
        "tracking/sources.html",
        {"rows": rows, "form": form or SourceForm(), "new_key": new_key},
        status=status,
    )
    if new_key is not None:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def sources(request: HttpRequest) -> HttpResponse:
    user = tracking_manager(request)
    if request.method == "GET":
        return _sources_page(request)
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            created = services.source_create(
                actor=Actor(user=user),
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            return _sources_page(request, new_key=created)
    return _sources_page(request, form=form, status=400)


@login_required
@require_POST
def source_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    user = tracking_manager(request)
    source = get_object_or_404(Source, pk=pk)
    try:
        rotated = services.source_rotate(actor=Actor(user=user), source=source)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("tracking:sources")
    return _sources_page(request, new_key=rotated)


@login_required
@require_POST
def source_disable(request: HttpRequest, pk: int) -> HttpResponse:
    user = tracking_manager(request)
    source = get_object_or_404(Source, pk=pk)
    services.source_revoke(actor=Actor(user=user), source=source)
    messages.success(
        request, _("%(name)s is disabled: its write key is refused.") % {"name": source.name}
    )
    return redirect("tracking:sources")


# --- website forms ----------------------------------------------------------------------------


@login_required
@require_GET
def website_forms(request: HttpRequest) -> HttpResponse:
    tracking_manager(request)
    forms_ = list(Form.objects.select_related("source"))
    counts = selectors.form_submission_counts(f.key for f in forms_)
    return render(
        request,
        "tracking/forms.html",
        {"rows": [(f, counts.get(f.key, 0)) for f in forms_]},
    )


def _form_values(form: WebsiteFormForm, fields: Any) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["fields"] = form_field_rows(fields)
    return data


def _website_form_initial(target: Form) -> dict[str, Any]:
    return {
        "name": target.name,
        "source": target.source_id,
        "consent_purpose": target.consent_purpose,
        "consent_wording": target.consent_wording,
        "consent_version": target.consent_version,
        "double_opt_in": target.double_opt_in,
        "campaign": target.campaign,
        "success_message": target.success_message,
        "redirect_url": target.redirect_url,
    }


def _show_field_errors(fields: Any, exc: InvalidInput) -> InvalidInput:
    """Put the service's `fields.<n>` errors on the row they name; the others are returned."""
    kept = [f for f in fields.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
    rest: dict[str, list[str]] = {}
    for key, errors in exc.errors.items():
        number = key.removeprefix("fields.")
        if key.startswith("fields.") and number.isdigit() and 1 <= int(number) <= len(kept):
            for error in errors:
                kept[int(number) - 1].add_error(None, error)
        else:
            rest[key] = errors
    return InvalidInput(rest)


def _website_form_editor(request: HttpRequest, target: Form | None) -> HttpResponse:
    user = tracking_manager(request)
    if request.method == "POST":
        form = WebsiteFormForm(request.POST)
        fields = FormFieldFormSet(request.POST, prefix="fields")
        if form.is_valid() and fields.is_valid():
            try:
                if target is None:
                    values = _form_values(form, fields)
                    saved = forms_service.form_create(
                        actor=Actor(user=user), name=values.pop("name"), **values
                    )
                else:
                    saved = forms_service.form_update(
                        actor=Actor(user=user), form=target, **_form_values(form, fields)
                    )
            except InvalidInput as exc:
                apply_invalid_input(form, _show_field_errors(fields, exc), {})
            else:
                messages.success(request, _("Form saved."))
                return redirect("tracking:website_form_edit", pk=saved.pk)
        status = 400
    else:
        initial = _website_form_initial(target) if target else {}
        form = WebsiteFormForm(initial=initial)
        rows = (target.fields or []) if target else []
        fields = FormFieldFormSet(initial=rows, prefix="fields")
        status = 200
    context: dict[str, Any] = {"form": form, "field_rows": fields, "target": target}
    if target is not None:
        context.update(
            submissions=selectors.form_submission_counts([target.key]).get(target.key, 0),
            embed_url=request.build_absolute_uri(f"/f/{target.key}/embed"),
            definition_url=request.build_absolute_uri(f"/f/{target.key}.json"),
            submit_url=request.build_absolute_uri(f"/f/{target.key}/submit"),
            snippet_url=request.build_absolute_uri("/static/tracking/tandem.js"),
        )
    return render(request, "tracking/form_edit.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def website_form_create(request: HttpRequest) -> HttpResponse:
    return _website_form_editor(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def website_form_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tracking_manager(request)
    return _website_form_editor(request, get_object_or_404(Form, pk=pk))


# --- tracked links ----------------------------------------------------------------------------


def _links_page(
    request: HttpRequest, *, form: TrackedLinkForm | None = None, status: int = 200
) -> HttpResponse:
    shown = list(TrackedLink.objects.select_related("created_by", "sharer")[:LINKS_SHOWN])
    counts = selectors.link_click_counts(link.token for link in shown)
    rows = [
        (
            link,
            request.build_absolute_uri(links.link_path(link)),
            links.link_target(link),
            counts.get(link.token, selectors.ClickCounts()),
        )
        for link in shown
    ]
    return render(
        request,
        "tracking/links.html",
        {"rows": rows, "form": form or TrackedLinkForm(), "limit": LINKS_SHOWN},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def tracked_links(request: HttpRequest) -> HttpResponse:
    user = tracking_manager(request)
    if request.method == "GET":
        return _links_page(request)
    form = TrackedLinkForm(request.POST)
    if form.is_valid():
        try:
            link = links.link_create(actor=Actor(user=user), **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(
                request,
                _("Short link ready: %(url)s")
                % {"url": request.build_absolute_uri(links.link_path(link))},
            )
            return redirect("tracking:links")
    return _links_page(request, form=form, status=400)
