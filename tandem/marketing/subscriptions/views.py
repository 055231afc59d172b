"""Subscription type pages under /marketing/subscriptions/ (marketers, the head, admins; others
404). Thin: parse the form, call `subscriptions.services`, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import User
from tandem.marketing.models import SubscriptionType
from tandem.marketing.scopes import marketer
from tandem.marketing.segments import services as seg
from tandem.marketing.subscriptions import services
from tandem.marketing.subscriptions.forms import SubscriptionTypeForm
from tandem.marketing.validation import form_errors

TEXT_FIELDS = ("key", "name", "description", "wording", "wording_version")


def _subscribers(user: User, key: str) -> int:
    """Visible contacts whose latest ledger row for the type is granted or confirmed."""
    return seg.definition_count(user=user, definition={"type": "subscription", "subscription": key})


@login_required
def type_list(request: HttpRequest) -> HttpResponse:
    user = marketer(request)
    types = list(scoped(user, SubscriptionType).order_by("-active", "name", "id")[:200])
    rows = [{"type": t, "subscribers": _subscribers(user, t.key)} for t in types]
    return render(request, "marketing/subscriptions/list.html", {"rows": rows})


@login_required
def type_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = marketer(request)
    subscription = get_scoped(user, SubscriptionType, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    if subscription is not None:
        data: dict[str, object] = {name: getattr(subscription, name) for name in TEXT_FIELDS}
        data.update(double_opt_in=subscription.double_opt_in, active=subscription.active)
    else:
        data = dict.fromkeys(TEXT_FIELDS, "")
        data.update(wording_version="1", double_opt_in=True, active=True)
    if request.method == "POST":
        form = SubscriptionTypeForm(request.POST)
        data = {name: form[name].value() for name in form.fields}
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if subscription is None:
                    subscription = services.type_create(actor=Actor.of(request), **data)
                else:
                    if services.in_use(subscription):
                        data["key"] = subscription.key  # shown read-only
                    subscription = services.type_update(
                        actor=Actor.of(request), subscription=subscription, **data
                    )
                messages.success(request, _("Subscription type saved."))
                return redirect("marketing:subscription_list")
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
        errors = form_errors(form)
    return render(
        request,
        "marketing/subscriptions/edit.html",
        {
            "subscription": subscription,
            "data": data,
            "errors": errors,
            "key_locked": subscription is not None and services.in_use(subscription),
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def type_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """archive, restore or delete (delete only while nothing refers to the type)."""
    user = marketer(request)
    subscription = get_scoped(user, SubscriptionType, pk, "change")
    actor = Actor(user=user)
    try:
        if action == "archive":
            services.type_archive(actor=actor, subscription=subscription, active=False)
            messages.success(request, _("Archived: it takes no new subscribers."))
        elif action == "restore":
            services.type_archive(actor=actor, subscription=subscription, active=True)
            messages.success(request, _("Restored."))
        elif action == "delete":
            services.type_delete(actor=actor, subscription=subscription)
            messages.success(request, _("Deleted."))
        else:
            raise Http404
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:subscription_list")
