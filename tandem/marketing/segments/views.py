"""Segment pages: the list, the editor (with a live count while editing), the segment's page,
its static list members (add by ids/emails or from the contact list's filter, remove selected),
its reactions (webhooks; "enrol in a sequence" is made as an automation flow) and the export
of its members.

Thin: a form parses the input, `segments.services` / `members` / `reactions` act, the page
renders or redirects. Reads go through `scoped`.

Invariants:
- only people who `can(user, "use_marketing")` reach them (`scopes.marketer`); anyone else gets
  the same 404 as for a segment they may not see; every contact they touch is one they may see;
- the export's rows are the members the segment page lists (`segment_members_for`: the segment's
  rule within the contacts the user may see), every one of them rather than the page's first
  100, newest first like the page.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tandem.core import exports
from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.tasks import enqueue_on_commit
from tandem.crm import selectors as crm_selectors
from tandem.crm.models import ConsentState, Contact, LifecycleStage
from tandem.marketing.models import (
    ReactionDelivery,
    Segment,
    SegmentReaction,
)
from tandem.marketing.scopes import marketer
from tandem.marketing.segments import catalogue as segment_catalogue
from tandem.marketing.segments import members, reactions, tasks
from tandem.marketing.segments import services as seg
from tandem.marketing.segments.forms import (
    AddFilteredForm,
    MembersForm,
    ReactionForm,
    SegmentCountForm,
    SegmentForm,
    parse_definition,
)
from tandem.marketing.validation import form_errors
from tandem.sales.models import Sequence

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
            **detail_extras(request.user, segment),  # type: ignore[arg-type]
        },
    )


FILTER_KEYS = ("q", "owner", "lifecycle_stage", "industry", "consent", "tag")


def detail_extras(user: User, segment: Segment) -> dict[str, Any]:
    """What the segment page's member and reaction sections show."""
    return {
        "reactions": list(
            scoped(user, SegmentReaction)
            .filter(segment=segment)
            .select_related("sequence")
            .order_by("pk")
        ),
        "deliveries": list(
            scoped(user, ReactionDelivery)
            .filter(reaction__segment=segment)
            .select_related("event", "reaction")
            .order_by("-pk")[:20]
        ),
        "sequences": list(scoped(user, Sequence).filter(active=True).order_by("name", "pk")[:200]),
        "max_ids": members.MAX_IDS,
    }


def _changed(request: HttpRequest, change: members.MemberChange, added: bool) -> None:
    if added:
        text = ngettext("%(n)d contact added", "%(n)d contacts added", change.changed)
    else:
        text = ngettext("%(n)d contact removed", "%(n)d contacts removed", change.changed)
    text = text % {"n": change.changed}
    if change.unchanged:
        text += " · " + (
            _("%(n)d already on the list") if added else _("%(n)d were not on the list")
        ) % {"n": change.unchanged}
    messages.success(request, text)


@login_required
@require_POST
def members_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = MembersForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        ids: list[Any] = members.ids_from_text(user, form.cleaned_data["contacts"])
        ids += form.cleaned_data["contact_ids"]
        change = members.members_add(actor=Actor.of(request), segment=segment, contact_ids=ids)
        _changed(request, change, added=True)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)


@login_required
@require_POST
def members_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = MembersForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        change = members.members_remove(
            actor=Actor.of(request), segment=segment, contact_ids=form.cleaned_data["contact_ids"]
        )
        _changed(request, change, added=False)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)


def _list_query(cleaned: dict[str, Any]) -> crm_selectors.ListQuery:
    return crm_selectors.ListQuery(
        q=cleaned.get("q") or "",
        owner_id=cleaned.get("owner"),
        lifecycle_stage=cleaned.get("lifecycle_stage") or "",
        industry=cleaned.get("industry") or "",
        consent=cleaned.get("consent") or "",
        tag=cleaned.get("tag") or "",
    )


