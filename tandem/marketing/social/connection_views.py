"""Pages of the social network connections (settings hub: "Social network connections"):
the list with each network's state, a network's connection form (connect, replace the
credentials), test, disconnect, and pulling statistics now. Gated by `manage_social`: without it
the pages do not exist (404). Thin: parse, call `social.connections`, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.tasks import enqueue_on_commit
from tandem.marketing.social import connections, tasks
from tandem.marketing.social.forms import ConnectionForm
from tandem.marketing.social.models import Network, SocialConnection
from tandem.marketing.validation import form_errors


def _manager(request: HttpRequest) -> User:
    user = request_user(request)
    if not can(user, "manage_social"):
        raise Http404
    return user


def _network(network: str) -> str:
    if network not in Network.values:
        raise Http404
    return network


@login_required
def connection_list(request: HttpRequest) -> HttpResponse:
    _manager(request)
    return render(
        request,
        "marketing/social/connections.html",
        {"rows": connections.network_states()},
    )


@login_required
def connection_edit(request: HttpRequest, network: str) -> HttpResponse:
    user = _manager(request)
    network = _network(network)
    current = scoped(user, SocialConnection).filter(network=network).first()
    errors: dict[str, list[str]] = {}
    data = {
        "account_id": current.account_id if current else "",
        "display_name": current.display_name if current else "",
        "application_key": current.application_key if current else "",
    }
    if request.method == "POST":
        form = ConnectionForm(request.POST)
        data = {k: str(form[k].value() or "") for k in data}
        if form.is_valid():
            try:
                connections.connection_save(
                    actor=Actor.of(request), network=network, **form.cleaned_data
                )
                messages.success(request, _("Connection saved."))
                return redirect("marketing:social_connections")
            except InvalidInput as exc:
                errors = exc.errors
        else:
            errors = form_errors(form)
    return render(
        request,
        "marketing/social/connection_edit.html",
        {
            "network": network,
            "label": Network(network).label,
            "connection": current,
            "spec": connections.FIELDS[network],
            "data": data,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def connection_test(request: HttpRequest, network: str) -> HttpResponse:
    user = _manager(request)
    found = scoped(user, SocialConnection, "change").filter(network=_network(network)).first()
    if found is None:
        messages.error(request, _("This network is not connected."))
        return redirect("marketing:social_connections")
    result = connections.connection_test(connection=found)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("marketing:social_connections")


@login_required
@require_POST
def connection_disconnect(request: HttpRequest, network: str) -> HttpResponse:
    user = _manager(request)
    found = scoped(user, SocialConnection, "delete").filter(network=_network(network)).first()
    if found is None:
        messages.error(request, _("This network is not connected."))
        return redirect("marketing:social_connections")
    connections.connection_disconnect(actor=Actor.of(request), connection=found)
    messages.success(request, _("Disconnected; its credentials are deleted."))
    return redirect("marketing:social_connections")


@login_required
@require_POST
def stats_pull_now(request: HttpRequest) -> HttpResponse:
    _manager(request)
    enqueue_on_commit(tasks.social_stats_pull)
    messages.success(request, _("Statistics are being pulled from the networks."))
    return redirect("marketing:social_connections")
