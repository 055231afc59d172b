"""Email pages: templates (preview, test copy), the send form (save, start, preview and test
copies of variants A and B), and the page of one send: its settings, its progress (polled with
htmx every 2 s while it is delivering), what came back afterwards, and Cancel / Send now /
Resume (an interrupted send: why it stopped, and sending the rows never claimed).

Thin: a form parses the input, `sending` / `progress` / `tasks` act, the page renders. Only
people who `can(user, "use_marketing")` get here (`scopes.marketer`); anyone else gets a 404,
as for every marketing page.

Invariants:
- the delivery figures are counted once the send is no longer delivering (a poll costs the
  progress counts only);
- the fragment polls only while the send is delivering (sending or testing with something in
  flight), or right after "Send now" while the send is still a draft waiting for its worker
  (`?starting=1`, at most `START_POLLS` polls); then it renders without `hx-trigger`, which
  stops htmx;
- Cancel, Send now and Resume are POST only (CSRF-checked by the middleware) and answer with a
  redirect to the page, whatever the outcome (an error is a message, never a 500).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.content_policy import email_preview_policy
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Contact
from tandem.marketing.email import delivery, progress, recovery, sending, tasks
from tandem.marketing.email.forms import SendForm, TemplateForm
from tandem.marketing.models import EmailSend, EmailTemplate, Segment, SubscriptionType
from tandem.marketing.scopes import marketer
from tandem.marketing.validation import form_errors

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
        "resumable": now.status == EmailSend.Status.INTERRUPTED,
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
def send_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Resume an interrupted send: its workers send the rows never claimed."""
    user = marketer(request)
    send = get_scoped(user, EmailSend, pk, "change")
    try:
        recovery.send_resume(actor=Actor(user=user), send_id=send.pk)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("marketing:send_detail", pk=send.pk)
    messages.success(request, _("The send goes on: only recipients never attempted are sent to."))
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


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    marketer(request)
    return render(
        request,
        "marketing/template_list.html",
        {
            "templates": scoped(request.user, EmailTemplate)[:500],
            "sends": scoped(request.user, EmailSend).select_related(
                "segment", "template", "template_b"
            )[:100],
        },
    )