@login_required
def add_filtered(request: HttpRequest) -> HttpResponse:
    """From the contact list: add the contacts its current filter shows (or the ids ticked there)
    to a static list. GET shows how many and asks which list; POST adds them."""
    user = marketer(request)
    params = request.POST if request.method == "POST" else request.GET
    form = AddFilteredForm(params)
    valid = form.is_valid()
    cleaned = form.cleaned_data
    picked = [str(pk) for pk in cleaned.get("contact_ids") or []]
    contacts = crm_selectors.contacts_filtered(user, _list_query(cleaned))
    if picked:
        contacts = scoped(user, Contact).filter(pk__in=cleaned["contact_ids"])
    count = contacts.count()
    lists = list(members.static_lists(user))
    errors: dict[str, list[str]] = {} if valid else form_errors(form)
    if request.method == "POST" and valid:
        try:
            if cleaned.get("segment") is None:
                raise InvalidInput({"segment": [_("Choose a static list.")]})
            segment = get_scoped(user, Segment, cleaned["segment"], "change")
            if count > members.MAX_IDS:
                raise InvalidInput(
                    {
                        "contact_ids": [
                            _("%(count)s contacts match: at most %(n)s at a time.")
                            % {"count": f"{count:,}", "n": f"{members.MAX_IDS:,}"}
                        ]
                    }
                )
            ids = list(contacts.values_list("pk", flat=True)[: members.MAX_IDS])
            change = members.members_add(actor=Actor.of(request), segment=segment, contact_ids=ids)
            _changed(request, change, added=True)
            return redirect("marketing:segment_detail", pk=segment.pk)
        except InvalidInput as exc:
            errors = exc.errors
    filters = {k: cleaned[k] for k in FILTER_KEYS if cleaned.get(k)}
    return render(
        request,
        "marketing/segments/add_contacts.html",
        {
            "count": count,
            "lists": lists,
            "filters": filters,
            "picked": picked,
            "errors": errors,
            "max_ids": members.MAX_IDS,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def reaction_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = ReactionForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        kind = form.cleaned_data["kind"]
        if kind == SegmentReaction.Kind.SEQUENCE:  # one engine: this is an automation flow
            if form.cleaned_data["sequence"] is None:
                raise InvalidInput({"sequence": [_("Choose a sequence.")]})
            sequence = get_scoped(user, Sequence, form.cleaned_data["sequence"])
            flow = reactions.sequence_flow_create(
                actor=Actor.of(request), segment=segment, sequence=sequence
            )
            messages.success(
                request,
                _("Added as the automation flow “%(name)s”: it enrols who enters from now on.")
                % {"name": flow.name},
            )
            return redirect("automation:flow", pk=flow.pk)
        created = reactions.reaction_create(
            actor=Actor.of(request),
            segment=segment,
            kind=kind,
            on_entered=form.cleaned_data["on_entered"],
            on_left=form.cleaned_data["on_left"],
            url=form.cleaned_data["url"],
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("marketing:segment_detail", pk=segment.pk)
    if created.secret:
        return _secret_page(request, segment, created.reaction, created.secret)
    messages.success(request, _("Reaction added."))
    return redirect("marketing:segment_detail", pk=segment.pk)


def _secret_page(
    request: HttpRequest, segment: Segment, reaction: SegmentReaction, secret: str
) -> HttpResponse:
    response = render(
        request,
        "marketing/segments/webhook_secret.html",
        {"segment": segment, "reaction": reaction, "secret": secret},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def reaction_action(request: HttpRequest, pk: int, reaction_id: int, action: str) -> HttpResponse:
    """pause, resume, rotate (a new webhook secret, shown once) or delete."""
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    reaction = get_scoped(user, SegmentReaction, reaction_id, "change")
    if reaction.segment_id != segment.pk:
        raise Http404
    actor = Actor(user=user)
    try:
        if action in ("pause", "resume"):
            reactions.reaction_set_active(actor=actor, reaction=reaction, active=action == "resume")
        elif action == "rotate":
            secret = reactions.reaction_rotate_secret(actor=actor, reaction=reaction)
            return _secret_page(request, segment, reaction, secret)
        elif action == "delete":
            reactions.reaction_delete(actor=actor, reaction=reaction)
        else:
            raise Http404
        messages.success(request, _("Reaction updated."))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)


CHUNK = 2000


def member_columns() -> list[exports.Column[Contact]]:
    # labels looked up once per export: get_FOO_display costs a lot per row on long lists
    stages = {str(k): str(v) for k, v in LifecycleStage.choices}
    consents = {str(k): str(v) for k, v in ConsentState.choices}
    return [
        exports.Column(_("Record ID"), lambda c: c.pk),
        exports.Column(_("First Name"), lambda c: c.first_name),
        exports.Column(_("Last Name"), lambda c: c.last_name),
        exports.Column(_("Email"), lambda c: c.email),
        exports.Column(_("Phone Number"), lambda c: c.phone),
        exports.Column(_("Job Title"), lambda c: c.title),
        exports.Column(_("Company Name"), lambda c: c.account.name if c.account else ""),
        exports.Column(_("Lifecycle Stage"), lambda c: stages.get(c.lifecycle_stage)),
        exports.Column(_("Marketing consent"), lambda c: consents.get(c.consent)),
        exports.Column(
            _("Contact Owner"), lambda c: (c.owner.email or c.owner.username) if c.owner else ""
        ),
        exports.Column(_("Create Date"), lambda c: c.created_at),
    ]


@login_required
@require_GET
def segment_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk)
    try:
        fmt = exports.page_format(user, request.GET.get("format"))
        members = (
            seg.segment_members_for(user, segment)
            .select_related("account", "owner")
            .order_by("-created_at", "-id")
        )
        return exports.respond(
            actor=Actor(user=user),
            fmt=fmt,
            filename=f"segment-{segment.pk}",
            sheet=segment.name,
            columns=member_columns(),
            records=members.iterator(chunk_size=CHUNK),
            model=Contact,
            source=segment,
        )
    except InvalidInput as exc:
        return exports.refused(exc)
