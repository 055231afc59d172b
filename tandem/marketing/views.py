"""Marketing pages: segments (with a live count while editing), email templates (preview, test
send) and sends. Thin: parse input, call a service, render. Reads go through `scoped`, so a rep
gets a 404 for every page here (fails closed)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.tasks import enqueue_on_commit
from tandem.crm.models import Contact
from tandem.marketing import tasks
from tandem.marketing.email import sending
from tandem.marketing.email.forms import SendForm, TemplateForm
from tandem.marketing.models import EmailSend, EmailTemplate, Segment, SubscriptionType
from tandem.marketing.scopes import marketer
from tandem.marketing.segments import catalogue as segment_catalogue
from tandem.marketing.segments import pages as segment_pages
from tandem.marketing.segments import services as seg
from tandem.marketing.segments.forms import SegmentCountForm, SegmentForm, parse_definition
from tandem.marketing.validation import form_errors

EXAMPLE = {
    "type": "and",
    "children": [
        {
            "type": "touchpoint",
            "kind": "page_view",
            "properties": [{"key": "path", "value": "/pricing"}],
            "at_least": 2,
            "within_days": 30,
        },
        {"type": "subscription", "subscription": "newsletter"},
    ],
}


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    marketer(request)
    segments = scoped(request.user, Segment).order_by("name", "id")[:500]
    return render(request, "marketing/segment_list.html", {"segments": segments})


@login_required
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    marketer(request)
    actor = Actor.of(request)
    segment = get_scoped(request.user, Segment, pk, "change") if pk else None
    errors: dict[str, list[str]] = {}
    data = {
        "name": segment.name if segment else "",
        "kind": segment.kind if segment else "dynamic",
        "definition": json.dumps(segment.definition if segment else EXAMPLE, indent=2),
    }
    if request.method == "POST":
        form = SegmentForm(request.POST)
        data = {k: str(form[k].value() or "") for k in ("name", "kind", "definition")}
        try:
            if not form.is_valid():
                raise InvalidInput(form_errors(form))
            data["kind"] = form.cleaned_data["kind"]
            definition = form.cleaned_data["definition"]
            if segment is None:
                segment = seg.segment_create(
                    actor=actor, name=data["name"], kind=data["kind"], definition=definition
                )
            else:
                seg.segment_update(
                    actor=actor, segment=segment, name=data["name"], definition=definition
                )
            enqueue_on_commit(tasks.segment_refresh, segment.pk)
            messages.success(request, _("Segment saved."))
            return redirect("marketing:segment_detail", pk=segment.pk)
        except InvalidInput as exc:
            errors = exc.errors
    node_errors: list[dict[str, Any]] = []
    if errors and data["kind"] != "static":
        with contextlib.suppress(
            forms.ValidationError
        ):  # the builder shows these on their conditions
            node_errors = segment_catalogue.node_errors(
                parse_definition(data["definition"]), segment_id=segment.pk if segment else None
            )
    return render(
        request,
        "marketing/segment_edit.html",
        {
            "segment": segment,
            "data": data,
            "errors": errors,
            "catalogue": segment_catalogue.catalogue(
                request.user, exclude_segment=segment.pk if segment else None
            ),
            "node_errors": node_errors,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """htmx: the live count of a definition being edited. With format=json (the visual builder):
    {"count", "errors", "nodes": the messages placed on their conditions}, status 200 either way."""
    marketer(request)
    form = SegmentCountForm(request.POST)
    valid = form.is_valid()
    as_json = form.cleaned_data.get("format") == "json" or form["format"].value() == "json"
    segment_id = form.cleaned_data.get("segment")
    parsed: list[Any] = []  # the definition once it is JSON (errors are placed on it)
    try:
        if not valid:
            raise InvalidInput(form_errors(form))
        definition = form.cleaned_data["definition"]
        parsed.append(definition)
        count = seg.definition_count(
            user=request.user, definition=definition, segment_id=segment_id
        )
        if as_json:
            text = ngettext("%(n)s contact matches", "%(n)s contacts match", count) % {"n": count}
            return JsonResponse({"count": count, "text": text, "errors": [], "nodes": []})
        return render(request, "marketing/_count.html", {"count": count})
    except InvalidInput as exc:
        if as_json:
            nodes = (
                segment_catalogue.node_errors(parsed[0], segment_id=segment_id) if parsed else []
            )
            texts = [str(m) for errors in exc.errors.values() for m in errors]
            return JsonResponse({"count": None, "text": "", "errors": texts, "nodes": nodes})
        return render(request, "marketing/_count.html", {"errors": exc.errors})


@login_required
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    marketer(request)
    segment = get_scoped(request.user, Segment, pk)
    members = seg.segment_members_for(request.user, segment).select_related("account")[:100]
    events = segment.events.order_by("-id")[:20]
    return render(
        request,
        "marketing/segment_detail.html",
        {
            "segment": segment,
            "members": members,
            "events": events,
            **segment_pages.detail_extras(request.user, segment),  # type: ignore[arg-type]
        },
    )


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
