"""The page of one email send: its settings, its progress (polled with htmx every 2 s while it
is delivering), what came back afterwards, and Cancel / Send now.

Thin: parse the request, call `progress` / `sending` / `tasks`, render. Only marketers, the head
and admins get here (`views._marketer`); anyone else gets a 404, as for every marketing page.

Invariants:
- the delivery figures are counted once the send is no longer delivering (a poll costs the
  progress counts only);
- the fragment polls only while the send is delivering (sending or testing with something in
  flight), or right after "Send now" while the send is still a draft waiting for its worker
  (`?starting=1`, at most `START_POLLS` polls); then it renders without `hx-trigger`, which
  stops htmx;
- Cancel and Send now are POST only (CSRF-checked by the middleware) and answer with a
  redirect to the page, whatever the outcome (an error is a message, never a 500).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tandem.core.access import get_scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.marketing import tasks
from tandem.marketing.email import delivery, progress, sending
from tandem.marketing.models import EmailSend
from tandem.marketing.scopes import marketer

START_POLLS = 60  # 2 minutes of "starting…" before the page stops asking


def _polls(request: HttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("starting", "0")))
    except ValueError:
        return 0


def _progress_context(send: EmailSend, starting: int = 0) -> dict[str, Any]:
    now = progress.send_progress(send.pk)
    waiting_to_start = now.status == EmailSend.Status.DRAFT and 0 < starting <= START_POLLS
    polling = now.delivering or waiting_to_start
    return {
        "send": send,
        "progress": now,
        "remaining": now.pending + now.claimed,
        "reasons": delivery.reasons(send.pk),
        # what came back, once nothing is being delivered (not recounted on every poll)
        "delivery": delivery.delivery(send) if now.started_at and not polling else None,
        "polling": polling,
        "starting": starting + 1 if waiting_to_start else 0,
        "cancellable": now.status in progress.CANCELLABLE,
        "waiting_for_winner": now.status == EmailSend.Status.TESTING and not now.delivering,
    }


@login_required
@require_GET
def send_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    send = get_scoped(user, EmailSend, pk)
    send = EmailSend.objects.select_related(
        "template", "template_b", "segment", "subscription_type", "created_by"
    ).get(pk=send.pk)
    context = _progress_context(send, _polls(request))
    context["ab_test"] = sending.is_ab_test(send)
    return render(request, "marketing/send_detail.html", context)


@login_required
@require_GET
def send_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the progress block alone."""
    user = marketer(request)
    send = get_scoped(user, EmailSend, pk)
    return render(
        request, "marketing/_send_progress.html", _progress_context(send, _polls(request))
    )


@login_required
@require_POST
def send_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    send = get_scoped(user, EmailSend, pk, "change")
    try:
        progress.send_cancel(actor=Actor(user=user), send_id=send.pk)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.info(
            request, _("The send is cancelled: nothing more is mailed after the current chunk.")
        )
    return redirect("marketing:send_detail", pk=send.pk)


@login_required
@require_POST
def send_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Send now: a draft is handed to the send workers (as the send form's "Save and send")."""
    user = marketer(request)
    send = get_scoped(user, EmailSend, pk, "change")
    if send.status != EmailSend.Status.DRAFT:
        messages.error(request, _("Only a draft can be started; this send is: %(status)s.")
                       % {"status": send.get_status_display()})  # fmt: skip
        return redirect("marketing:send_detail", pk=send.pk)
    tasks.send_enqueue(send.pk)
    messages.success(request, _("The send has started."))
    return redirect(reverse("marketing:send_detail", kwargs={"pk": send.pk}) + "?starting=1")