@email_preview_policy
@login_required
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    marketer(request)
    actor = Actor.of(request)
    template = get_scoped(request.user, EmailTemplate, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    preview = None
    data = {
        "name": template.name if template else "",
        "subject": template.subject if template else "Hello {{ contact.first_name }}",
        "html": template.html
        if template
        else '<p>Hello {{ contact.first_name|default:"there" }},</p>',
    }
    if request.method == "POST":
        form = TemplateForm(request.POST)
        data = {k: str(form[k].value() or "") for k in ("name", "subject", "html")}
        try:
            if not form.is_valid():
                raise InvalidInput(form_errors(form))
            test_to = form.cleaned_data.pop("test_to")
            template = sending.template_save(actor=actor, template=template, **form.cleaned_data)
            if test_to:
                sending.test_send(
                    template=template,
                    contact=_self_as_contact(actor.user),
                    to=test_to,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                )
                messages.success(request, _("Test email sent."))
            else:
                messages.success(request, _("Template saved."))
            return redirect("marketing:template_edit", pk=template.pk)
        except InvalidInput as exc:
            errors = exc.errors
        except OSError:
            errors = {"test_to": [_("The mail server could not be reached.")]}
    if template is not None and not errors:
        sample = scoped(request.user, Contact).exclude(first_name="").first()
        preview = sending.preview(template=template, contact=sample)
    return render(
        request,
        "marketing/template_edit.html",
        {"template": template, "data": data, "errors": errors, "preview": preview},
        status=400 if errors else 200,
    )


def _self_as_contact(user: User | None) -> Contact:
    """The sending user as the sample contact of a template's test copy (not saved): the copy
    they receive shows their own name and address where a contact's would be."""
    if user is None:
        return Contact(custom={})
    first = user.first_name or ("" if user.last_name else user.get_username())
    return Contact(first_name=first, last_name=user.last_name, email=user.email, custom={})


SEND_FIELDS = ("name", "template", "template_b", "segment", "subscription_type", "from_name",
               "from_email", "subject_b", "ab_test_percent", "ab_winner_rule",
               "ab_wait_minutes", "test_to")  # fmt: skip


@email_preview_policy
@login_required
def send_new(request: HttpRequest) -> HttpResponse:
    """The send form. Besides saving (and starting) a send, it previews variants A and B with a
    sample contact, and sends a test copy of each variant, without saving anything."""
    marketer(request)
    actor = Actor.of(request)
    errors: dict[str, list[str]] = {}
    previews: list[tuple[str, Any]] = []
    form = SendForm(request.POST)
    data = {k: str(form[k].value() or "") for k in SEND_FIELDS}
    if request.method == "GET":
        data.update(from_email=settings.DEFAULT_FROM_EMAIL, ab_test_percent="0",
                    ab_winner_rule="opens", ab_wait_minutes="240")  # fmt: skip
    else:
        try:
            if not form.is_valid():
                raise InvalidInput(form_errors(form))
            cleaned = form.cleaned_data
            template = get_scoped(request.user, EmailTemplate, cleaned["template"])
            template_b = (
                get_scoped(request.user, EmailTemplate, cleaned["template_b"])
                if cleaned["template_b"] is not None
                else None
            )
            subject_b = cleaned["subject_b"]
            ab_test_percent = cleaned["ab_test_percent"] or 0
            sending.check_ab(
                template=template,
                ab_test_percent=ab_test_percent,
                subject_b=subject_b,
                template_b=template_b,
            )
            if cleaned["preview"] or cleaned["test"]:
                sample = scoped(request.user, Contact).exclude(first_name="").first()
                variants = ["a", "b"] if (subject_b or template_b) else ["a"]
                if cleaned["test"]:
                    if not cleaned["test_to"]:
                        raise InvalidInput({"test_to": [_("Enter a valid email address.")]})
                    for variant in variants:
                        sending.test_send(
                            template=template,
                            contact=sample,
                            to=cleaned["test_to"],
                            from_email=settings.DEFAULT_FROM_EMAIL,
                            variant=variant,
                            subject_b=subject_b,
                            template_b=template_b,
                        )
                    messages.success(request, _("Test emails sent."))
                previews = [
                    (
                        v.upper(),
                        sending.preview(
                            template=template,
                            contact=sample,
                            variant=v,
                            subject_b=subject_b,
                            template_b=template_b,
                        ),
                    )
                    for v in variants
                ]
            else:
                missing = {
                    name: [message]
                    for name, message in (
                        ("segment", _("Choose a segment.")),
                        ("subscription_type", _("Choose a subscription type.")),
                    )
                    if cleaned[name] is None
                }
                if missing:
                    raise InvalidInput(missing)
                send = sending.send_create(
                    actor=actor,
                    name=cleaned["name"],
                    template=template,
                    segment=get_scoped(request.user, Segment, cleaned["segment"]),
                    subscription_type=get_scoped(
                        request.user, SubscriptionType, cleaned["subscription_type"]
                    ),
                    from_email=cleaned["from_email"],
                    from_name=cleaned["from_name"],
                    ab_test_percent=ab_test_percent,
                    ab_winner_rule=cleaned["ab_winner_rule"] or EmailSend.WinnerRule.OPENS,
                    ab_wait_minutes=cleaned["ab_wait_minutes"] or 240,
                    subject_b=subject_b,
                    template_b=template_b,
                )
                if cleaned["start"]:
                    tasks.send_enqueue(send.pk)
                    messages.success(request, _("The send has started."))
                    return redirect(
                        reverse("marketing:send_detail", kwargs={"pk": send.pk}) + "?starting=1"
                    )
                return redirect("marketing:send_detail", pk=send.pk)
        except InvalidInput as exc:
            errors = exc.errors
        except OSError:
            errors = {"test_to": [_("The mail server could not be reached.")]}
    return render(
        request,
        "marketing/send_new.html",
        {
            "errors": errors,
            "data": data,
            "previews": previews,
            "templates": scoped(request.user, EmailTemplate),
            "segments": scoped(request.user, Segment),
            "types": scoped(request.user, SubscriptionType).filter(active=True),
            "rules": EmailSend.WinnerRule.choices,
        },
        status=400 if errors else 200,
    )
