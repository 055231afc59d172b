"""A person's privacy rights on their record's page (head and admin): the full export of their
data as JSON, and the erasure behind a confirmation form. Thin: `crm.privacy` does the work."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tandem.core.access import can, get_scoped, request_user
from tandem.core.audit import Actor
from tandem.crm import services
from tandem.crm.forms import ErasureForm
from tandem.crm.models import Contact


def _contact(request: HttpRequest, pk: int) -> Contact:
    user = request_user(request)
    contact = get_scoped(user, Contact, pk)
    if not can(user, "handle_privacy_requests"):
        raise PermissionDenied
    return contact


@login_required
@require_GET
def contact_personal_data(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything held about the person, as a JSON file (a subject access request)."""
    contact = _contact(request, pk)
    data = services.contact_export(actor=Actor.of(request), contact=contact)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-data.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def contact_privacy(request: HttpRequest, pk: int) -> HttpResponse:
    """The export link and the erasure form; POST erases after the number is typed again."""
    contact = _contact(request, pk)
    form = ErasureForm(request.POST or None, contact_id=contact.pk)
    if request.method == "POST" and contact.erased_at is None:
        if form.is_valid():
            services.contact_erase(actor=Actor.of(request), contact=contact)
            messages.success(request, _("The person's data was erased."))
            return redirect("crm:contact_detail", pk=contact.pk)
        status = 400
    else:
        status = 200
    return render(
        request, "crm/contact_privacy.html", {"contact": contact, "form": form}, status=status
    )
